import assert from 'node:assert/strict';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { AuthError } from 'gatehouse-auth';
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
      // A right answer gives its point back: it never counts towards the limit.
      assert.equal(await first.attempt(keys, async () => true), true);
      for (const throttle of [first, second, first, second, first]) assert.equal(await throttle.attempt(keys, async () => false), false);
      for (const throttle of [first, second]) {
        let evaluated = false;
        const right = async () => (evaluated = true);
        await assert.rejects(throttle.attempt(keys, right), (err: unknown) => {
          assert.ok(err instanceof AuthError);
          assert.equal(err.code, 'too_many_attempts');
          assert.ok((err.details?.retryAfter ?? 0) > 0);
          return true;
        });
        assert.equal(evaluated, false);
      }
    });

    it('reserves atomically: of 60 concurrent attempts over two instances, exactly the 5 allowed are evaluated', async () => {
      const limits = { perAccount: { points: 5, duration: 900 } };
      const instances = [0, 1].map(() => new Throttle({ ...limits, createLimiter: open(pgConfig(url, { pool: { min: 0, max: 20 } })).rateLimiterFactory() }));
      const keys = { account: 'carol@example.com' };
      let evaluated = 0;
      const wrong = async () => {
        evaluated += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
        return false;
      };
      const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => instances[i % 2]!.attempt(keys, wrong)));
      assert.equal(evaluated, 5);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as AuthError).code, 'too_many_attempts');
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
