import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createKnexStorage, type KnexStorage } from '../../adapters/knex/index.js';
import { RevocationCache } from '../../src/core/revocation-cache.js';
import type { RevocationPage, StorageAdapter } from '../../src/ports.js';

/**
 * `poll()` is how a host or a test syncs on demand: what was stored before the call is
 * known once it resolves, even when a poll (one an announcement started) is already
 * reading. The storage is the real SQLite one; only the first read's answer is held back
 * until the test lets it go, so that read is known to predate the new revocation.
 */
describe('revocation cache: poll on demand', () => {
  let dir: string;
  let storage: KnexStorage;
  let cache: RevocationCache;
  let release: () => void = () => {};

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-poll-'));
    storage = createKnexStorage({ filename: join(dir, 'auth.sqlite') });
    await storage.migrate();
  });

  afterEach(async () => {
    release();
    await cache.stop();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a poll asked for while another is reading waits for a read that sees what was stored before it', async () => {
    let reads = 0;
    let firstReadDone: () => void = () => {};
    const firstRead = new Promise<void>((resolve) => (firstReadDone = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    const revocations = {
      ...storage.revocations,
      listSince: async (cursor: string): Promise<RevocationPage> => {
        const page = await storage.revocations.listSince(cursor);
        if (++reads === 1) {
          firstReadDone();
          await gate;
        }
        return page;
      },
    };
    cache = new RevocationCache({ ...storage, revocations } as StorageAdapter, { now: () => Date.now() }, { warn() {}, error() {} }, { pollIntervalMs: 3_600_000, maxStalenessMs: 7_200_000 });
    await cache.start();

    const running = cache.poll();
    await firstRead;
    // Stored by another instance after the running poll read.
    await storage.revocations.add({ kind: 'family', key: 'f-late', expiresAt: Date.now() + 60_000, createdAt: Date.now() });
    const asked = cache.poll();
    release();
    await asked;
    expect(cache.has('family', 'f-late')).to.equal(true);
    await running;
    expect(reads).to.equal(2);
  });

  it('stop waits for a read under way and queues no other, so storage can be closed right after', async () => {
    let reads = 0;
    let firstReadDone: () => void = () => {};
    const firstRead = new Promise<void>((resolve) => (firstReadDone = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    const revocations = {
      ...storage.revocations,
      listSince: async (cursor: string): Promise<RevocationPage> => {
        const page = await storage.revocations.listSince(cursor);
        reads++;
        firstReadDone();
        await gate;
        return page;
      },
    };
    cache = new RevocationCache({ ...storage, revocations } as StorageAdapter, { now: () => Date.now() }, { warn() {}, error() {} }, { pollIntervalMs: 3_600_000, maxStalenessMs: 7_200_000 });
    await cache.start();
    const running = cache.poll();
    await firstRead;
    void cache.poll();
    let stopped = false;
    const stopping = cache.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).to.equal(false);
    release();
    await stopping;
    await running;
    expect(reads).to.equal(1);
  });

  it('polls in a burst share one running read and one queued read', async () => {
    let reads = 0;
    const revocations = {
      ...storage.revocations,
      listSince: async (cursor: string): Promise<RevocationPage> => {
        reads++;
        return storage.revocations.listSince(cursor);
      },
    };
    cache = new RevocationCache({ ...storage, revocations } as StorageAdapter, { now: () => Date.now() }, { warn() {}, error() {} }, { pollIntervalMs: 3_600_000, maxStalenessMs: 7_200_000 });
    await cache.start();
    await Promise.all(Array.from({ length: 10 }, () => cache.poll()));
    expect(reads).to.equal(2);
  });
});
