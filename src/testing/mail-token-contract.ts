import assert from 'node:assert/strict';
import { StorageConflictError } from '../errors.js';
import type { NewMailToken, NewUser, StorageAdapter } from '../ports.js';

const NOW = 1_700_000_000_000;
const MINUTE = 60_000;

function user(n: string): NewUser {
  return { id: `user-${n}`, email: `${n}@example.com`, username: null, firstName: null, lastName: null, passwordHash: `hash-${n}`, createdAt: NOW, emailVerifiedAt: null };
}

function token(n: string, overrides: Partial<NewMailToken> = {}): NewMailToken {
  return { idHash: `mail-token-${n}`, kind: 'reset_password', userId: 'user-a', email: 'a@example.com', expiresAt: NOW + 30 * MINUTE, createdAt: NOW, ...overrides };
}

/** The mail-token part of the storage contract (see runStorageContract), with the user writes the account flows make. */
export function mailTokenContract(
  g: { describe(name: string, fn: () => void): unknown; it(name: string, fn: () => Promise<void>): unknown; beforeEach(fn: () => Promise<void>): unknown },
  adapter: () => StorageAdapter,
): void {
  g.describe('mail tokens', () => {
    g.beforeEach(async () => {
      await adapter().users.create(user('a'));
      await adapter().users.create(user('b'));
    });

    g.it('insert and find read the record back, unused and unrevoked', async () => {
      const storage = adapter();
      await storage.mailTokens.insert(token('1', { kind: 'change_email', email: 'new@example.com' }));
      assert.deepEqual(await storage.mailTokens.find('mail-token-1'), { ...token('1', { kind: 'change_email', email: 'new@example.com' }), usedAt: null, revokedAt: null });
      assert.equal(await storage.mailTokens.find('mail-token-zzz'), null);
    });

    g.it('consume wins once, also under 10 concurrent consumes, and never for an expired or revoked token', async () => {
      const storage = adapter();
      await storage.mailTokens.insert(token('1'));
      const results = await Promise.all(Array.from({ length: 10 }, () => storage.mailTokens.consume('mail-token-1', NOW + 1)));
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.deepEqual(results.find((r) => r !== null), { ...token('1'), usedAt: NOW + 1, revokedAt: null });
      assert.equal(await storage.mailTokens.consume('mail-token-1', NOW + 2), null);
      await storage.mailTokens.insert(token('2', { expiresAt: NOW + MINUTE }));
      assert.equal(await storage.mailTokens.consume('mail-token-2', NOW + MINUTE), null);
      await storage.mailTokens.insert(token('3'));
      await storage.mailTokens.revokeForUser('user-a', 'reset_password', NOW);
      assert.equal(await storage.mailTokens.consume('mail-token-3', NOW + 1), null);
      assert.equal(await storage.mailTokens.consume('mail-token-zzz', NOW + 1), null);
    });

    g.it('revokeForUser revokes only that user’s live tokens of that kind and counts them', async () => {
      const storage = adapter();
      await storage.mailTokens.insert(token('1'));
      await storage.mailTokens.insert(token('2'));
      await storage.mailTokens.insert(token('used'));
      await storage.mailTokens.consume('mail-token-used', NOW + 1);
      await storage.mailTokens.insert(token('verify', { kind: 'verify_email' }));
      await storage.mailTokens.insert(token('other-user', { userId: 'user-b', email: 'b@example.com' }));
      assert.equal(await storage.mailTokens.revokeForUser('user-a', 'reset_password', NOW + 5), 2);
      assert.equal((await storage.mailTokens.find('mail-token-1'))?.revokedAt, NOW + 5);
      assert.equal((await storage.mailTokens.find('mail-token-used'))?.revokedAt, null);
      assert.equal((await storage.mailTokens.find('mail-token-verify'))?.revokedAt, null);
      assert.equal((await storage.mailTokens.find('mail-token-other-user'))?.revokedAt, null);
      assert.equal(await storage.mailTokens.revokeForUser('user-a', 'reset_password', NOW + 6), 0);
    });

    g.it('a consume in a rolled-back transaction leaves the token usable', async () => {
      const storage = adapter();
      await storage.mailTokens.insert(token('1'));
      await assert.rejects(
        storage.transaction(async (tx) => {
          assert.notEqual(await tx.mailTokens.consume('mail-token-1', NOW + 1), null);
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.notEqual(await storage.mailTokens.consume('mail-token-1', NOW + 1), null);
    });

    g.it('purgeExpired deletes tokens that expired before now', async () => {
      const storage = adapter();
      await storage.mailTokens.insert(token('old', { expiresAt: NOW - 1 }));
      await storage.mailTokens.insert(token('live', { expiresAt: NOW + MINUTE }));
      assert.equal(await storage.mailTokens.purgeExpired(NOW), 1);
      assert.equal(await storage.mailTokens.find('mail-token-old'), null);
      assert.notEqual(await storage.mailTokens.find('mail-token-live'), null);
    });

    g.it('users.markEmailVerified sets emailVerifiedAt once; updateEmail moves the address, with a conflict on a taken one', async () => {
      const storage = adapter();
      await storage.users.markEmailVerified('user-a', NOW + 1);
      await storage.users.markEmailVerified('user-a', NOW + 2);
      assert.equal((await storage.users.findById('user-a'))?.emailVerifiedAt, NOW + 1);
      assert.equal((await storage.users.findById('user-b'))?.emailVerifiedAt, null);
      await storage.users.updateEmail('user-a', 'moved@example.com', NOW + 3);
      assert.deepEqual(await storage.users.findByEmail('moved@example.com'), { ...user('a'), email: 'moved@example.com', emailVerifiedAt: NOW + 3 });
      assert.equal(await storage.users.findByEmail('a@example.com'), null);
      await assert.rejects(storage.users.updateEmail('user-b', 'moved@example.com', null), (err: unknown) => {
        assert.ok(err instanceof StorageConflictError);
        assert.equal(err.field, 'email');
        return true;
      });
    });
  });
}
