import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createKnexStorage, type KnexStorage } from '../../adapters/knex/index.js';
import { RevocationCache } from '../../src/core/revocation-cache.js';

const MINUTE = 60_000;

/** The sweep that drops expired revocations from memory (every 10 minutes, on a poll). */
describe('revocation cache: forgetting expired entries', () => {
  let dir: string;
  let storage: KnexStorage;
  let now: number;
  let cache: RevocationCache;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-forget-'));
    storage = createKnexStorage({ filename: join(dir, 'auth.sqlite') });
    await storage.migrate();
    now = Date.UTC(2026, 0, 1);
    cache = new RevocationCache(storage, { now: () => now }, { warn() {}, error() {} }, { pollIntervalMs: 5_000, maxStalenessMs: 60_000 });
    await cache.start();
  });

  afterEach(async () => {
    await cache.stop();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const held = (kind: 'token' | 'family') => (cache as unknown as { revoked: Record<string, Map<string, number>> }).revoked[kind]!;

  it('drops every expired entry and keeps every live one, across kinds, when it sweeps', async () => {
    // Interleaved, so entries are deleted from the map while it is being walked.
    for (let i = 0; i < 200; i++) {
      await cache.revoke({ kind: 'token', key: `t-${i}`, expiresAt: now + (i % 2 === 0 ? 1 : 30) * MINUTE });
    }
    await cache.revoke({ kind: 'family', key: 'f-old', expiresAt: now + MINUTE });
    await cache.revoke({ kind: 'family', key: 'f-live', expiresAt: now + 30 * MINUTE });
    now += 11 * MINUTE;
    await cache.poll();
    expect([...held('token').keys()]).to.deep.equal(Array.from({ length: 100 }, (_, i) => `t-${2 * i + 1}`));
    expect([...held('family').keys()]).to.deep.equal(['f-live']);
    expect(cache.has('token', 't-1')).to.equal(true);
    expect(cache.has('token', 't-0')).to.equal(false);
    expect(cache.has('family', 'f-live')).to.equal(true);
  });

  it('keeps expired entries until the next sweep is due, refusing nothing by them', async () => {
    await cache.revoke({ kind: 'token', key: 'old', expiresAt: now + MINUTE });
    await cache.poll();
    now += 2 * MINUTE;
    // The first poll swept (none had expired); the next is due 10 minutes after it.
    await cache.poll();
    expect(held('token').has('old')).to.equal(true);
    expect(cache.has('token', 'old')).to.equal(false);
    now += 10 * MINUTE;
    await cache.poll();
    expect(held('token').has('old')).to.equal(false);
  });
});
