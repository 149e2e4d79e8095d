import assert from 'node:assert/strict';
import { StorageConflictError } from '../errors.js';
import { outboxContract } from './outbox-contract.js';
import { webhookContract } from './webhook-contract.js';
import { mailTokenContract } from './mail-token-contract.js';
import { passkeyContract } from './passkey-contract.js';
import { auditContract } from './audit-contract.js';
import { orgRoleContract } from './org-role-contract.js';
import type {
  ApplicationRecord,
  IdentityRecord,
  InvitationRecord,
  NewApiKey,
  NewInvitation,
  NewRefreshToken,
  NewUser,
  OrgRecord,
  RefreshTokenRecord,
  RefreshTokenRepository,
  RevocationRecord,
  StorageAdapter,
} from '../ports.js';

/** How the contract gets a fresh, empty adapter for each test, and disposes of it. */
export interface StorageContractFactory {
  create(): Promise<StorageAdapter>;
  /** Defaults to `adapter.close()`. */
  destroy?(adapter: StorageAdapter): Promise<void>;
}

type Hook = () => Promise<void>;

interface SuiteGlobals {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: Hook): unknown;
  beforeEach(fn: Hook): unknown;
  afterEach(fn: Hook): unknown;
}

// Read from globalThis at call time rather than imported, so the same suite runs
// under mocha, vitest (globals: true) or any runner exposing the BDD globals, and
// the package itself does not depend on a test runner.
function suiteGlobals(): SuiteGlobals {
  const g = globalThis as unknown as Partial<SuiteGlobals>;
  const { describe, it, beforeEach, afterEach } = g;
  if (
    typeof describe !== 'function' ||
    typeof it !== 'function' ||
    typeof beforeEach !== 'function' ||
    typeof afterEach !== 'function'
  ) {
    throw new Error(
      'runStorageContract needs the global describe/it/beforeEach/afterEach of mocha, or of vitest with globals: true',
    );
  }
  return { describe, it, beforeEach, afterEach };
}

const NOW = 1_700_000_000_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function newUser(n: string, overrides: Partial<NewUser> = {}): NewUser {
  return {
    id: `user-${n}`,
    email: `${n}@example.com`,
    username: null,
    firstName: null,
    lastName: null,
    passwordHash: `hash-${n}`,
    createdAt: NOW,
    emailVerifiedAt: null,
    ...overrides,
  };
}

function newOrg(n: string, overrides: Partial<OrgRecord> = {}): OrgRecord {
  return { id: `org-${n}`, name: `Org ${n}`, slug: `org-${n}`, description: null, createdAt: NOW, ...overrides };
}

function newInvitation(n: string, orgId: string, overrides: Partial<NewInvitation> = {}): NewInvitation {
  return {
    id: `inv-${n}`,
    orgId,
    codeHash: `code-hash-${n}`,
    role: 'member',
    email: null,
    expiresAt: NOW + DAY,
    createdBy: 'user-a',
    createdAt: NOW,
    ...overrides,
  };
}

// With the fields a stored record gets (lastUsedAt null until touched), so it compares equal to what find reads back.
function newToken(
  n: string,
  familyId: string,
  userId: string,
  overrides: Partial<NewRefreshToken> = {},
): NewRefreshToken & { appId: string | null; userAgent: string | null; ip: string | null; lastUsedAt: null } {
  return {
    idHash: `token-hash-${n}`,
    familyId,
    userId,
    orgId: null,
    appId: null,
    userAgent: null,
    ip: null,
    lastUsedAt: null,
    expiresAt: NOW + HOUR,
    familyExpiresAt: NOW + 30 * DAY,
    createdAt: NOW,
    ...overrides,
  };
}

function revocation(key: string, expiresAt: number, kind: RevocationRecord['kind'] = 'token'): RevocationRecord {
  return { kind, key, expiresAt, createdAt: NOW };
}

async function rejectsWithConflict(promise: Promise<unknown>, field: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StorageConflictError, `expected a StorageConflictError, got ${String(err)}`);
    assert.equal(err.field, field);
    return true;
  });
}

/** Resolves once `done()` holds, or after `ms` at the latest. */
async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 5));
}

function winners<T>(results: Array<T | null>): T[] {
  return results.filter((r): r is T => r !== null);
}

