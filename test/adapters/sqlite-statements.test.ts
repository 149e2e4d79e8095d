import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { StorageConflictError, type NewRefreshToken } from 'gatehouse-auth';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';

/**
 * The SQLite fast path of the knex adapter: the rotation statements run on
 * better-sqlite3 directly, and writes from concurrent callers are committed together.
 * The storage contract suite covers the behaviour; these cover what batching adds.
 */
describe('knex adapter on SQLite: direct statements and group commit', () => {
  let dir: string;
  let storage: KnexStorage;
  const userId = 'user-1';
  const now = Date.now();

  const token = (idHash: string, familyId = 'family-1'): NewRefreshToken => ({
    idHash,
    familyId,
    userId,
    orgId: null,
    expiresAt: now + 60_000,
    familyExpiresAt: now + 600_000,
    createdAt: now,
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-fast-'));
    storage = createKnexStorage({ filename: join(dir, 'auth.sqlite') });
    await storage.users.create({ id: userId, email: 'fast@example.com', username: null, firstName: null, lastName: null, passwordHash: null, createdAt: now, emailVerifiedAt: null });
  });
  afterEach(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('concurrent inserts all land, and each caller gets its own outcome: a duplicate fails alone', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `hash-${i}`);
    const outcomes = await Promise.allSettled([...ids.map((id) => storage.refreshTokens.insert(token(id))), storage.refreshTokens.insert(token('hash-3'))]);
    expect(outcomes.slice(0, 20).every((o) => o.status === 'fulfilled')).to.equal(true);
    const duplicate = outcomes[20] as PromiseRejectedResult;
    expect(duplicate.status).to.equal('rejected');
    expect(duplicate.reason).to.be.instanceOf(StorageConflictError);
    const found = await Promise.all(ids.map((id) => storage.refreshTokens.find(id)));
    expect(found.every((row) => row !== null && row.userId === userId)).to.equal(true);
  });

  it('of concurrent consumes of one token, committed together, exactly one wins', async () => {
    await storage.refreshTokens.insert(token('contested'));
    const results = await Promise.all(Array.from({ length: 10 }, () => storage.refreshTokens.consume('contested', Date.now())));
    const winners = results.filter((row) => row !== null);
    expect(winners).to.have.length(1);
    expect(winners[0]?.idHash).to.equal('contested');
    expect(winners[0]?.usedAt).to.be.a('number');
    expect((await storage.refreshTokens.find('contested'))?.usedAt).to.equal(winners[0]?.usedAt);
  });

  it('a consume and the insert of the next token, issued together, both take effect', async () => {
    await storage.refreshTokens.insert(token('first'));
    const [consumed] = await Promise.all([storage.refreshTokens.consume('first', Date.now()), storage.refreshTokens.insert(token('second'))]);
    expect(consumed?.idHash).to.equal('first');
    expect((await storage.refreshTokens.find('second'))?.usedAt).to.equal(null);
  });

  it('reads join the batch in the order asked: a read asked after a write sees it, one asked before does not', async () => {
    const [before, , after] = await Promise.all([storage.refreshTokens.find('batched'), storage.refreshTokens.insert(token('batched')), storage.refreshTokens.find('batched')]);
    expect(before).to.equal(null);
    expect(after?.idHash).to.equal('batched');
  });

  it('a read of a batch whose statements are all reads settles like any other', async () => {
    await storage.refreshTokens.insert(token('read-1'));
    const rows = await Promise.all(['read-1', 'missing', 'read-1'].map((id) => storage.refreshTokens.find(id)));
    expect(rows.map((row) => row?.idHash ?? null)).to.deep.equal(['read-1', null, 'read-1']);
  });

  it('replace: of concurrent rotations of one token one wins, and the losers leave no row behind', async () => {
    await storage.refreshTokens.insert(token('old'));
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => storage.refreshTokens.replace?.('old', Date.now(), `sealed-${i}`, token(`next-${i}`))));
    expect(results.filter((row) => row)).to.have.length(1);
    const next = await Promise.all(Array.from({ length: 5 }, (_, i) => storage.refreshTokens.find(`next-${i}`)));
    expect(next.filter((row) => row !== null)).to.have.length(1);
  });

  it('waits for a knex transaction that holds the connection, and never joins it', async () => {
    const order: string[] = [];
    let fastWrite: Promise<void> | undefined;
    await storage.transaction(async (tx) => {
      await tx.refreshTokens.insert(token('inside'));
      // Issued while the transaction holds SQLite's only connection.
      fastWrite = storage.refreshTokens.insert(token('outside')).then(() => void order.push('outside committed'));
      await new Promise((resolve) => setImmediate(resolve));
      // Not part of this transaction, and not yet committed.
      expect(await tx.refreshTokens.find('outside')).to.equal(null);
      order.push('transaction done');
    });
    await fastWrite;
    expect(order).to.deep.equal(['transaction done', 'outside committed']);
    expect(await storage.refreshTokens.find('inside')).to.not.equal(null);
    expect(await storage.refreshTokens.find('outside')).to.not.equal(null);
  });

  it('a write after the storage is closed fails instead of hanging', async () => {
    await storage.close();
    let failed = false;
    try {
      await storage.refreshTokens.insert(token('late'));
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
    // afterEach closes again: reopen something closable.
    storage = createKnexStorage(':memory:');
  });
});
