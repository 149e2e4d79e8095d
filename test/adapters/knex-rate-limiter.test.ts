import assert from 'node:assert/strict';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { createKnexStorage, type KnexStorage } from 'gatehouse/adapters/knex';
import { AuthError } from 'gatehouse';
import { Throttle } from '../../src/core/throttle.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const rule = { points: 3, duration: 60, blockDuration: 60, keyPrefix: 'test_account' };

describe('storage.rateLimiterFactory()', function () {
  this.timeout(60_000);
  const opened: KnexStorage[] = [];
  const open = (...args: Parameters<typeof createKnexStorage>): KnexStorage => {
    const s = createKnexStorage(...args);
    opened.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });

  it('on SQLite is the memory store', () => {
    const limiter = open(':memory:').rateLimiterFactory()(rule);
    assert.ok(limiter instanceof RateLimiterMemory);
  });

  describe('on PostgreSQL', () => {
    let url: string;
    before(async () => {
      url = await createTestDatabase('rate_limits');
    });

    it('keeps counts in the auth_rate_limits table that two instances share', async () => {
      const a = open(pgConfig(url)).rateLimiterFactory()(rule);
      const b = open(pgConfig(url)).rateLimiterFactory()(rule);
      assert.ok(a instanceof RateLimiterPostgres);
      await a.consume('alice@example.com');
      await b.consume('alice@example.com');
      assert.equal((await a.get('alice@example.com'))?.consumedPoints, 2);
      await a.consume('alice@example.com');
      // The fourth is over the limit wherever it lands: rejected with the limiter's result, not an error.
      const over = await b.consume('alice@example.com').then(
        () => null,
        (res: unknown) => res,
      );
      assert.ok(over instanceof RateLimiterRes, String(over));
      assert.equal(over.remainingPoints, 0);
      const rows: Array<{ key: string; points: number }> = await opened[0]!.knex('auth_rate_limits').select('key', 'points');
      assert.deepEqual(
        rows.map((r) => r.key),
        ['test_account:alice@example.com'],
      );
      assert.equal(await b.delete('alice@example.com'), true);
      assert.equal(await a.get('alice@example.com'), null);
    });

    it('the sign-in throttle of two instances counts failures together: 5 split across both, then 429 on either', async () => {
      const limits = { perAccount: { points: 5, duration: 900 } };
      const first = new Throttle({ ...limits, createLimiter: open(pgConfig(url)).rateLimiterFactory() });
      const second = new Throttle({ ...limits, createLimiter: open(pgConfig(url)).rateLimiterFactory() });
      const keys = { account: 'bob@example.com' };
      for (const throttle of [first, second, first, second, first]) {
        await throttle.check(keys);
        await throttle.failed(keys);
      }
      for (const throttle of [first, second]) {
        await assert.rejects(throttle.check(keys), (err: unknown) => {
          assert.ok(err instanceof AuthError);
          assert.equal(err.code, 'too_many_attempts');
          assert.ok((err.details?.retryAfter ?? 0) > 0);
          return true;
        });
      }
      await second.reset('account', 'bob@example.com');
      await first.check(keys);
    });

    it('runs the lazy migrations before its first query', async () => {
      const fresh = await createTestDatabase('rate_limits_lazy');
      const limiter = open(pgConfig(fresh)).rateLimiterFactory()(rule);
      assert.equal((await limiter.consume('k')).consumedPoints, 1);
    });

    it('reports an unreachable database as StorageUnavailableError (503), not a raw driver error', async () => {
      const closed = new URL(url);
      closed.port = '1';
      const limiter = open(pgConfig(closed.toString()), { autoMigrate: false }).rateLimiterFactory()(rule);
      await assert.rejects(limiter.get('k'), { name: 'StorageUnavailableError' });
      await assert.rejects(limiter.consume('k'), { name: 'StorageUnavailableError' });
      await assert.rejects(limiter.delete('k'), { name: 'StorageUnavailableError' });
    });
  });
});