function byId<T extends { id: string }>(records: T[]): T[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Declares a test suite checking that a StorageAdapter meets every documented
 * contract of the storage port. Call it at the top level of a test file.
 */
export function runStorageContract(name: string, factory: StorageContractFactory): void {
  const { describe, it, beforeEach, afterEach } = suiteGlobals();
  let storage: StorageAdapter;

  describe(`storage contract: ${name}`, () => {
    beforeEach(async () => {
      storage = await factory.create();
    });

    afterEach(async () => {
      if (factory.destroy) await factory.destroy(storage);
      else await storage.close?.();
    });

    describe('users', () => {
      it('create returns the record and findById / findByEmail read it back', async () => {
        const input = newUser('a', {
          username: 'Alice_01',
          firstName: 'Alice',
          lastName: 'Liddell',
          passwordHash: '$2b$12$abcdefghijklmnopqrstuv',
          createdAt: 1_712_345_678_901,
          emailVerifiedAt: 1_712_345_678_999,
        });
        const created = await storage.users.create(input);
        assert.deepEqual(created, input);
        assert.deepEqual(await storage.users.findById('user-a'), input);
        assert.deepEqual(await storage.users.findByEmail('a@example.com'), input);
        assert.deepEqual(await storage.users.findByUsername('alice_01'), input);
        assert.equal(await storage.users.findByUsername('alice'), null);
      });

      it('keeps null optional fields and returns numbers for times', async () => {
        const input = newUser('b', { passwordHash: null });
        await storage.users.create(input);
        const found = await storage.users.findById('user-b');
        assert.deepEqual(found, input);
        assert.equal(typeof found?.createdAt, 'number');
        assert.equal(found?.emailVerifiedAt, null);
      });

      it('returns null for an unknown id or email', async () => {
        await storage.users.create(newUser('a'));
        assert.equal(await storage.users.findById('user-zzz'), null);
        assert.equal(await storage.users.findByEmail('zzz@example.com'), null);
      });

      it("rejects a duplicate email with StorageConflictError('email') and keeps the first user", async () => {
        await storage.users.create(newUser('a'));
        await rejectsWithConflict(storage.users.create(newUser('b', { email: 'a@example.com' })), 'email');
        assert.equal((await storage.users.findByEmail('a@example.com'))?.id, 'user-a');
        assert.equal(await storage.users.findById('user-b'), null);
      });

      it("rejects a username differing only in case with StorageConflictError('username')", async () => {
        await storage.users.create(newUser('a', { username: 'Alice' }));
        await rejectsWithConflict(storage.users.create(newUser('b', { username: 'aLICE' })), 'username');
        assert.equal(await storage.users.findById('user-b'), null);
        assert.equal((await storage.users.findById('user-a'))?.username, 'Alice');
      });

      it('allows any number of users without a username', async () => {
        await storage.users.create(newUser('a'));
        await storage.users.create(newUser('b'));
        assert.equal((await storage.users.findById('user-b'))?.username, null);
      });

      it('updatePasswordHash replaces the hash of that user only', async () => {
        await storage.users.create(newUser('a'));
        await storage.users.create(newUser('b'));
        await storage.users.updatePasswordHash('user-a', 'new-hash');
        assert.deepEqual(await storage.users.findById('user-a'), newUser('a', { passwordHash: 'new-hash' }));
        assert.equal((await storage.users.findById('user-b'))?.passwordHash, 'hash-b');
      });

      it('updatePasswordHash with an expected hash replaces it only while it is still that one', async () => {
        await storage.users.create(newUser('a'));
        assert.equal(await storage.users.updatePasswordHash('user-a', 'rehash-1', 'hash-a'), true);
        // A second rehash that checked the same old hash loses.
        assert.equal(await storage.users.updatePasswordHash('user-a', 'rehash-2', 'hash-a'), false);
        assert.equal((await storage.users.findById('user-a'))?.passwordHash, 'rehash-1');
        assert.equal(await storage.users.updatePasswordHash('user-missing', 'rehash-3', 'hash-a'), false);
      });
    });

    describe('orgs', () => {
      it('create returns the record and findById reads it back', async () => {
        const input = newOrg('x', { description: 'The X team', createdAt: NOW + 5 });
        assert.deepEqual(await storage.orgs.create(input), input);
        assert.deepEqual(await storage.orgs.findById('org-x'), input);
        await storage.orgs.create(newOrg('y'));
        assert.deepEqual(await storage.orgs.findById('org-y'), newOrg('y'));
        assert.equal(await storage.orgs.findById('org-zzz'), null);
      });

      it("rejects a duplicate slug with StorageConflictError('slug')", async () => {
        await storage.orgs.create(newOrg('x'));
        await rejectsWithConflict(storage.orgs.create(newOrg('y', { slug: 'org-x' })), 'slug');
        assert.equal(await storage.orgs.findById('org-y'), null);
      });
    });

    describe('memberships', () => {
      beforeEach(async () => {
        for (const n of ['a', 'b', 'c']) await storage.users.create(newUser(n, { username: `name-${n}` }));
        for (const n of ['x', 'y', 'z']) await storage.orgs.create(newOrg(n));
      });

      it('add returns the record and find reads it back', async () => {
        const membership = { userId: 'user-a', orgId: 'org-x', role: 'admin' as const, createdAt: NOW + 1 };
        assert.deepEqual(await storage.memberships.add(membership), membership);
        assert.deepEqual(await storage.memberships.find('user-a', 'org-x'), membership);
        assert.equal(await storage.memberships.find('user-a', 'org-y'), null);
        assert.equal(await storage.memberships.find('user-b', 'org-x'), null);
      });

      it("rejects a second membership of the same pair with StorageConflictError('membership')", async () => {
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'member', createdAt: NOW });
        await rejectsWithConflict(
          storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW + 1 }),
          'membership',
        );
        assert.equal((await storage.memberships.find('user-a', 'org-x'))?.role, 'member');
      });

      it('listForUser returns the memberships with their orgs, oldest first', async () => {
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-y', role: 'owner', createdAt: NOW + 2 });
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-z', role: 'admin', createdAt: NOW + 3 });
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'member', createdAt: NOW + 1 });
        await storage.memberships.add({ userId: 'user-b', orgId: 'org-x', role: 'owner', createdAt: NOW });
        assert.deepEqual(await storage.memberships.listForUser('user-a'), [
          { userId: 'user-a', orgId: 'org-x', role: 'member', createdAt: NOW + 1, org: newOrg('x') },
          { userId: 'user-a', orgId: 'org-y', role: 'owner', createdAt: NOW + 2, org: newOrg('y') },
          { userId: 'user-a', orgId: 'org-z', role: 'admin', createdAt: NOW + 3, org: newOrg('z') },
        ]);
        assert.deepEqual(await storage.memberships.listForUser('user-c'), []);
      });

      it('listForOrg returns the memberships with their users, oldest first', async () => {
        await storage.memberships.add({ userId: 'user-c', orgId: 'org-x', role: 'member', createdAt: NOW + 3 });
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW + 1 });
        await storage.memberships.add({ userId: 'user-b', orgId: 'org-x', role: 'admin', createdAt: NOW + 2 });
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-y', role: 'owner', createdAt: NOW });
        assert.deepEqual(await storage.memberships.listForOrg('org-x'), [
          { userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW + 1, user: newUser('a', { username: 'name-a' }) },
          { userId: 'user-b', orgId: 'org-x', role: 'admin', createdAt: NOW + 2, user: newUser('b', { username: 'name-b' }) },
          { userId: 'user-c', orgId: 'org-x', role: 'member', createdAt: NOW + 3, user: newUser('c', { username: 'name-c' }) },
        ]);
        assert.deepEqual(await storage.memberships.listForOrg('org-z'), []);
      });

      it('updateRole changes that membership only and reports whether it existed', async () => {
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'member', createdAt: NOW });
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-y', role: 'member', createdAt: NOW });
        assert.equal(await storage.memberships.updateRole('user-a', 'org-x', 'admin'), true);
        assert.deepEqual(await storage.memberships.find('user-a', 'org-x'), {
          userId: 'user-a',
          orgId: 'org-x',
          role: 'admin',
          createdAt: NOW,
        });
        assert.equal((await storage.memberships.find('user-a', 'org-y'))?.role, 'member');
        assert.equal(await storage.memberships.updateRole('user-b', 'org-x', 'admin'), false);
        assert.equal(await storage.memberships.find('user-b', 'org-x'), null);
      });

      it('remove deletes that membership only and reports whether it existed', async () => {
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW });
        await storage.memberships.add({ userId: 'user-b', orgId: 'org-x', role: 'member', createdAt: NOW + 1 });
        assert.equal(await storage.memberships.remove('user-b', 'org-x'), true);
        assert.equal(await storage.memberships.find('user-b', 'org-x'), null);
        assert.equal(await storage.memberships.remove('user-b', 'org-x'), false);
        assert.equal(await storage.memberships.remove('user-c', 'org-y'), false);
        assert.deepEqual(
          (await storage.memberships.listForOrg('org-x')).map((m) => m.userId),
          ['user-a'],
        );
      });

      it("countOwners counts the org's owners only", async () => {
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW });
        await storage.memberships.add({ userId: 'user-b', orgId: 'org-x', role: 'owner', createdAt: NOW });
        await storage.memberships.add({ userId: 'user-c', orgId: 'org-x', role: 'admin', createdAt: NOW });
        await storage.memberships.add({ userId: 'user-c', orgId: 'org-y', role: 'owner', createdAt: NOW });
        assert.equal(await storage.memberships.countOwners('org-x'), 2);
        assert.equal(await storage.memberships.countOwners('org-y'), 1);
        assert.equal(await storage.memberships.countOwners('org-z'), 0);
        await storage.memberships.updateRole('user-b', 'org-x', 'member');
        assert.equal(await storage.memberships.countOwners('org-x'), 1);
      });

      it('lockOrg resolves inside and outside a transaction, also for an unknown org, and changes nothing', async () => {
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW });
        assert.equal(await storage.memberships.lockOrg('org-x'), undefined);
        await storage.transaction(async (tx) => {
          await tx.memberships.lockOrg('org-x');
          await tx.memberships.lockOrg('org-unknown');
          assert.equal(await tx.memberships.countOwners('org-x'), 1);
        });
        assert.deepEqual(await storage.memberships.find('user-a', 'org-x'), { userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW });
      });

      it('two owners demoting each other in transactions that lockOrg first: one demotes, the other then sees the last owner', async () => {
        await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW });
        await storage.memberships.add({ userId: 'user-b', orgId: 'org-x', role: 'owner', createdAt: NOW });
        let secondCounted = false;
        let firstCounted!: () => void;
        const firstHasCounted = new Promise<void>((resolve) => (firstCounted = resolve));
        // Count the owners, let `between` run, then demote `target` unless it is the last owner.
        const demote = (target: string, between: () => Promise<void>) =>
          storage.transaction(async (tx) => {
            await tx.memberships.lockOrg('org-x');
            const owners = await tx.memberships.countOwners('org-x');
            await between();
            if (owners <= 1) return 'refused';
            await tx.memberships.updateRole(target, 'org-x', 'member');
            return 'demoted';
          });
        const first = demote('user-b', async () => {
          firstCounted();
          // Give the second transaction every chance to count as well; holding the
          // lock, it cannot until this one has committed.
          await waitUntil(() => secondCounted, 250);
        });
        await firstHasCounted;
        const second = demote('user-a', async () => {
          secondCounted = true;
        });
        assert.deepEqual(await Promise.all([first, second]), ['demoted', 'refused']);
        assert.equal(await storage.memberships.countOwners('org-x'), 1);
      });
    });

    describe('invitations', () => {
      beforeEach(async () => {
        for (const n of ['a', 'b', 'c', 'd', 'e']) await storage.users.create(newUser(n));
        await storage.orgs.create(newOrg('x'));
        await storage.orgs.create(newOrg('y'));
      });

      it('create returns the record, unused and unrevoked, and findByCodeHash reads it back', async () => {
        const input = newInvitation('1', 'org-x', { role: 'admin', email: 'b@example.com', createdAt: NOW + 7 });
        const expected: InvitationRecord = { ...input, usedAt: null, usedBy: null, revokedAt: null, mailedAt: null };
        assert.deepEqual(await storage.invitations.create(input), expected);
        assert.deepEqual(await storage.invitations.findByCodeHash('code-hash-1'), expected);
        assert.equal(await storage.invitations.findByCodeHash('code-hash-zzz'), null);
      });

      it('listActive returns only unused, unrevoked, unexpired invitations of that org', async () => {
        const active1 = await storage.invitations.create(newInvitation('1', 'org-x'));
        const active2 = await storage.invitations.create(
          newInvitation('2', 'org-x', { email: 'c@example.com', createdAt: NOW + 1 }),
        );
        await storage.invitations.create(newInvitation('expired', 'org-x', { expiresAt: NOW - 1 }));
        await storage.invitations.create(newInvitation('expires-now', 'org-x', { expiresAt: NOW }));
        await storage.invitations.create(newInvitation('revoked', 'org-x'));
        await storage.invitations.revoke('org-x', 'inv-revoked', NOW - MINUTE);
        await storage.invitations.create(newInvitation('used', 'org-x'));
        assert.ok(await storage.invitations.consume('code-hash-used', 'user-b', 'b@example.com', NOW - MINUTE));
        await storage.invitations.create(newInvitation('other-org', 'org-y'));

        assert.deepEqual(byId(await storage.invitations.listActive('org-x', NOW)), [active1, active2]);
        assert.deepEqual(
          (await storage.invitations.listActive('org-y', NOW)).map((i) => i.id),
          ['inv-other-org'],
        );
      });

      it('revoke marks an unused invitation revoked once, and only within its org', async () => {
        await storage.invitations.create(newInvitation('1', 'org-x'));
        assert.equal(await storage.invitations.revoke('org-y', 'inv-1', NOW), false);
        assert.equal((await storage.invitations.findByCodeHash('code-hash-1'))?.revokedAt, null);

        assert.equal(await storage.invitations.revoke('org-x', 'inv-1', NOW + 5), true);
        assert.equal((await storage.invitations.findByCodeHash('code-hash-1'))?.revokedAt, NOW + 5);
        assert.equal(await storage.invitations.revoke('org-x', 'inv-1', NOW + 6), false);
        assert.equal((await storage.invitations.findByCodeHash('code-hash-1'))?.revokedAt, NOW + 5);
        assert.equal(await storage.invitations.revoke('org-x', 'inv-zzz', NOW), false);
      });

      it('revoke refuses an invitation that was already used', async () => {
        await storage.invitations.create(newInvitation('1', 'org-x'));
        assert.ok(await storage.invitations.consume('code-hash-1', 'user-b', 'b@example.com', NOW));
        assert.equal(await storage.invitations.revoke('org-x', 'inv-1', NOW + 1), false);
        assert.equal((await storage.invitations.findByCodeHash('code-hash-1'))?.revokedAt, null);
      });

      it("revokeByCreator revokes the creator's pending invitations of that org, optionally only some roles", async () => {
        await storage.invitations.create(newInvitation('member', 'org-x', { createdBy: 'user-a' }));
        await storage.invitations.create(newInvitation('admin', 'org-x', { createdBy: 'user-a', role: 'admin' }));
        await storage.invitations.create(newInvitation('owner', 'org-x', { createdBy: 'user-a', role: 'owner' }));
        await storage.invitations.create(newInvitation('used', 'org-x', { createdBy: 'user-a', role: 'admin' }));
        assert.ok(await storage.invitations.consume('code-hash-used', 'user-c', 'c@example.com', NOW));
        await storage.invitations.create(newInvitation('other-org', 'org-y', { createdBy: 'user-a', role: 'admin' }));
        await storage.invitations.create(newInvitation('other-creator', 'org-x', { createdBy: 'user-b', role: 'admin' }));

        assert.equal(await storage.invitations.revokeByCreator('org-x', 'user-a', NOW + 1, ['admin', 'owner']), 2);
        const revokedAt = async (n: string) => (await storage.invitations.findByCodeHash(`code-hash-${n}`))?.revokedAt;
        assert.equal(await revokedAt('admin'), NOW + 1);
        assert.equal(await revokedAt('owner'), NOW + 1);
        for (const n of ['member', 'used', 'other-org', 'other-creator']) assert.equal(await revokedAt(n), null, n);

        assert.equal(await storage.invitations.revokeByCreator('org-x', 'user-a', NOW + 2), 1);
        assert.equal(await revokedAt('member'), NOW + 2);
        assert.equal(await revokedAt('admin'), NOW + 1);
        assert.equal(await storage.invitations.revokeByCreator('org-x', 'user-a', NOW + 3), 0);
      });

      it('consume marks the invitation used by that user and returns it, once', async () => {
        const created = await storage.invitations.create(newInvitation('1', 'org-x'));
        const won = await storage.invitations.consume('code-hash-1', 'user-b', 'b@example.com', NOW + 10);
        const expected: InvitationRecord = { ...created, usedAt: NOW + 10, usedBy: 'user-b' };
        assert.deepEqual(won, expected);
        assert.deepEqual(await storage.invitations.findByCodeHash('code-hash-1'), expected);

        assert.equal(await storage.invitations.consume('code-hash-1', 'user-c', 'c@example.com', NOW + 11), null);
        assert.deepEqual(await storage.invitations.findByCodeHash('code-hash-1'), expected);
      });

      it('consume refuses expired, revoked and unknown invitations', async () => {
        await storage.invitations.create(newInvitation('past', 'org-x', { expiresAt: NOW - 1 }));
        await storage.invitations.create(newInvitation('now', 'org-x', { expiresAt: NOW }));
        await storage.invitations.create(newInvitation('revoked', 'org-x'));
        await storage.invitations.revoke('org-x', 'inv-revoked', NOW - 1);

        for (const code of ['code-hash-past', 'code-hash-now', 'code-hash-revoked', 'code-hash-zzz']) {
          assert.equal(await storage.invitations.consume(code, 'user-b', 'b@example.com', NOW), null, code);
        }
        for (const code of ['code-hash-past', 'code-hash-now', 'code-hash-revoked']) {
          const record = await storage.invitations.findByCodeHash(code);
          assert.equal(record?.usedAt, null, code);
          assert.equal(record?.usedBy, null, code);
        }
      });

      it('consume of an email-bound invitation refuses any other email', async () => {
        await storage.invitations.create(newInvitation('1', 'org-x', { email: 'c@example.com' }));
        assert.equal(await storage.invitations.consume('code-hash-1', 'user-b', 'b@example.com', NOW), null);
        assert.equal((await storage.invitations.findByCodeHash('code-hash-1'))?.usedAt, null);

        const won = await storage.invitations.consume('code-hash-1', 'user-c', 'c@example.com', NOW + 1);
        assert.equal(won?.usedBy, 'user-c');
        assert.equal(won?.usedAt, NOW + 1);
      });

      it('consume of an unbound invitation accepts any email', async () => {
        await storage.invitations.create(newInvitation('1', 'org-x'));
        const won = await storage.invitations.consume('code-hash-1', 'user-d', 'd@example.com', NOW);
        assert.equal(won?.usedBy, 'user-d');
      });

      it('of 5 concurrent consumes by different users exactly one wins', async () => {
        await storage.invitations.create(newInvitation('1', 'org-x'));
        const users = ['a', 'b', 'c', 'd', 'e'];
        const results = await Promise.all(
          users.map((n) => storage.invitations.consume('code-hash-1', `user-${n}`, `${n}@example.com`, NOW)),
        );
        const won = winners(results);
        assert.equal(won.length, 1);
        const stored = await storage.invitations.findByCodeHash('code-hash-1');
        assert.equal(stored?.usedBy, won[0]?.usedBy);
        assert.equal(stored?.usedAt, NOW);
      });
    });

    describe('refresh tokens', () => {
      beforeEach(async () => {
        await storage.users.create(newUser('a'));
        await storage.users.create(newUser('b'));
      });

      async function familyRows(familyId: string, hashes: string[]): Promise<Array<RefreshTokenRecord | null>> {
        const rows = await Promise.all(hashes.map((h) => storage.refreshTokens.find(h)));
        for (const row of rows) if (row) assert.equal(row.familyId, familyId);
        return rows;
      }

      it('insert stores the token unused and unrevoked, find reads it back', async () => {
        const t1 = newToken('1', 'fam-1', 'user-a', { createdAt: NOW + 3 });
        const t2 = newToken('2', 'fam-2', 'user-b', { orgId: 'org-x', expiresAt: NOW + 2 * HOUR });
        await storage.refreshTokens.insert(t1);
        await storage.refreshTokens.insert(t2);
        assert.deepEqual(await storage.refreshTokens.find('token-hash-1'), { ...t1, usedAt: null, revokedAt: null });
        assert.deepEqual(await storage.refreshTokens.find('token-hash-2'), { ...t2, usedAt: null, revokedAt: null });
        assert.equal(await storage.refreshTokens.find('token-hash-zzz'), null);
      });

      it('keeps keys as given: time-led ones of 76 characters beside plain hashes', async () => {
        // The keys the core makes: a refresh token's (tokenIdKey of a UUIDv7 jti) and one of a token signed before them.
        const led = `0198c2a1b3f4${'ab'.repeat(32)}`;
        const plain = 'cd'.repeat(32);
        const t1 = { ...newToken('1', 'fam-1', 'user-a'), idHash: led };
        const t2 = { ...newToken('2', 'fam-1', 'user-a'), idHash: plain };
        await storage.refreshTokens.insert(t1);
        await storage.refreshTokens.insert(t2);
        assert.deepEqual(await storage.refreshTokens.find(led), { ...t1, usedAt: null, revokedAt: null });
        assert.deepEqual(await storage.refreshTokens.find(plain), { ...t2, usedAt: null, revokedAt: null });
        // A key is found only whole.
        assert.equal(await storage.refreshTokens.find(led.slice(12)), null);
        assert.equal((await storage.refreshTokens.consume(led, NOW + 5))?.idHash, led);
        assert.equal((await storage.refreshTokens.find(plain))?.usedAt, null);
      });

      it('consume marks the token used and returns it, once', async () => {
        const t1 = newToken('1', 'fam-1', 'user-a', { orgId: 'org-x' });
        await storage.refreshTokens.insert(t1);
        const expected: RefreshTokenRecord = { ...t1, usedAt: NOW + 5, revokedAt: null };
        assert.deepEqual(await storage.refreshTokens.consume('token-hash-1', NOW + 5), expected);
        assert.deepEqual(await storage.refreshTokens.find('token-hash-1'), expected);
        assert.equal(await storage.refreshTokens.consume('token-hash-1', NOW + 6), null);
        assert.equal((await storage.refreshTokens.find('token-hash-1'))?.usedAt, NOW + 5);
      });

      it('consume refuses expired and unknown tokens', async () => {
        await storage.refreshTokens.insert(newToken('past', 'fam-1', 'user-a', { expiresAt: NOW - 1 }));
        await storage.refreshTokens.insert(newToken('now', 'fam-2', 'user-a', { expiresAt: NOW }));
        assert.equal(await storage.refreshTokens.consume('token-hash-past', NOW), null);
        assert.equal(await storage.refreshTokens.consume('token-hash-now', NOW), null);
        assert.equal(await storage.refreshTokens.consume('token-hash-zzz', NOW), null);
        assert.equal((await storage.refreshTokens.find('token-hash-past'))?.usedAt, null);
        assert.equal((await storage.refreshTokens.find('token-hash-now'))?.usedAt, null);
      });

      it('of 10 concurrent consumes of one token exactly one wins', async () => {
        await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a'));
        const results = await Promise.all(
          Array.from({ length: 10 }, () => storage.refreshTokens.consume('token-hash-1', NOW)),
        );
        const won = winners(results);
        assert.equal(won.length, 1);
        assert.equal(won[0]?.usedAt, NOW);
        assert.equal((await storage.refreshTokens.find('token-hash-1'))?.usedAt, NOW);
      });

      it('rotate consumes the token and stores its successor in the same write, once', async () => {
        const t1 = newToken('1', 'fam-1', 'user-a', { orgId: 'org-x' });
        await storage.refreshTokens.insert(t1);
        await storage.refreshTokens.insert(newToken('past', 'fam-1', 'user-a', { expiresAt: NOW - 1 }));
        const expected: RefreshTokenRecord = { ...t1, usedAt: NOW + 5, revokedAt: null, successor: 'sealed-1' };
        assert.deepEqual(await storage.refreshTokens.rotate('token-hash-1', NOW + 5, 'sealed-1'), expected);
        assert.deepEqual(await storage.refreshTokens.find('token-hash-1'), expected);
        // Losers change nothing: the first successor stays.
        assert.equal(await storage.refreshTokens.rotate('token-hash-1', NOW + 6, 'sealed-2'), null);
        assert.equal(await storage.refreshTokens.consume('token-hash-1', NOW + 6), null);
        assert.deepEqual(await storage.refreshTokens.find('token-hash-1'), expected);
        assert.equal(await storage.refreshTokens.rotate('token-hash-past', NOW, 'sealed-3'), null);
        assert.equal(await storage.refreshTokens.rotate('token-hash-zzz', NOW, 'sealed-4'), null);
        assert.ok(!(await storage.refreshTokens.find('token-hash-past'))?.successor);
        // A revoked family keeps the row (and its successor) revoked.
        await storage.refreshTokens.revokeFamily('fam-1', NOW + 7);
        assert.equal((await storage.refreshTokens.find('token-hash-1'))?.revokedAt, NOW + 7);
      });

      it('of 10 concurrent rotates of one token exactly one wins, and every reader after sees its successor', async () => {
        await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a'));
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => storage.refreshTokens.rotate('token-hash-1', NOW, `sealed-${i}`)),
        );
        const won = winners(results);
        assert.equal(won.length, 1);
        const stored = await storage.refreshTokens.find('token-hash-1');
        assert.equal(stored?.usedAt, NOW);
        assert.equal(stored?.successor, won[0]?.successor);
      });

      describe('replace (optional: these pass trivially for an adapter without it)', () => {
        type Replace = NonNullable<RefreshTokenRepository['replace']>;
        const replace = (...args: Parameters<Replace>) => (storage.refreshTokens.replace as Replace)(...args);
        const ifReplace = (fn: () => Promise<void>) => async () => {
          if (storage.refreshTokens.replace) await fn();
        };

        it('consumes the token, stores its successor and inserts the next token, once', ifReplace(async () => {
          const t1 = newToken('1', 'fam-1', 'user-a', { orgId: 'org-x' });
          await storage.refreshTokens.insert(t1);
          const next = newToken('2', 'fam-1', 'user-a', { orgId: 'org-x', createdAt: NOW + 5, userAgent: 'agent', ip: '10.0.0.1' });
          const expected: RefreshTokenRecord = { ...t1, usedAt: NOW + 5, revokedAt: null, successor: 'sealed-1' };
          assert.deepEqual(await replace('token-hash-1', NOW + 5, 'sealed-1', next), expected);
          assert.deepEqual(await storage.refreshTokens.find('token-hash-1'), expected);
          assert.deepEqual(await storage.refreshTokens.find('token-hash-2'), { ...next, usedAt: null, revokedAt: null });
          // A loser changes nothing and inserts nothing.
          assert.equal(await replace('token-hash-1', NOW + 6, 'sealed-2', newToken('3', 'fam-1', 'user-a')), null);
          assert.deepEqual(await storage.refreshTokens.find('token-hash-1'), expected);
          assert.equal(await storage.refreshTokens.find('token-hash-3'), null);
        }));

        it('without a successor consumes as consume does; refuses expired, revoked and unknown tokens, inserting nothing', ifReplace(async () => {
          await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a'));
          await storage.refreshTokens.insert(newToken('past', 'fam-2', 'user-a', { expiresAt: NOW - 1 }));
          await storage.refreshTokens.insert(newToken('gone', 'fam-3', 'user-a'));
          await storage.refreshTokens.revokeFamily('fam-3', NOW);
          const won = await replace('token-hash-1', NOW + 1, null, newToken('2', 'fam-1', 'user-a'));
          assert.equal(won?.usedAt, NOW + 1);
          assert.ok(!won?.successor);
          assert.ok(await storage.refreshTokens.find('token-hash-2'));
          assert.equal(await replace('token-hash-past', NOW, null, newToken('3', 'fam-2', 'user-a')), null);
          assert.equal(await replace('token-hash-gone', NOW, 'sealed', newToken('4', 'fam-3', 'user-a')), null);
          assert.equal(await replace('token-hash-zzz', NOW, null, newToken('5', 'fam-1', 'user-a')), null);
          for (const n of ['3', '4', '5']) assert.equal(await storage.refreshTokens.find(`token-hash-${n}`), null, n);
          assert.equal((await storage.refreshTokens.find('token-hash-past'))?.usedAt, null);
        }));

        it('is all or nothing: when the insert fails, the token stays unused', ifReplace(async () => {
          await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a'));
          await storage.refreshTokens.insert(newToken('taken', 'fam-1', 'user-a'));
          // The next token's id is already stored: the insert fails, so the consume is undone.
          await assert.rejects(replace('token-hash-1', NOW, 'sealed-1', newToken('taken', 'fam-1', 'user-a')), StorageConflictError);
          const row = await storage.refreshTokens.find('token-hash-1');
          assert.equal(row?.usedAt, null);
          assert.ok(!row?.successor);
          assert.ok(await replace('token-hash-1', NOW, 'sealed-1', newToken('2', 'fam-1', 'user-a')));
        }));

        it('of 10 concurrent replaces of one token exactly one wins, and only its next token is stored', ifReplace(async () => {
          await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a'));
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) => replace('token-hash-1', NOW, `sealed-${i}`, newToken(`next-${i}`, 'fam-1', 'user-a'))),
          );
          const won = winners(results);
          assert.equal(won.length, 1);
          const stored = await storage.refreshTokens.find('token-hash-1');
          assert.equal(stored?.successor, won[0]?.successor);
          const next = await Promise.all(Array.from({ length: 10 }, (_, i) => storage.refreshTokens.find(`token-hash-next-${i}`)));
          assert.equal(winners(next).length, 1);
          assert.equal(`sealed-${next.findIndex((row) => row !== null)}`, won[0]?.successor);
        }));
      });

      describe('findForRotation (optional: these pass trivially for an adapter without it)', () => {
        type FindForRotation = NonNullable<RefreshTokenRepository['findForRotation']>;
        // `sessionStartedAt` is optional within it: checked on its own below.
        const findForRotation = async (idHash: string) => {
          const found = await (storage.refreshTokens.findForRotation as FindForRotation)(idHash);
          if (found === null) return null;
          const { sessionStartedAt: _start, ...rest } = found;
          return rest;
        };
        const ifOffered = (fn: () => Promise<void>) => async () => {
          if (storage.refreshTokens.findForRotation) await fn();
        };
        beforeEach(async () => {
          await storage.orgs.create(newOrg('x'));
          await storage.orgs.create(newOrg('y'));
        });

        it('reads the token as find does, with its user\'s current role in its org', ifOffered(async () => {
          await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'admin', createdAt: NOW });
          await storage.memberships.add({ userId: 'user-a', orgId: 'org-y', role: 'owner', createdAt: NOW });
          await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a', { orgId: 'org-x', userAgent: 'agent', ip: '10.0.0.1' }));
          assert.deepEqual(await findForRotation('token-hash-1'), { token: await storage.refreshTokens.find('token-hash-1'), role: 'admin' });
          await storage.memberships.updateRole('user-a', 'org-x', 'member');
          assert.equal((await findForRotation('token-hash-1'))?.role, 'member');
          // A consumed token reads back with its successor, as find reads it.
          await storage.refreshTokens.rotate('token-hash-1', NOW + 1, 'sealed-1');
          const consumed = await findForRotation('token-hash-1');
          assert.deepEqual(consumed, { token: await storage.refreshTokens.find('token-hash-1'), role: 'member' });
          assert.equal(consumed?.token.successor, 'sealed-1');
        }));

        it('gives no role once the membership is gone, nor for another user\'s membership', ifOffered(async () => {
          await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW });
          await storage.memberships.add({ userId: 'user-b', orgId: 'org-y', role: 'owner', createdAt: NOW });
          await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a', { orgId: 'org-x' }));
          await storage.refreshTokens.insert(newToken('2', 'fam-2', 'user-a', { orgId: 'org-y' }));
          assert.equal((await findForRotation('token-hash-1'))?.role, 'owner');
          assert.equal(await storage.memberships.remove('user-a', 'org-x'), true);
          const found = await findForRotation('token-hash-1');
          assert.deepEqual(found, { token: await storage.refreshTokens.find('token-hash-1'), role: null });
          // user-b is in org-y, user-a is not.
          assert.deepEqual(await findForRotation('token-hash-2'), { token: await storage.refreshTokens.find('token-hash-2'), role: null });
        }));

        it('gives no role for a token without an org, and null for an unknown token', ifOffered(async () => {
          await storage.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW });
          const t1 = newToken('1', 'fam-1', 'user-a');
          await storage.refreshTokens.insert(t1);
          assert.deepEqual(await findForRotation('token-hash-1'), { token: { ...t1, usedAt: null, revokedAt: null }, role: null });
          assert.equal(await findForRotation('token-hash-zzz'), null);
        }));

        it('brings the session\'s start along when it gives one (sessionStartedAt), as findSession says it', ifOffered(async () => {
          await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a', { createdAt: NOW - 2 * HOUR }));
          await storage.refreshTokens.insert(newToken('2', 'fam-1', 'user-a', { createdAt: NOW - HOUR }));
          await storage.refreshTokens.insert(newToken('3', 'fam-3', 'user-a', { createdAt: NOW }));
          for (const [hash, start] of [['token-hash-2', NOW - 2 * HOUR], ['token-hash-3', NOW]] as const) {
            const found = await (storage.refreshTokens.findForRotation as FindForRotation)(hash);
            if (found?.sessionStartedAt !== undefined) assert.equal(found.sessionStartedAt, start, hash);
          }
          assert.equal((await storage.refreshTokens.findSession('fam-1'))?.createdAt, NOW - 2 * HOUR);
        }));
      });

      it('revokeFamily revokes every token of the family and counts those not revoked yet', async () => {
        await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a'));
        await storage.refreshTokens.insert(newToken('2', 'fam-1', 'user-a'));
        await storage.refreshTokens.insert(newToken('3', 'fam-1', 'user-a'));
        await storage.refreshTokens.insert(newToken('4', 'fam-2', 'user-a'));
        assert.ok(await storage.refreshTokens.consume('token-hash-1', NOW));

        assert.equal(await storage.refreshTokens.revokeFamily('fam-1', NOW + 1), 3);
        const rows = await familyRows('fam-1', ['token-hash-1', 'token-hash-2', 'token-hash-3']);
        assert.deepEqual(
          rows.map((r) => r?.revokedAt),
          [NOW + 1, NOW + 1, NOW + 1],
        );
        assert.equal((await storage.refreshTokens.find('token-hash-1'))?.usedAt, NOW);
        assert.equal((await storage.refreshTokens.find('token-hash-4'))?.revokedAt, null);

        assert.equal(await storage.refreshTokens.revokeFamily('fam-1', NOW + 2), 0);
        assert.equal((await storage.refreshTokens.find('token-hash-2'))?.revokedAt, NOW + 1);
        assert.equal(await storage.refreshTokens.revokeFamily('fam-zzz', NOW), 0);
      });

      it('familyExpiresAt gives the family expiry, revoked or used tokens included, and null for an unknown family', async () => {
        await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a', { familyExpiresAt: NOW + 10 * HOUR }));
        await storage.refreshTokens.insert(newToken('2', 'fam-1', 'user-a', { familyExpiresAt: NOW + 10 * HOUR }));
        await storage.refreshTokens.insert(newToken('3', 'fam-2', 'user-a', { familyExpiresAt: NOW + 20 * HOUR }));
        assert.ok(await storage.refreshTokens.consume('token-hash-1', NOW));
        await storage.refreshTokens.revokeFamily('fam-1', NOW + 1);
        assert.equal(await storage.refreshTokens.familyExpiresAt('fam-1'), NOW + 10 * HOUR);
        assert.equal(await storage.refreshTokens.familyExpiresAt('fam-2'), NOW + 20 * HOUR);
        assert.equal(await storage.refreshTokens.familyExpiresAt('fam-zzz'), null);
      });

      it('consume refuses a token of a revoked family', async () => {
        await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a'));
        await storage.refreshTokens.revokeFamily('fam-1', NOW);
        assert.equal(await storage.refreshTokens.consume('token-hash-1', NOW + 1), null);
        assert.equal((await storage.refreshTokens.find('token-hash-1'))?.usedAt, null);
      });

      it("revokeFamiliesOfUser revokes the user's live families and returns them with their end", async () => {
        await storage.refreshTokens.insert(newToken('a1', 'fam-a1', 'user-a', { orgId: 'org-x', familyExpiresAt: NOW + 10 * HOUR }));
        await storage.refreshTokens.insert(newToken('a1b', 'fam-a1', 'user-a', { orgId: 'org-x', familyExpiresAt: NOW + 10 * HOUR }));
        await storage.refreshTokens.insert(newToken('a2', 'fam-a2', 'user-a', { familyExpiresAt: NOW + 20 * HOUR }));
        // Ended family: nothing left to revoke.
        await storage.refreshTokens.insert(
          newToken('a3', 'fam-a3', 'user-a', { expiresAt: NOW - 2 * HOUR, familyExpiresAt: NOW - HOUR }),
        );
        // Already revoked family.
        await storage.refreshTokens.insert(newToken('a4', 'fam-a4', 'user-a'));
        await storage.refreshTokens.revokeFamily('fam-a4', NOW - MINUTE);
        // Another user's family.
        await storage.refreshTokens.insert(newToken('b1', 'fam-b1', 'user-b'));

        const revoked = await storage.refreshTokens.revokeFamiliesOfUser('user-a', NOW);
        assert.deepEqual(
          [...revoked].sort((x, y) => x.familyId.localeCompare(y.familyId)),
          [
            { familyId: 'fam-a1', familyExpiresAt: NOW + 10 * HOUR },
            { familyId: 'fam-a2', familyExpiresAt: NOW + 20 * HOUR },
          ],
        );
        for (const hash of ['token-hash-a1', 'token-hash-a1b', 'token-hash-a2']) {
          assert.equal((await storage.refreshTokens.find(hash))?.revokedAt, NOW, hash);
        }
        assert.equal((await storage.refreshTokens.find('token-hash-a3'))?.revokedAt, null);
        assert.equal((await storage.refreshTokens.find('token-hash-a4'))?.revokedAt, NOW - MINUTE);
        assert.equal((await storage.refreshTokens.find('token-hash-b1'))?.revokedAt, null);
        assert.equal(await storage.refreshTokens.consume('token-hash-a2', NOW + 1), null);
        assert.ok(await storage.refreshTokens.consume('token-hash-b1', NOW + 1));

        assert.deepEqual(await storage.refreshTokens.revokeFamiliesOfUser('user-a', NOW + 2), []);
      });

      it('revokeFamiliesOfUser with orgId revokes only families scoped to that org', async () => {
        await storage.refreshTokens.insert(newToken('x', 'fam-x', 'user-a', { orgId: 'org-x' }));
        await storage.refreshTokens.insert(newToken('y', 'fam-y', 'user-a', { orgId: 'org-y' }));
        await storage.refreshTokens.insert(newToken('none', 'fam-none', 'user-a'));
        await storage.refreshTokens.insert(newToken('bx', 'fam-bx', 'user-b', { orgId: 'org-x' }));

        assert.deepEqual(await storage.refreshTokens.revokeFamiliesOfUser('user-a', NOW, { orgId: 'org-x' }), [
          { familyId: 'fam-x', familyExpiresAt: NOW + 30 * DAY },
        ]);
        assert.equal((await storage.refreshTokens.find('token-hash-x'))?.revokedAt, NOW);
        for (const hash of ['token-hash-y', 'token-hash-none', 'token-hash-bx']) {
          assert.equal((await storage.refreshTokens.find(hash))?.revokedAt, null, hash);
        }
      });

      it('revokeFamiliesOfUser never revokes exceptFamilyId', async () => {
        await storage.refreshTokens.insert(newToken('keep', 'fam-keep', 'user-a'));
        await storage.refreshTokens.insert(newToken('drop', 'fam-drop', 'user-a'));
        assert.deepEqual(
          await storage.refreshTokens.revokeFamiliesOfUser('user-a', NOW, { exceptFamilyId: 'fam-keep' }),
          [{ familyId: 'fam-drop', familyExpiresAt: NOW + 30 * DAY }],
        );
        assert.equal((await storage.refreshTokens.find('token-hash-drop'))?.revokedAt, NOW);
        assert.equal((await storage.refreshTokens.find('token-hash-keep'))?.revokedAt, null);
        assert.ok(await storage.refreshTokens.consume('token-hash-keep', NOW + 1));
      });

      it('keeps the appId of an app session', async () => {
        const app = newToken('app', 'fam-app', 'user-a', { orgId: 'org-x', appId: 'app-1' });
        await storage.refreshTokens.insert(app);
        assert.deepEqual(await storage.refreshTokens.find('token-hash-app'), { ...app, usedAt: null, revokedAt: null });
        // An adapter given no appId (a caller of an earlier version) stores null.
        const { appId: _unused, ...plain } = newToken('plain', 'fam-plain', 'user-a');
        await storage.refreshTokens.insert(plain);
        assert.equal((await storage.refreshTokens.find('token-hash-plain'))?.appId, null);
      });

      it('revokeFamiliesOfUser with appsOnly revokes only app sessions', async () => {
        await storage.refreshTokens.insert(newToken('app', 'fam-app', 'user-a', { orgId: 'org-x', appId: 'app-1' }));
        await storage.refreshTokens.insert(newToken('app-y', 'fam-app-y', 'user-a', { orgId: 'org-y', appId: 'app-2' }));
        await storage.refreshTokens.insert(newToken('plain', 'fam-plain', 'user-a', { orgId: 'org-x' }));
        assert.deepEqual(await storage.refreshTokens.revokeFamiliesOfUser('user-a', NOW, { orgId: 'org-x', appsOnly: true }), [
          { familyId: 'fam-app', familyExpiresAt: NOW + 30 * DAY },
        ]);
        assert.equal((await storage.refreshTokens.find('token-hash-app'))?.revokedAt, NOW);
        for (const hash of ['token-hash-app-y', 'token-hash-plain']) {
          assert.equal((await storage.refreshTokens.find(hash))?.revokedAt, null, hash);
        }
      });

      it("revokeFamiliesOfApp revokes the application's live sessions, optionally only one user's", async () => {
        await storage.refreshTokens.insert(newToken('a1', 'fam-a1', 'user-a', { appId: 'app-1', familyExpiresAt: NOW + HOUR }));
        await storage.refreshTokens.insert(newToken('b1', 'fam-b1', 'user-b', { appId: 'app-1', familyExpiresAt: NOW + 2 * HOUR }));
        await storage.refreshTokens.insert(newToken('a2', 'fam-a2', 'user-a', { appId: 'app-2' }));
        await storage.refreshTokens.insert(newToken('plain', 'fam-plain', 'user-a'));
        // Ended: nothing left to revoke.
        await storage.refreshTokens.insert(newToken('old', 'fam-old', 'user-a', { appId: 'app-1', expiresAt: NOW - HOUR, familyExpiresAt: NOW - HOUR }));

        assert.deepEqual(await storage.refreshTokens.revokeFamiliesOfApp('app-1', NOW, { userId: 'user-b' }), [
          { familyId: 'fam-b1', familyExpiresAt: NOW + 2 * HOUR },
        ]);
        assert.equal((await storage.refreshTokens.find('token-hash-a1'))?.revokedAt, null);
        assert.deepEqual(await storage.refreshTokens.revokeFamiliesOfApp('app-1', NOW + 1), [{ familyId: 'fam-a1', familyExpiresAt: NOW + HOUR }]);
        assert.equal((await storage.refreshTokens.find('token-hash-a1'))?.revokedAt, NOW + 1);
        assert.equal((await storage.refreshTokens.find('token-hash-b1'))?.revokedAt, NOW);
        for (const hash of ['token-hash-a2', 'token-hash-plain', 'token-hash-old']) {
          assert.equal((await storage.refreshTokens.find(hash))?.revokedAt, null, hash);
        }
        assert.deepEqual(await storage.refreshTokens.revokeFamiliesOfApp('app-1', NOW + 2), []);
      });

      it('purgeExpired deletes the tokens past their own expiry, in live families too, and counts them', async () => {
        await storage.refreshTokens.insert(
          newToken('old1', 'fam-old', 'user-a', { expiresAt: NOW - 3 * HOUR, familyExpiresAt: NOW - 2 * HOUR }),
        );
        await storage.refreshTokens.insert(
          newToken('old2', 'fam-old', 'user-a', { expiresAt: NOW - 2 * HOUR, familyExpiresAt: NOW - 2 * HOUR }),
        );
        // Its family lives on, but the token itself can never be presented again.
        await storage.refreshTokens.insert(
          newToken('rotated', 'fam-live', 'user-a', { expiresAt: NOW - HOUR, familyExpiresAt: NOW + HOUR, createdAt: NOW - 2 * HOUR }),
        );
        // Expiring exactly now counts as expired; a millisecond later does not.
        await storage.refreshTokens.insert(newToken('now', 'fam-now', 'user-b', { expiresAt: NOW, familyExpiresAt: NOW + HOUR }));
        await storage.refreshTokens.insert(newToken('live', 'fam-live', 'user-a', { expiresAt: NOW + 1, familyExpiresAt: NOW + HOUR }));

        assert.equal(await storage.refreshTokens.purgeExpired(NOW), 4);
        for (const hash of ['token-hash-old1', 'token-hash-old2', 'token-hash-rotated', 'token-hash-now']) {
          assert.equal(await storage.refreshTokens.find(hash), null, hash);
        }
        assert.equal((await storage.refreshTokens.find('token-hash-live'))?.familyId, 'fam-live');
        assert.equal(await storage.refreshTokens.purgeExpired(NOW), 0);
      });

      it('a session keeps its start once its first tokens are purged: findSession, listLiveSessions, startedBefore', async () => {
        const start = NOW - 3 * HOUR;
        await storage.refreshTokens.insert(newToken('s1', 'fam-s', 'user-a', { orgId: 'org-x', createdAt: start, expiresAt: NOW - 2 * HOUR, familyExpiresAt: NOW + DAY }));
        await storage.refreshTokens.insert(newToken('s2', 'fam-s', 'user-a', { orgId: 'org-x', createdAt: NOW - 2 * HOUR, expiresAt: NOW - HOUR, familyExpiresAt: NOW + DAY }));
        await storage.refreshTokens.insert(newToken('s3', 'fam-s', 'user-a', { orgId: 'org-x', createdAt: NOW - HOUR, expiresAt: NOW + HOUR, familyExpiresAt: NOW + DAY }));
        // Another family, begun later, is not mistaken for the same session.
        await storage.refreshTokens.insert(newToken('t1', 'fam-t', 'user-a', { orgId: 'org-x', createdAt: NOW - MINUTE, expiresAt: NOW + 2 * HOUR, familyExpiresAt: NOW + DAY }));
        assert.equal(await storage.refreshTokens.purgeExpired(NOW), 2);
        assert.equal(await storage.refreshTokens.find('token-hash-s1'), null);

        // The next rotation hands the start on again, after its predecessors are gone.
        await storage.refreshTokens.insert(newToken('s4', 'fam-s', 'user-a', { orgId: 'org-x', createdAt: NOW, expiresAt: NOW + 2 * HOUR, familyExpiresAt: NOW + DAY }));
        assert.equal(await storage.refreshTokens.purgeExpired(NOW + HOUR), 1);
        assert.equal(await storage.refreshTokens.find('token-hash-s3'), null);

        assert.equal((await storage.refreshTokens.findSession('fam-s'))?.createdAt, start);
        assert.equal((await storage.refreshTokens.findSession('fam-t'))?.createdAt, NOW - MINUTE);
        const listed = await storage.refreshTokens.listLiveSessions('user-a', NOW + HOUR - 1);
        assert.deepEqual(
          listed.map((session) => [session.id, session.createdAt]),
          [
            ['fam-s', start],
            ['fam-t', NOW - MINUTE],
          ],
        );
        const revoked = await storage.refreshTokens.revokeFamiliesOfOrg('org-x', NOW + HOUR, { startedBefore: NOW - 2 * HOUR });
        assert.deepEqual(revoked.map((f) => f.familyId), ['fam-s']);
      });

      it('insert keeps the client of the token (userAgent, ip); find reads them back', async () => {
        const token = newToken('1', 'fam-1', 'user-a', { userAgent: 'Phone/1.0', ip: '203.0.113.9' });
        await storage.refreshTokens.insert(token);
        assert.deepEqual(await storage.refreshTokens.find('token-hash-1'), { ...token, usedAt: null, revokedAt: null });
      });

      it("listLiveSessions summarises the user's live families: the sign-in, the newest token's client, most recently used first", async () => {
        // fam-1: signed in at NOW, rotated at NOW + 2 from another client.
        await storage.refreshTokens.insert(newToken('1a', 'fam-1', 'user-a', { orgId: 'org-x', userAgent: 'Old/1', ip: '10.0.0.1' }));
        assert.ok(await storage.refreshTokens.consume('token-hash-1a', NOW + 2));
        await storage.refreshTokens.insert(newToken('1b', 'fam-1', 'user-a', { orgId: 'org-x', createdAt: NOW + 2, userAgent: 'New/2', ip: '10.0.0.2' }));
        // fam-2: an app session signed in at NOW + 1.
        await storage.refreshTokens.insert(newToken('2', 'fam-2', 'user-a', { orgId: 'org-y', appId: 'app-1', createdAt: NOW + 1, familyExpiresAt: NOW + HOUR }));
        // Not live: revoked, rotated away only, expired; and another user's.
        await storage.refreshTokens.insert(newToken('3', 'fam-3', 'user-a'));
        await storage.refreshTokens.revokeFamily('fam-3', NOW);
        await storage.refreshTokens.insert(newToken('4', 'fam-4', 'user-a'));
        assert.ok(await storage.refreshTokens.consume('token-hash-4', NOW));
        await storage.refreshTokens.insert(newToken('5', 'fam-5', 'user-a', { expiresAt: NOW - 1 }));
        await storage.refreshTokens.insert(newToken('6', 'fam-6', 'user-b'));

        assert.deepEqual(await storage.refreshTokens.listLiveSessions('user-a', NOW + 3), [
          { id: 'fam-1', userId: 'user-a', orgId: 'org-x', appId: null, createdAt: NOW, lastUsedAt: NOW + 2, userAgent: 'New/2', ip: '10.0.0.2', expiresAt: NOW + 30 * DAY, revoked: false },
          { id: 'fam-2', userId: 'user-a', orgId: 'org-y', appId: 'app-1', createdAt: NOW + 1, lastUsedAt: NOW + 1, userAgent: null, ip: null, expiresAt: NOW + HOUR, revoked: false },
        ]);
        assert.deepEqual(await storage.refreshTokens.listLiveSessions('user-c', NOW), []);
      });

      it('touch records a renewal: lastUsedAt, and the client when given', async () => {
        await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a', { userAgent: 'Phone/1.0', ip: '10.0.0.1' }));
        await storage.refreshTokens.touch('token-hash-1', NOW + 5, { userAgent: null, ip: '10.0.0.9' });
        const row = await storage.refreshTokens.find('token-hash-1');
        assert.deepEqual([row?.lastUsedAt, row?.userAgent, row?.ip, row?.usedAt], [NOW + 5, 'Phone/1.0', '10.0.0.9', null]);
        const [session] = await storage.refreshTokens.listLiveSessions('user-a', NOW + 6);
        assert.deepEqual([session?.lastUsedAt, session?.createdAt], [NOW + 5, NOW]);
      });

      it('findSession describes a family whatever its state, and null for an unknown one', async () => {
        await storage.refreshTokens.insert(newToken('1a', 'fam-1', 'user-a', { userAgent: 'A/1' }));
        await storage.refreshTokens.insert(newToken('1b', 'fam-1', 'user-a', { createdAt: NOW + 1, userAgent: 'A/2' }));
        await storage.refreshTokens.revokeFamily('fam-1', NOW + 2);
        assert.deepEqual(await storage.refreshTokens.findSession('fam-1'), {
          id: 'fam-1',
          userId: 'user-a',
          orgId: null,
          appId: null,
          createdAt: NOW,
          lastUsedAt: NOW + 1,
          userAgent: 'A/2',
          ip: null,
          expiresAt: NOW + 30 * DAY,
          revoked: true,
        });
        assert.equal(await storage.refreshTokens.findSession('fam-zzz'), null);
      });

      it("revokeFamiliesOfOrg revokes every user's live families scoped to the org, app sessions included", async () => {
        await storage.refreshTokens.insert(newToken('ax', 'fam-ax', 'user-a', { orgId: 'org-x', familyExpiresAt: NOW + HOUR }));
        await storage.refreshTokens.insert(newToken('bx', 'fam-bx', 'user-b', { orgId: 'org-x', appId: 'app-1', familyExpiresAt: NOW + 2 * HOUR }));
        await storage.refreshTokens.insert(newToken('ay', 'fam-ay', 'user-a', { orgId: 'org-y' }));
        await storage.refreshTokens.insert(newToken('old', 'fam-old', 'user-a', { orgId: 'org-x', expiresAt: NOW - HOUR, familyExpiresAt: NOW - HOUR }));
        const revoked = await storage.refreshTokens.revokeFamiliesOfOrg('org-x', NOW);
        assert.deepEqual(
          [...revoked].sort((x, y) => x.familyId.localeCompare(y.familyId)),
          [
            { familyId: 'fam-ax', familyExpiresAt: NOW + HOUR },
            { familyId: 'fam-bx', familyExpiresAt: NOW + 2 * HOUR },
          ],
        );
        assert.equal((await storage.refreshTokens.find('token-hash-ay'))?.revokedAt, null);
        assert.equal((await storage.refreshTokens.find('token-hash-old'))?.revokedAt, null);
        assert.deepEqual(await storage.refreshTokens.revokeFamiliesOfOrg('org-x', NOW + 1), []);
      });

      it('keeps the method a session began with, through find and findSession', async () => {
        await storage.refreshTokens.insert(newToken('m', 'fam-m', 'user-a', { orgId: 'org-x', method: 'passkey' }));
        await storage.refreshTokens.insert(newToken('n', 'fam-n', 'user-a'));
        assert.equal((await storage.refreshTokens.find('token-hash-m'))?.method, 'passkey');
        assert.equal((await storage.refreshTokens.findSession('fam-m'))?.method, 'passkey');
        assert.equal((await storage.refreshTokens.find('token-hash-n'))?.method ?? null, null);
      });

      it('revokeFamiliesOfOrg with a filter revokes only the families an org policy no longer allows', async () => {
        await storage.refreshTokens.insert(newToken('pw', 'fam-pw', 'user-a', { orgId: 'org-x', method: 'password' }));
        await storage.refreshTokens.insert(newToken('go', 'fam-go', 'user-a', { orgId: 'org-x', method: 'google' }));
        await storage.refreshTokens.insert(newToken('unknown', 'fam-unknown', 'user-b', { orgId: 'org-x' }));
        await storage.refreshTokens.insert(newToken('go-y', 'fam-go-y', 'user-a', { orgId: 'org-y', method: 'google' }));
        const byMethod = await storage.refreshTokens.revokeFamiliesOfOrg('org-x', NOW, { methodsNotIn: ['password'] });
        assert.deepEqual(byMethod.map((f) => f.familyId).sort(), ['fam-go', 'fam-unknown']);
        assert.equal((await storage.refreshTokens.find('token-hash-pw'))?.revokedAt, null);
        assert.equal((await storage.refreshTokens.find('token-hash-go-y'))?.revokedAt, null);

        // Started (first token) before the cutoff: a later rotation does not make a family younger.
        await storage.refreshTokens.insert(newToken('old-1', 'fam-old', 'user-a', { orgId: 'org-y', createdAt: NOW - 2 * HOUR }));
        await storage.refreshTokens.insert(newToken('old-2', 'fam-old', 'user-a', { orgId: 'org-y', createdAt: NOW }));
        const byAge = await storage.refreshTokens.revokeFamiliesOfOrg('org-y', NOW, { startedBefore: NOW - HOUR });
        assert.deepEqual(byAge.map((f) => f.familyId), ['fam-old']);

        await storage.refreshTokens.insert(newToken('b-y', 'fam-b-y', 'user-b', { orgId: 'org-y' }));
        const byUser = await storage.refreshTokens.revokeFamiliesOfOrg('org-y', NOW, { userIds: ['user-b'] });
        assert.deepEqual(byUser.map((f) => f.familyId), ['fam-b-y']);
        assert.equal((await storage.refreshTokens.find('token-hash-go-y'))?.revokedAt, null);
      });
    });

    describe('org policies', () => {
      beforeEach(async () => {
        await storage.orgs.create(newOrg('p'));
      });

      it('find is null until save; save stores every field and replaces the previous policy', async () => {
        assert.equal(await storage.orgPolicies.find('org-p'), null);
        const policy = { orgId: 'org-p', requireMfa: true, allowedSignInMethods: ['password', 'https://issuer.example'], maxSessionAge: 3600, apiKeyMaxLifetime: null, updatedAt: NOW };
        await storage.orgPolicies.save(policy);
        assert.deepEqual(await storage.orgPolicies.find('org-p'), policy);
        const next = { orgId: 'org-p', requireMfa: false, allowedSignInMethods: null, maxSessionAge: null, apiKeyMaxLifetime: 86_400, updatedAt: NOW + 1 };
        await storage.orgPolicies.save(next);
        assert.deepEqual(await storage.orgPolicies.find('org-p'), next);
      });

      it('goes with its org', async () => {
        await storage.orgPolicies.save({ orgId: 'org-p', requireMfa: true, allowedSignInMethods: null, maxSessionAge: null, apiKeyMaxLifetime: null, updatedAt: NOW });
        assert.equal(await storage.orgs.delete('org-p'), true);
        assert.equal(await storage.orgPolicies.find('org-p'), null);
      });
    });

    describe('deleting users and orgs', () => {
      beforeEach(async () => {
        await storage.users.create(newUser('a'));
        await storage.users.create(newUser('b'));
        await storage.orgs.create(newOrg('1'));
        await storage.orgs.create(newOrg('2'));
        for (const [userId, orgId] of [
          ['user-a', 'org-1'],
          ['user-b', 'org-1'],
          ['user-a', 'org-2'],
        ] as const) {
          await storage.memberships.add({ userId, orgId, role: 'owner', createdAt: NOW });
        }
        const key = (id: string, orgId: string, createdBy: string) => ({
          id,
          orgId,
          name: id,
          prefix: `prefix-${id}`,
          secretHash: `hash-${id}`,
          role: 'member' as const,
          createdBy,
          createdAt: NOW,
          expiresAt: null,
        });
        await storage.apiKeys.create(key('ka1', 'org-1', 'user-a'));
        await storage.apiKeys.create(key('kb1', 'org-1', 'user-b'));
        await storage.apiKeys.create(key('ka2', 'org-2', 'user-a'));
        await storage.invitations.create(newInvitation('1', 'org-1', { createdBy: 'user-a' }));
        await storage.invitations.create(newInvitation('2', 'org-2', { createdBy: 'user-a' }));
        const app = (n: string, orgId: string) => ({ id: `app-${n}`, orgId, name: n, url: `https://${n}.example.com`, urlKey: `${n}.example.com`, redirectUrl: null, createdAt: NOW });
        await storage.applications.create(app('1', 'org-1'));
        await storage.applications.create(app('2', 'org-2'));
        await storage.applications.grant('app-1', 'user-a', NOW);
        await storage.applications.grant('app-1', 'user-b', NOW);
        await storage.refreshTokens.insert(newToken('a', 'fam-a', 'user-a', { orgId: 'org-1' }));
        await storage.refreshTokens.insert(newToken('b', 'fam-b', 'user-b', { orgId: 'org-1' }));
        await storage.mfa.savePendingTotp('user-a', 'ciphertext', NOW);
        await storage.mfa.enableTotp('user-a', NOW);
        await storage.mfa.replaceRecoveryCodes('user-a', ['code-hash-1'], NOW);
        await storage.identities.create({ provider: 'google', subject: 'sub-a', userId: 'user-a', email: null, createdAt: NOW });
      });

      it("users.delete removes the user and what is theirs, and leaves orgs and other users' things alone", async () => {
        assert.equal(await storage.users.delete('user-a'), true);
        assert.equal(await storage.users.findById('user-a'), null);
        assert.deepEqual(await storage.memberships.listForUser('user-a'), []);
        assert.deepEqual(
          (await storage.memberships.listForOrg('org-1')).map((m) => m.userId),
          ['user-b'],
        );
        assert.equal(await storage.refreshTokens.find('token-hash-a'), null);
        assert.ok(await storage.refreshTokens.find('token-hash-b'));
        assert.deepEqual(
          (await storage.apiKeys.listForOrg('org-1')).map((k) => k.id),
          ['kb1'],
        );
        assert.deepEqual(await storage.apiKeys.listForOrg('org-2'), []);
        assert.equal(await storage.mfa.findTotp('user-a'), null);
        assert.equal(await storage.mfa.countUnusedRecoveryCodes('user-a'), 0);
        assert.equal(await storage.identities.findBySubject('google', 'sub-a'), null);
        assert.equal(await storage.applications.hasGrant('app-1', 'user-a'), false);
        assert.equal(await storage.applications.hasGrant('app-1', 'user-b'), true);
        assert.ok(await storage.orgs.findById('org-1'));
        assert.ok(await storage.orgs.findById('org-2'));
        // The email is free again.
        await storage.users.create(newUser('a'));
        assert.equal(await storage.users.delete('user-zzz'), false);
      });

      it('orgs.delete removes the org with its memberships, invitations, API keys and applications', async () => {
        assert.equal(await storage.orgs.delete('org-1'), true);
        assert.equal(await storage.orgs.findById('org-1'), null);
        assert.deepEqual(await storage.memberships.listForOrg('org-1'), []);
        assert.deepEqual(
          (await storage.memberships.listForUser('user-a')).map((m) => m.orgId),
          ['org-2'],
        );
        assert.equal(await storage.invitations.findByCodeHash('code-hash-1'), null);
        assert.ok(await storage.invitations.findByCodeHash('code-hash-2'));
        assert.deepEqual(await storage.apiKeys.listForOrg('org-1'), []);
        assert.equal(await storage.apiKeys.findByPrefix('prefix-ka1'), null);
        assert.ok(await storage.apiKeys.findByPrefix('prefix-ka2'));
        assert.equal(await storage.applications.findById('app-1'), null);
        assert.equal(await storage.applications.hasGrant('app-1', 'user-b'), false);
        assert.ok(await storage.applications.findById('app-2'));
        assert.ok(await storage.users.findById('user-a'));
        assert.ok(await storage.users.findById('user-b'));
        // Sessions scoped to it are the caller's to revoke.
        assert.ok(await storage.refreshTokens.find('token-hash-a'));
        // The slug is free again.
        await storage.orgs.create(newOrg('1'));
        assert.equal(await storage.orgs.delete('org-zzz'), false);
      });

      it('both run inside a transaction and roll back with it', async () => {
        await assert.rejects(
          storage.transaction(async (tx) => {
            await tx.orgs.delete('org-2');
            await tx.users.delete('user-a');
            throw new Error('rollback');
          }),
          /rollback/,
        );
        assert.ok(await storage.users.findById('user-a'));
        assert.ok(await storage.orgs.findById('org-2'));
        assert.ok(await storage.apiKeys.findByPrefix('prefix-ka2'));
        assert.equal((await storage.memberships.listForUser('user-a')).length, 2);
      });
    });

    describe('api keys', () => {
      const newKey = (n: string, orgId: string, overrides: Partial<NewApiKey> = {}): NewApiKey => ({
        id: `key-${n}`,
        orgId,
        name: `Key ${n}`,
        prefix: `prefix${n}`,
        secretHash: `secret-hash-${n}`,
        role: 'member',
        createdBy: 'user-a',
        createdAt: NOW,
        expiresAt: null,
        ...overrides,
      });

      beforeEach(async () => {
        await storage.users.create(newUser('a'));
        await storage.orgs.create(newOrg('1'));
        await storage.orgs.create(newOrg('2'));
      });

      it('create returns the record and findByPrefix reads it back', async () => {
        const created = await storage.apiKeys.create(newKey('a', 'org-1', { role: 'admin', expiresAt: NOW + DAY }));
        const expected = { ...newKey('a', 'org-1', { role: 'admin', expiresAt: NOW + DAY }), lastUsedAt: null, revokedAt: null };
        assert.deepEqual(created, expected);
        assert.deepEqual(await storage.apiKeys.findByPrefix('prefixa'), expected);
        assert.equal(await storage.apiKeys.findByPrefix('prefixz'), null);
      });

      it('a duplicate prefix throws StorageConflictError with field "prefix"', async () => {
        await storage.apiKeys.create(newKey('a', 'org-1'));
        await assert.rejects(storage.apiKeys.create(newKey('b', 'org-1', { prefix: 'prefixa' })), (err: unknown) => {
          assert.ok(err instanceof StorageConflictError);
          assert.equal(err.field, 'prefix');
          return true;
        });
      });

      it('listForOrg lists the org’s unrevoked keys, oldest first', async () => {
        await storage.apiKeys.create(newKey('b', 'org-1', { createdAt: NOW + 2 }));
        await storage.apiKeys.create(newKey('a', 'org-1', { createdAt: NOW + 1 }));
        await storage.apiKeys.create(newKey('c', 'org-2'));
        await storage.apiKeys.create(newKey('d', 'org-1', { createdAt: NOW + 3 }));
        await storage.apiKeys.revoke('org-1', 'key-d', NOW);
        assert.deepEqual((await storage.apiKeys.listForOrg('org-1')).map((k) => k.id), ['key-a', 'key-b']);
      });

      it('revoke marks only the org’s own unrevoked key and returns it', async () => {
        await storage.apiKeys.create(newKey('a', 'org-1'));
        assert.equal(await storage.apiKeys.revoke('org-2', 'key-a', NOW + 1), null);
        const revoked = await storage.apiKeys.revoke('org-1', 'key-a', NOW + 1);
        assert.equal(revoked?.revokedAt, NOW + 1);
        assert.equal(await storage.apiKeys.revoke('org-1', 'key-a', NOW + 2), null);
        assert.equal((await storage.apiKeys.findByPrefix('prefixa'))?.revokedAt, NOW + 1);
      });

      it("revokeByCreator revokes the creator's unrevoked keys of that org and returns them", async () => {
        await storage.users.create(newUser('b'));
        await storage.apiKeys.create(newKey('a', 'org-1'));
        await storage.apiKeys.create(newKey('b', 'org-1', { expiresAt: NOW + DAY }));
        await storage.apiKeys.create(newKey('c', 'org-2'));
        await storage.apiKeys.create(newKey('d', 'org-1', { createdBy: 'user-b' }));
        await storage.apiKeys.create(newKey('e', 'org-1'));
        await storage.apiKeys.revoke('org-1', 'key-e', NOW);

        const revoked = byId(await storage.apiKeys.revokeByCreator('org-1', 'user-a', NOW + 1));
        assert.deepEqual(
          revoked.map((k) => [k.id, k.revokedAt]),
          [
            ['key-a', NOW + 1],
            ['key-b', NOW + 1],
          ],
        );
        assert.equal(revoked[1]?.expiresAt, NOW + DAY);
        assert.equal((await storage.apiKeys.findByPrefix('prefixe'))?.revokedAt, NOW);
        for (const p of ['prefixc', 'prefixd']) assert.equal((await storage.apiKeys.findByPrefix(p))?.revokedAt, null, p);
        assert.deepEqual(await storage.apiKeys.revokeByCreator('org-1', 'user-a', NOW + 2), []);
      });

      it("capRoleByCreator lowers the creator's keys of that org whose role is listed", async () => {
        await storage.users.create(newUser('b'));
        await storage.apiKeys.create(newKey('owner', 'org-1', { role: 'owner' }));
        await storage.apiKeys.create(newKey('admin', 'org-1', { role: 'admin' }));
        await storage.apiKeys.create(newKey('member', 'org-1', { role: 'member' }));
        await storage.apiKeys.create(newKey('org2', 'org-2', { role: 'owner' }));
        await storage.apiKeys.create(newKey('other', 'org-1', { role: 'owner', createdBy: 'user-b' }));

        assert.equal(await storage.apiKeys.capRoleByCreator('org-1', 'user-a', 'member', ['owner', 'admin']), 2);
        const roleOf = async (n: string) => (await storage.apiKeys.findByPrefix(`prefix${n}`))?.role;
        assert.equal(await roleOf('owner'), 'member');
        assert.equal(await roleOf('admin'), 'member');
        assert.equal(await roleOf('member'), 'member');
        assert.equal(await roleOf('org2'), 'owner');
        assert.equal(await roleOf('other'), 'owner');
        assert.equal(await storage.apiKeys.capRoleByCreator('org-1', 'user-a', 'member', []), 0);
      });

      it('touch records the last use', async () => {
        await storage.apiKeys.create(newKey('a', 'org-1'));
        assert.equal(await storage.apiKeys.touch('key-a', NOW + 5), true);
        assert.equal((await storage.apiKeys.findByPrefix('prefixa'))?.lastUsedAt, NOW + 5);
        assert.equal(await storage.apiKeys.touch('key-a', NOW + 9), false);
        assert.equal((await storage.apiKeys.findByPrefix('prefixa'))?.lastUsedAt, NOW + 9);
      });

      it('of 20 concurrent first uses, touch calls exactly one the first', async () => {
        await storage.apiKeys.create(newKey('a', 'org-1'));
        const firsts = await Promise.all(Array.from({ length: 20 }, (_, i) => storage.apiKeys.touch('key-a', NOW + i)));
        assert.equal(firsts.filter(Boolean).length, 1);
      });
    });

    describe('mfa', () => {
      beforeEach(async () => {
        await storage.users.create(newUser('a'));
      });

      it('keeps a pending secret, replaces it while pending, and enables it', async () => {
        assert.equal(await storage.mfa.findTotp('user-a'), null);
        assert.equal(await storage.mfa.savePendingTotp('user-a', 'sealed-1', NOW), true);
        assert.equal(await storage.mfa.savePendingTotp('user-a', 'sealed-2', NOW + 1), true);
        assert.deepEqual(await storage.mfa.findTotp('user-a'), {
          userId: 'user-a',
          secretCiphertext: 'sealed-2',
          enabledAt: null,
          lastUsedStep: null,
          createdAt: NOW + 1,
        });
        assert.equal(await storage.mfa.enableTotp('user-a', NOW + 2), true);
        assert.equal(await storage.mfa.enableTotp('user-a', NOW + 3), false);
        assert.equal((await storage.mfa.findTotp('user-a'))?.enabledAt, NOW + 2);
      });

      it('never replaces an enabled secret', async () => {
        await storage.mfa.savePendingTotp('user-a', 'sealed-1', NOW);
        await storage.mfa.enableTotp('user-a', NOW);
        assert.equal(await storage.mfa.savePendingTotp('user-a', 'sealed-2', NOW), false);
        assert.equal((await storage.mfa.findTotp('user-a'))?.secretCiphertext, 'sealed-1');
      });

      it('accepts each time step once and only ever later steps', async () => {
        await storage.mfa.savePendingTotp('user-a', 'sealed-1', NOW);
        assert.equal(await storage.mfa.consumeTotpStep('user-a', 100), true);
        assert.equal(await storage.mfa.consumeTotpStep('user-a', 100), false);
        assert.equal(await storage.mfa.consumeTotpStep('user-a', 99), false);
        assert.equal(await storage.mfa.consumeTotpStep('user-a', 101), true);
        const results = await Promise.all(Array.from({ length: 10 }, () => storage.mfa.consumeTotpStep('user-a', 200)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('consumes a recovery code once, also under 10 concurrent uses', async () => {
        await storage.mfa.replaceRecoveryCodes('user-a', ['h1', 'h2', 'h3'], NOW);
        assert.equal(await storage.mfa.countUnusedRecoveryCodes('user-a'), 3);
        const results = await Promise.all(Array.from({ length: 10 }, () => storage.mfa.consumeRecoveryCode('user-a', 'h1', NOW)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal(await storage.mfa.consumeRecoveryCode('user-a', 'nope', NOW), false);
        assert.equal(await storage.mfa.countUnusedRecoveryCodes('user-a'), 2);
        await storage.mfa.replaceRecoveryCodes('user-a', ['h9'], NOW);
        assert.equal(await storage.mfa.consumeRecoveryCode('user-a', 'h2', NOW), false);
        assert.equal(await storage.mfa.countUnusedRecoveryCodes('user-a'), 1);
      });

      it('deleteTotp removes the secret and every recovery code', async () => {
        await storage.mfa.savePendingTotp('user-a', 'sealed-1', NOW);
        await storage.mfa.replaceRecoveryCodes('user-a', ['h1'], NOW);
        await storage.mfa.deleteTotp('user-a');
        assert.equal(await storage.mfa.findTotp('user-a'), null);
        assert.equal(await storage.mfa.countUnusedRecoveryCodes('user-a'), 0);
      });
    });

    describe('applications', () => {
      const newApp = (n: string, orgId: string, overrides: Partial<ApplicationRecord> = {}): ApplicationRecord => ({
        id: `app-${n}`,
        orgId,
        name: `App ${n}`,
        url: `https://${n}.example.com`,
        urlKey: `${n}.example.com`,
        redirectUrl: null,
        createdAt: NOW,
        ...overrides,
      });

      beforeEach(async () => {
        await storage.users.create(newUser('a'));
        await storage.users.create(newUser('b'));
        await storage.orgs.create(newOrg('1'));
        await storage.orgs.create(newOrg('2'));
      });

      it('creates and finds by id and by URL key; a taken URL key is a conflict on url_key', async () => {
        const app = newApp('x', 'org-1', { redirectUrl: 'https://sso.example.com' });
        assert.deepEqual(await storage.applications.create(app), app);
        assert.deepEqual(await storage.applications.findById('app-x'), app);
        assert.deepEqual(await storage.applications.findByUrlKey('x.example.com'), app);
        assert.equal(await storage.applications.findByUrlKey('y.example.com'), null);
        await rejectsWithConflict(storage.applications.create(newApp('y', 'org-2', { urlKey: 'x.example.com' })), 'url_key');
      });

      it('lists an org’s applications oldest first and removes only its own', async () => {
        await storage.applications.create(newApp('b', 'org-1', { createdAt: NOW + 2 }));
        await storage.applications.create(newApp('a', 'org-1', { createdAt: NOW + 1 }));
        await storage.applications.create(newApp('c', 'org-2'));
        assert.deepEqual((await storage.applications.listForOrg('org-1')).map((a) => a.id), ['app-a', 'app-b']);
        assert.equal(await storage.applications.remove('org-2', 'app-a'), false);
        assert.equal(await storage.applications.remove('org-1', 'app-a'), true);
        assert.equal(await storage.applications.findById('app-a'), null);
      });

      it('grants idempotently, revokes, and removing the application removes its grants', async () => {
        await storage.applications.create(newApp('x', 'org-1'));
        await storage.applications.grant('app-x', 'user-a', NOW);
        await storage.applications.grant('app-x', 'user-a', NOW + 1);
        await storage.applications.grant('app-x', 'user-b', NOW + 2);
        assert.equal(await storage.applications.hasGrant('app-x', 'user-a'), true);
        assert.deepEqual(await storage.applications.listGrants('app-x'), ['user-a', 'user-b']);
        assert.equal(await storage.applications.revokeGrant('app-x', 'user-a'), true);
        assert.equal(await storage.applications.revokeGrant('app-x', 'user-a'), false);
        assert.equal(await storage.applications.hasGrant('app-x', 'user-a'), false);
        await storage.applications.remove('org-1', 'app-x');
        assert.deepEqual(await storage.applications.listGrants('app-x'), []);
      });

      it("revokeGrantsInOrg removes the user's grants to that org's applications only", async () => {
        await storage.applications.create(newApp('x', 'org-1'));
        await storage.applications.create(newApp('y', 'org-1'));
        await storage.applications.create(newApp('z', 'org-2'));
        for (const app of ['app-x', 'app-y', 'app-z']) await storage.applications.grant(app, 'user-a', NOW);
        await storage.applications.grant('app-x', 'user-b', NOW);
        assert.equal(await storage.applications.revokeGrantsInOrg('org-1', 'user-a'), 2);
        assert.equal(await storage.applications.hasGrant('app-x', 'user-a'), false);
        assert.equal(await storage.applications.hasGrant('app-y', 'user-a'), false);
        assert.equal(await storage.applications.hasGrant('app-z', 'user-a'), true);
        assert.equal(await storage.applications.hasGrant('app-x', 'user-b'), true);
        assert.equal(await storage.applications.revokeGrantsInOrg('org-1', 'user-a'), 0);
      });
    });

    describe('used tokens', () => {
      it('consumes a token id once, also under 10 concurrent consumes, and purges expired ones', async () => {
        const results = await Promise.all(Array.from({ length: 10 }, () => storage.usedTokens.consume('id-hash-1', NOW + MINUTE)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal(await storage.usedTokens.consume('id-hash-1', NOW + MINUTE), false);
        assert.equal(await storage.usedTokens.consume('id-hash-2', NOW + HOUR), true);
        assert.equal(await storage.usedTokens.purgeExpired(NOW + MINUTE), 1);
        assert.equal(await storage.usedTokens.consume('id-hash-2', NOW + HOUR), false);
      });

      it('a consume in a rolled-back transaction leaves the token unused', async () => {
        await assert.rejects(
          storage.transaction(async (tx) => {
            assert.equal(await tx.usedTokens.consume('id-hash-1', NOW + MINUTE), true);
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.equal(await storage.usedTokens.consume('id-hash-1', NOW + MINUTE), true);
      });
    });

    outboxContract({ describe, it }, () => storage);

    webhookContract({ describe, it }, () => storage);

    mailTokenContract({ describe, it, beforeEach }, () => storage);

    passkeyContract({ describe, it, beforeEach }, () => storage);

    auditContract({ describe, it }, () => storage);

    orgRoleContract({ describe, it }, () => storage);

    describe('settings (optional)', () => {
      it('keeps the first value stored under a name, also under 10 concurrent ensures with different values', async () => {
        const settings = storage.settings;
        if (!settings) return;
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => settings.ensure({ name: 'instance_id', value: `value-${i}`, createdAt: NOW + i })));
        const first = results[0]!;
        assert.ok(results.every((r) => r.value === first.value && r.createdAt === first.createdAt));
        assert.equal(first.createdAt, NOW + Number(first.value.slice('value-'.length)));
        assert.deepEqual(await settings.ensure({ name: 'instance_id', value: 'later', createdAt: NOW + HOUR }), first);
        assert.deepEqual(await settings.ensure({ name: 'other', value: 'x', createdAt: NOW }), { name: 'other', value: 'x', createdAt: NOW });
      });
    });

    describe('job leases (optional)', () => {
      it('of 10 concurrent claims of a due job exactly one wins, and the next claim wins only once the run is due again', async () => {
        const jobs = storage.jobs;
        if (!jobs) return;
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => jobs.claim('purge', `instance-${i}`, NOW, NOW + MINUTE)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal(await jobs.claim('purge', 'late', NOW + MINUTE - 1, NOW + 2 * MINUTE), false);
        assert.equal(await jobs.claim('other', 'late', NOW, NOW + MINUTE), true, 'each job has its own lease');
        assert.equal(await jobs.claim('purge', 'late', NOW + MINUTE, NOW + 2 * MINUTE), true);
        assert.equal(await jobs.claim('purge', 'again', NOW + MINUTE, NOW + 2 * MINUTE), false);
      });
    });

    describe('purge batches', () => {
      it('purgeExpired with a limit deletes at most that many expired rows per call, and only expired ones', async () => {
        for (let i = 0; i < 5; i++) await storage.usedTokens.consume(`old-${i}`, NOW - MINUTE);
        await storage.usedTokens.consume('live', NOW + HOUR);
        assert.equal(await storage.usedTokens.purgeExpired(NOW, 2), 2);
        assert.equal(await storage.usedTokens.purgeExpired(NOW, 2), 2);
        assert.equal(await storage.usedTokens.purgeExpired(NOW, 2), 1);
        assert.equal(await storage.usedTokens.purgeExpired(NOW, 2), 0);
        assert.equal(await storage.usedTokens.consume('live', NOW + HOUR), false, 'the live entry is kept');
        for (let i = 0; i < 3; i++) await storage.revocations.add({ kind: 'token', key: `old-${i}`, expiresAt: NOW - MINUTE, createdAt: NOW - HOUR });
        await storage.revocations.add({ kind: 'token', key: 'live', expiresAt: NOW + HOUR, createdAt: NOW });
        assert.equal(await storage.revocations.purgeExpired(NOW, 2), 2);
        assert.equal(await storage.revocations.purgeExpired(NOW, 2), 1);
        assert.deepEqual((await storage.revocations.listActive(NOW)).entries.map((e) => e.key), ['live']);
      });
    });

    describe('revocations', () => {
      it('an empty store lists nothing and its cursor lists nothing new', async () => {
        const page = await storage.revocations.listActive(NOW);
        assert.deepEqual(page.entries, []);
        assert.equal(typeof page.cursor, 'string');
        assert.deepEqual(await storage.revocations.listSince(page.cursor), { entries: [], cursor: page.cursor });
      });

      it('listActive returns the revocations still in force and a cursor past them', async () => {
        await storage.revocations.add(revocation('jti-1', NOW + HOUR));
        await storage.revocations.add(revocation('jti-old', NOW - 1));
        await storage.revocations.add(revocation('sid-1', NOW + DAY, 'family'));

        const page = await storage.revocations.listActive(NOW);
        assert.deepEqual(
          [...page.entries].sort((a, b) => a.key.localeCompare(b.key)),
          [revocation('jti-1', NOW + HOUR), revocation('sid-1', NOW + DAY, 'family')],
        );
        assert.deepEqual(await storage.revocations.listSince(page.cursor), { entries: [], cursor: page.cursor });
      });

      it('listSince returns what was added after the cursor, in order, and advances it', async () => {
        await storage.revocations.add(revocation('jti-1', NOW + HOUR));
        const start = await storage.revocations.listActive(NOW);

        await storage.revocations.add(revocation('jti-2', NOW + HOUR));
        await storage.revocations.add(revocation('sid-2', NOW + DAY, 'family'));
        const next = await storage.revocations.listSince(start.cursor);
        assert.deepEqual(next.entries, [revocation('jti-2', NOW + HOUR), revocation('sid-2', NOW + DAY, 'family')]);
        assert.notEqual(next.cursor, start.cursor);

        assert.deepEqual(await storage.revocations.listSince(next.cursor), { entries: [], cursor: next.cursor });

        await storage.revocations.add(revocation('jti-3', NOW + HOUR));
        const last = await storage.revocations.listSince(next.cursor);
        assert.deepEqual(last.entries, [revocation('jti-3', NOW + HOUR)]);
        assert.notEqual(last.cursor, next.cursor);
      });

      it('listSince from the cursor of an empty store returns every later addition in order', async () => {
        const { cursor } = await storage.revocations.listActive(NOW);
        const added = [
          revocation('jti-1', NOW + HOUR),
          revocation('jti-old', NOW - HOUR),
          revocation('sid-1', NOW + DAY, 'family'),
        ];
        for (const entry of added) await storage.revocations.add(entry);
        assert.deepEqual((await storage.revocations.listSince(cursor)).entries, added);
      });

      it('purgeExpired deletes expired revocations, counts them and keeps cursors working', async () => {
        const { cursor } = await storage.revocations.listActive(NOW);
        await storage.revocations.add(revocation('jti-old1', NOW - HOUR));
        await storage.revocations.add(revocation('jti-live', NOW + HOUR));
        await storage.revocations.add(revocation('sid-old', NOW - MINUTE, 'family'));

        assert.equal(await storage.revocations.purgeExpired(NOW), 2);
        assert.deepEqual((await storage.revocations.listActive(NOW)).entries, [revocation('jti-live', NOW + HOUR)]);
        const since = await storage.revocations.listSince(cursor);
        assert.deepEqual(since.entries, [revocation('jti-live', NOW + HOUR)]);
        assert.equal(await storage.revocations.purgeExpired(NOW), 0);

        await storage.revocations.add(revocation('jti-new', NOW + HOUR));
        assert.deepEqual((await storage.revocations.listSince(since.cursor)).entries, [revocation('jti-new', NOW + HOUR)]);
      });
    });

    describe('identities', () => {
      const identity = (provider: string, subject: string, userId: string, overrides: Partial<IdentityRecord> = {}): IdentityRecord => ({
        provider,
        subject,
        userId,
        email: `${subject}@example.com`,
        createdAt: NOW,
        ...overrides,
      });

      beforeEach(async () => {
        await storage.users.create(newUser('a', { passwordHash: null }));
        await storage.users.create(newUser('b'));
      });

      it('create returns the record and findBySubject reads it back by provider and subject', async () => {
        const input = identity('https://issuer.example.com/', 'auth0|123', 'user-a', { email: null, createdAt: 1_712_345_678_901 });
        assert.deepEqual(await storage.identities.create(input), input);
        assert.deepEqual(await storage.identities.findBySubject('https://issuer.example.com/', 'auth0|123'), input);
        assert.equal(await storage.identities.findBySubject('https://issuer.example.com/', 'auth0|124'), null);
        assert.equal(await storage.identities.findBySubject('google', 'auth0|123'), null);
      });

      it('a duplicate (provider, subject) throws StorageConflictError with field "identity"', async () => {
        await storage.identities.create(identity('google', 'sub-1', 'user-a'));
        await rejectsWithConflict(storage.identities.create(identity('google', 'sub-1', 'user-b')), 'identity');
        assert.equal((await storage.identities.findBySubject('google', 'sub-1'))?.userId, 'user-a');
        // The same subject at another provider is another identity.
        await storage.identities.create(identity('https://issuer.example.com/', 'sub-1', 'user-b'));
      });

      it('listForUser lists the user’s identities, oldest first', async () => {
        await storage.identities.create(identity('https://issuer.example.com/', 'x', 'user-a', { createdAt: NOW + 2 }));
        await storage.identities.create(identity('google', 'g', 'user-a', { createdAt: NOW + 1 }));
        await storage.identities.create(identity('google', 'other', 'user-b'));
        assert.deepEqual(
          (await storage.identities.listForUser('user-a')).map((i) => [i.provider, i.subject]),
          [
            ['google', 'g'],
            ['https://issuer.example.com/', 'x'],
          ],
        );
        assert.deepEqual(await storage.identities.listForUser('user-z'), []);
      });

      it('a user and their identity created in a rolled-back transaction are both gone', async () => {
        await assert.rejects(
          storage.transaction(async (tx) => {
            await tx.users.create(newUser('c', { passwordHash: null }));
            await tx.identities.create(identity('google', 'sub-c', 'user-c'));
            assert.equal((await tx.identities.findBySubject('google', 'sub-c'))?.userId, 'user-c');
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.equal(await storage.identities.findBySubject('google', 'sub-c'), null);
        assert.equal(await storage.users.findById('user-c'), null);
      });
    });

    describe('transaction', () => {
      it('commits the writes when fn resolves and returns its value', async () => {
        const result = await storage.transaction(async (tx) => {
          await tx.users.create(newUser('a'));
          await tx.orgs.create(newOrg('x'));
          await tx.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW });
          // Reads inside the transaction see its own writes.
          assert.equal((await tx.memberships.find('user-a', 'org-x'))?.role, 'owner');
          return 'done';
        });
        assert.equal(result, 'done');
        assert.deepEqual(await storage.users.findById('user-a'), newUser('a'));
        assert.deepEqual(await storage.orgs.findById('org-x'), newOrg('x'));
        assert.equal(await storage.memberships.countOwners('org-x'), 1);
      });

      it('rolls back every write when fn rejects, and rejects with the same error', async () => {
        const failure = new Error('abort');
        await assert.rejects(
          storage.transaction(async (tx) => {
            await tx.users.create(newUser('a'));
            await tx.orgs.create(newOrg('x'));
            await tx.memberships.add({ userId: 'user-a', orgId: 'org-x', role: 'owner', createdAt: NOW });
            throw failure;
          }),
          (err: unknown) => err === failure,
        );
        assert.equal(await storage.users.findById('user-a'), null);
        assert.equal(await storage.users.findByEmail('a@example.com'), null);
        assert.equal(await storage.orgs.findById('org-x'), null);
        assert.equal(await storage.memberships.find('user-a', 'org-x'), null);
        assert.deepEqual(await storage.memberships.listForUser('user-a'), []);
      });

      it('rolls back updates and consumes too', async () => {
        await storage.users.create(newUser('a'));
        await storage.refreshTokens.insert(newToken('1', 'fam-1', 'user-a'));
        await storage.revocations.add(revocation('jti-1', NOW + HOUR));
        const { cursor } = await storage.revocations.listActive(NOW);

        await assert.rejects(
          storage.transaction(async (tx) => {
            await tx.users.updatePasswordHash('user-a', 'changed');
            assert.ok(await tx.refreshTokens.consume('token-hash-1', NOW));
            await tx.revocations.add(revocation('jti-2', NOW + HOUR));
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.equal((await storage.users.findById('user-a'))?.passwordHash, 'hash-a');
        assert.equal((await storage.refreshTokens.find('token-hash-1'))?.usedAt, null);
        assert.deepEqual((await storage.revocations.listSince(cursor)).entries, []);
        assert.ok(await storage.refreshTokens.consume('token-hash-1', NOW));
      });

      it('a conflict inside the transaction surfaces as StorageConflictError and rolls back', async () => {
        await storage.users.create(newUser('a'));
        await rejectsWithConflict(
          storage.transaction(async (tx) => {
            await tx.orgs.create(newOrg('x'));
            await tx.users.create(newUser('b', { email: 'a@example.com' }));
          }),
          'email',
        );
        assert.equal(await storage.orgs.findById('org-x'), null);
        assert.equal(await storage.users.findById('user-b'), null);
      });
    });
  });
}
