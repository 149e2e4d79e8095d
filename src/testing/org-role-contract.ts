import assert from 'node:assert/strict';
import { StorageConflictError } from '../errors.js';
import type { OrgRoleRecord, StorageAdapter } from '../ports.js';
import { CONTRACT_NOW, storageWithOrgs, type ContractGroup } from './contract-parts.js';

const NOW = CONTRACT_NOW;

function role(n: string, orgId: string, overrides: Partial<OrgRoleRecord> = {}): OrgRoleRecord {
  return { id: `role-${n}`, orgId, name: `Role ${n}`, description: null, permissions: ['projects:read'], createdAt: NOW, updatedAt: NOW, ...overrides };
}

/** The custom-role part of the storage contract (see runStorageContract): roles, members holding one, key subsets. */
export function orgRoleContract(
  g: ContractGroup,
  adapter: () => StorageAdapter,
): void {
  const withOrgs = (...orgIds: string[]) => storageWithOrgs(adapter, ...orgIds);

  g.describe('org roles', () => {
    g.it('create, find and list per org (oldest first); other orgs see none', async () => {
      const storage = await withOrgs('org-r1', 'org-r2');
      const b = role('b', 'org-r1', { createdAt: NOW + 1, updatedAt: NOW + 1, description: 'writes', permissions: ['projects:read', 'projects:write'] });
      const a = role('a', 'org-r1');
      assert.deepEqual(await storage.orgRoles.create(b), b);
      await storage.orgRoles.create(a);
      assert.deepEqual(await storage.orgRoles.find('org-r1', 'role-b'), b);
      assert.equal(await storage.orgRoles.find('org-r2', 'role-b'), null);
      assert.deepEqual(await storage.orgRoles.listForOrg('org-r1'), [a, b]);
      assert.deepEqual(await storage.orgRoles.listForOrg('org-r2'), []);
    });

    g.it("a name taken in the org throws StorageConflictError('name'); another org may use it", async () => {
      const storage = await withOrgs('org-r1', 'org-r2');
      await storage.orgRoles.create(role('a', 'org-r1', { name: 'editor' }));
      await assert.rejects(storage.orgRoles.create(role('b', 'org-r1', { name: 'editor' })), (err: unknown) => err instanceof StorageConflictError && err.field === 'name');
      await storage.orgRoles.create(role('c', 'org-r2', { name: 'editor' }));
      await storage.orgRoles.create(role('d', 'org-r1', { name: 'viewer' }));
      await assert.rejects(storage.orgRoles.update('org-r1', 'role-d', { name: 'editor' }, NOW + 1), (err: unknown) => err instanceof StorageConflictError && err.field === 'name');
    });

    g.it('update changes the given fields and updatedAt only; null for another org or an unknown id', async () => {
      const storage = await withOrgs('org-r1', 'org-r2');
      await storage.orgRoles.create(role('a', 'org-r1', { description: 'old' }));
      const updated = await storage.orgRoles.update('org-r1', 'role-a', { permissions: ['projects:write'] }, NOW + 5);
      assert.deepEqual(updated, role('a', 'org-r1', { description: 'old', permissions: ['projects:write'], updatedAt: NOW + 5 }));
      assert.deepEqual(await storage.orgRoles.update('org-r1', 'role-a', { name: 'renamed', description: null }, NOW + 6), role('a', 'org-r1', { name: 'renamed', permissions: ['projects:write'], updatedAt: NOW + 6 }));
      assert.equal(await storage.orgRoles.update('org-r2', 'role-a', { name: 'x' }, NOW + 7), null);
      assert.equal(await storage.orgRoles.update('org-r1', 'role-zz', { name: 'x' }, NOW + 7), null);
      assert.equal((await storage.orgRoles.find('org-r1', 'role-a'))?.name, 'renamed');
    });

    g.it('delete removes the org’s role only; countHolders counts the memberships holding it', async () => {
      const storage = await withOrgs('org-r1', 'org-r2');
      for (const n of ['u1', 'u2']) await storage.users.create({ id: n, email: `${n}@example.com`, username: null, firstName: null, lastName: null, passwordHash: null, createdAt: NOW, emailVerifiedAt: null });
      await storage.orgRoles.create(role('a', 'org-r1'));
      await storage.memberships.add({ userId: 'u1', orgId: 'org-r1', role: 'member', createdAt: NOW });
      await storage.memberships.add({ userId: 'u2', orgId: 'org-r1', role: 'member', createdAt: NOW });
      assert.equal(await storage.orgRoles.countHolders('org-r1', 'role-a'), 0);
      assert.equal(await storage.memberships.updateRole('u1', 'org-r1', 'member', 'role-a'), true);
      assert.equal(await storage.orgRoles.countHolders('org-r1', 'role-a'), 1);
      assert.equal(await storage.orgRoles.countHolders('org-r2', 'role-a'), 0);
      assert.equal(await storage.orgRoles.delete('org-r2', 'role-a'), false);
      assert.equal(await storage.orgRoles.delete('org-r1', 'role-a'), true);
      assert.equal(await storage.orgRoles.delete('org-r1', 'role-a'), false);
      assert.equal(await storage.orgRoles.find('org-r1', 'role-a'), null);
    });

    g.it('updateRole sets the custom role with the role, and clears it when not given; reads show it only when set', async () => {
      const storage = await withOrgs('org-r1');
      await storage.users.create({ id: 'u1', email: 'u1@example.com', username: null, firstName: null, lastName: null, passwordHash: null, createdAt: NOW, emailVerifiedAt: null });
      await storage.orgRoles.create(role('a', 'org-r1'));
      await storage.memberships.add({ userId: 'u1', orgId: 'org-r1', role: 'admin', createdAt: NOW });
      await storage.memberships.updateRole('u1', 'org-r1', 'member', 'role-a');
      assert.deepEqual(await storage.memberships.find('u1', 'org-r1'), { userId: 'u1', orgId: 'org-r1', role: 'member', createdAt: NOW, customRoleId: 'role-a' });
      assert.equal((await storage.memberships.listForOrg('org-r1'))[0]?.customRoleId, 'role-a');
      assert.equal((await storage.memberships.listForUser('u1'))[0]?.customRoleId, 'role-a');
      await storage.memberships.updateRole('u1', 'org-r1', 'member');
      assert.deepEqual(await storage.memberships.find('u1', 'org-r1'), { userId: 'u1', orgId: 'org-r1', role: 'member', createdAt: NOW });
    });

    g.it('an API key keeps its permission subset; one without reads back without it', async () => {
      const storage = await withOrgs('org-r1');
      await storage.users.create({ id: 'u1', email: 'u1@example.com', username: null, firstName: null, lastName: null, passwordHash: null, createdAt: NOW, emailVerifiedAt: null });
      const base = { orgId: 'org-r1', role: 'admin' as const, createdBy: 'u1', createdAt: NOW, expiresAt: null };
      await storage.apiKeys.create({ ...base, id: 'k1', name: 'limited', prefix: 'p1', secretHash: 'h1', permissions: ['projects:read'] });
      await storage.apiKeys.create({ ...base, id: 'k2', name: 'whole', prefix: 'p2', secretHash: 'h2' });
      assert.deepEqual((await storage.apiKeys.findByPrefix('p1'))?.permissions, ['projects:read']);
      const whole = await storage.apiKeys.findByPrefix('p2');
      assert.ok(whole && whole.permissions == null);
      assert.deepEqual((await storage.apiKeys.listForOrg('org-r1')).map((k) => k.permissions ?? null), [['projects:read'], null]);
    });
  });
}
