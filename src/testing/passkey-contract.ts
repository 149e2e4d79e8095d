import assert from 'node:assert/strict';
import { StorageConflictError } from '../errors.js';
import type { NewUser, PasskeyRecord, StorageAdapter } from '../ports.js';

const NOW = 1_700_000_000_000;

function user(n: string): NewUser {
  return { id: `user-${n}`, email: `${n}@example.com`, username: null, firstName: null, lastName: null, passwordHash: `hash-${n}`, createdAt: NOW, emailVerifiedAt: null };
}

function passkey(n: string, overrides: Partial<PasskeyRecord> = {}): PasskeyRecord {
  return {
    id: `passkey-${n}`,
    userId: 'user-a',
    credentialId: `credential-${n}`,
    publicKey: 'pQECAyYgASFYIA',
    counter: 0,
    transports: ['internal', 'hybrid'],
    deviceType: 'multiDevice',
    backedUp: true,
    name: null,
    createdAt: NOW,
    lastUsedAt: null,
    ...overrides,
  };
}

/** The passkey part of the storage contract (see runStorageContract). */
export function passkeyContract(
  g: { describe(name: string, fn: () => void): unknown; it(name: string, fn: () => Promise<void>): unknown; beforeEach(fn: () => Promise<void>): unknown },
  adapter: () => StorageAdapter,
): void {
  g.describe('passkeys', () => {
    g.beforeEach(async () => {
      await adapter().users.create(user('a'));
      await adapter().users.create(user('b'));
    });

    g.it('insert, findByCredentialId and listForUser read the records back', async () => {
      const storage = adapter();
      await storage.passkeys.insert(passkey('1', { name: 'Laptop', transports: [] }));
      await storage.passkeys.insert(passkey('2', { createdAt: NOW + 1, deviceType: 'singleDevice', backedUp: false, counter: 7 }));
      await storage.passkeys.insert(passkey('3', { userId: 'user-b' }));
      assert.deepEqual(await storage.passkeys.findByCredentialId('credential-1'), passkey('1', { name: 'Laptop', transports: [] }));
      assert.equal(await storage.passkeys.findByCredentialId('credential-zzz'), null);
      assert.deepEqual(
        (await storage.passkeys.listForUser('user-a')).map((p) => p.id),
        ['passkey-1', 'passkey-2'],
      );
      assert.deepEqual((await storage.passkeys.listForUser('user-a'))[1], passkey('2', { createdAt: NOW + 1, deviceType: 'singleDevice', backedUp: false, counter: 7 }));
      assert.deepEqual(await storage.passkeys.listForUser('user-zzz'), []);
    });

    g.it('a credential ID registered twice (even to another user) is a StorageConflictError', async () => {
      const storage = adapter();
      await storage.passkeys.insert(passkey('1'));
      await assert.rejects(storage.passkeys.insert(passkey('2', { credentialId: 'credential-1', userId: 'user-b' })), StorageConflictError);
    });

    g.it('recordUse wins once per counter value: of 10 concurrent uses exactly one', async () => {
      const storage = adapter();
      await storage.passkeys.insert(passkey('1', { counter: 5 }));
      const results = await Promise.all(
        Array.from({ length: 10 }, () => storage.passkeys.recordUse('passkey-1', { previousCounter: 5, counter: 6, backedUp: false, at: NOW + 9 })),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.deepEqual(await storage.passkeys.findByCredentialId('credential-1'), passkey('1', { counter: 6, backedUp: false, lastUsedAt: NOW + 9 }));
      assert.equal(await storage.passkeys.recordUse('passkey-1', { previousCounter: 5, counter: 7, backedUp: false, at: NOW + 10 }), false);
      // Authenticators without a counter report 0 every time: the write still matches.
      await storage.passkeys.insert(passkey('2'));
      assert.equal(await storage.passkeys.recordUse('passkey-2', { previousCounter: 0, counter: 0, backedUp: true, at: NOW + 1 }), true);
      assert.equal(await storage.passkeys.recordUse('passkey-2', { previousCounter: 0, counter: 0, backedUp: true, at: NOW + 2 }), true);
      assert.equal(await storage.passkeys.recordUse('passkey-zzz', { previousCounter: 0, counter: 1, backedUp: true, at: NOW }), false);
    });

    g.it("delete removes only the user's own passkey", async () => {
      const storage = adapter();
      await storage.passkeys.insert(passkey('1'));
      assert.equal(await storage.passkeys.delete('user-b', 'passkey-1'), false);
      assert.equal(await storage.passkeys.delete('user-a', 'passkey-1'), true);
      assert.equal(await storage.passkeys.delete('user-a', 'passkey-1'), false);
      assert.equal(await storage.passkeys.findByCredentialId('credential-1'), null);
    });

    g.it('deleting the user deletes their passkeys', async () => {
      const storage = adapter();
      await storage.passkeys.insert(passkey('1'));
      await storage.passkeys.insert(passkey('2', { userId: 'user-b' }));
      assert.equal(await storage.users.delete('user-a'), true);
      assert.equal(await storage.passkeys.findByCredentialId('credential-1'), null);
      assert.notEqual(await storage.passkeys.findByCredentialId('credential-2'), null);
    });
  });
}
