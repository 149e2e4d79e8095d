import { expect } from 'chai';
import type express from 'express';
import request from 'supertest';
import type { AuthRouterOptions } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { addMember, expectProblem, queriesDuring, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';
import { eventually } from '../helpers/eventually.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const keyHeaders = (key: string, orgId: string) => ({ 'X-API-Key': key, 'X-Tenant-Id': orgId });

const PERMISSIONS: Partial<AuthRouterOptions> = {
  permissions: ['projects:read', 'projects:write', 'billing:manage'],
  // Owner: every permission (the default).
  rolePermissions: { admin: ['projects:read', 'projects:write'], member: ['projects:read'] },
};

/** Host routes guarded by permissions, as an app would mount them next to the harness's own. */
function mountHostRoutes(h: Harness): void {
  const show = (req: express.Request, res: express.Response) => void res.json({ userId: req.auth?.userId, via: req.auth?.via, permissions: req.auth?.permissions });
  h.app.get('/api/projects', h.auth.requireAuth({ permissions: ['projects:read'] }), show);
  h.app.post('/api/projects', h.auth.requireAuth({ permissions: ['projects:write'] }), show);
  h.app.post('/api/billing', h.auth.requireAuth({ permissions: ['projects:read', 'billing:manage'] }), show);
  h.app.get('/api/whoami', h.auth.requireAuth({ permissions: [] }), show);
}

type Make = () => Promise<Harness[]>;

function permissionSuite(label: string, make: Make): void {
  describe(label, function () {
    this.timeout(60_000);
    let harnesses: Harness[];
    let h: Harness;
    let app: express.Express;
    let owner: SignedUp;

    before(async () => {
      harnesses = await make();
      for (const x of harnesses) mountHostRoutes(x);
      h = harnesses[0] as Harness;
      app = h.app;
    });
    after(async () => {
      for (const x of harnesses ?? []) await x.close();
    });
    beforeEach(async () => {
      owner = await signupWithOrg(app);
    });

    const roles = (orgId: string) => `/auth/orgs/${orgId}/roles`;
    const createRole = async (by: SignedUp, body: Record<string, unknown>) => request(app).post(roles(by.orgId)).set(bearer(by.access)).send(body);
    const assign = (by: SignedUp, target: SignedUp, body: Record<string, unknown>) =>
      request(app).patch(`/auth/orgs/${by.orgId}/members/${target.userId}`).set(bearer(by.access)).send(body);
    const newKey = (by: SignedUp, body: Record<string, unknown>) => request(app).post('/auth/api-keys').set(bearer(by.access)).send({ name: `k-${unique()}`, ...body });
    const auditData = async (orgId: string, action: string) => {
      const res = await request(app).get(`/auth/orgs/${orgId}/audit`).query({ action }).set(bearer(owner.access));
      expect(res.status, res.text).to.equal(200);
      return (res.body.entries as Array<{ data: Record<string, unknown>; target: { id: string } | null }>)[0];
    };

    it('built-in roles get the mapped permissions; a missing one is 403 permission_denied naming it; req.auth.permissions shows them', async () => {
      const admin = await addMember(app, owner, 'admin');
      const member = await addMember(app, owner);

      const ownerRes = await request(app).post('/api/billing').set(bearer(owner.access));
      expect(ownerRes.status, ownerRes.text).to.equal(200);
      expect(ownerRes.body.permissions).to.have.members(['projects:read', 'projects:write', 'billing:manage']);

      expect((await request(app).post('/api/projects').set(bearer(admin.access))).status).to.equal(200);
      const adminBilling = await request(app).post('/api/billing').set(bearer(admin.access));
      expectProblem(adminBilling, 403, 'permission_denied');
      expect(adminBilling.body.permission).to.equal('billing:manage');

      expect((await request(app).get('/api/projects').set(bearer(member.access))).status).to.equal(200);
      const memberWrite = await request(app).post('/api/projects').set(bearer(member.access));
      expectProblem(memberWrite, 403, 'permission_denied');
      expect(memberWrite.body.permission).to.equal('projects:write');

      // `[]` asks for nothing and only resolves them; without a token it is still 401.
      expect((await request(app).get('/api/whoami').set(bearer(member.access))).body.permissions).to.deep.equal(['projects:read']);
      expectProblem(await request(app).get('/api/projects'), 401, 'missing_token');
      // Routes without `permissions` leave req.auth as it was.
      expect((await request(app).get('/api/hello').set(bearer(member.access))).body).to.deep.equal({ userId: member.userId, orgId: owner.orgId, role: 'member', via: 'jwt' });
    });

    it('a loaded member is answered from memory: no storage read on the next request', async () => {
      const member = await addMember(app, owner);
      expect((await request(app).get('/api/projects').set(bearer(member.access))).status).to.equal(200);
      const queries = await queriesDuring(h.storage, async () => {
        for (let i = 0; i < 3; i++) expect((await request(app).get('/api/projects').set(bearer(member.access))).status).to.equal(200);
      });
      expect(queries).to.deep.equal([]);
    });

    it('roles routes: any member lists, owners define; 400 unknown permission or built-in name, 401, 403, 404, 409 duplicate name', async () => {
      const admin = await addMember(app, owner, 'admin');
      const member = await addMember(app, owner);
      const stranger = await signupWithOrg(app);

      const created = await createRole(owner, { name: 'editor', permissions: ['projects:write', 'projects:read', 'projects:write'], description: 'edits projects' });
      expect(created.status, created.text).to.equal(201);
      expect(created.body).to.include({ name: 'editor', description: 'edits projects' });
      expect(created.body.permissions).to.deep.equal(['projects:write', 'projects:read']);

      const listed = await request(app).get(roles(owner.orgId)).set(bearer(member.access));
      expect(listed.status, listed.text).to.equal(200);
      expect(listed.body.builtIn).to.deep.equal([
        { name: 'owner', permissions: ['projects:read', 'projects:write', 'billing:manage'] },
        { name: 'admin', permissions: ['projects:read', 'projects:write'] },
        { name: 'member', permissions: ['projects:read'] },
      ]);
      expect(listed.body.custom.map((r: { id: string }) => r.id)).to.deep.equal([created.body.id]);
      expect(listed.body.permissions).to.deep.equal(['projects:read', 'projects:write', 'billing:manage']);

      const unknown = await createRole(owner, { name: 'x', permissions: ['projects:read', 'projects:delete'] });
      expectProblem(unknown, 400, 'invalid_request');
      expect(unknown.body.errors).to.deep.equal([{ path: 'permissions.1', message: '"projects:delete" is not a permission of this service' }]);
      const builtIn = await createRole(owner, { name: 'Admin', permissions: [] });
      expectProblem(builtIn, 400, 'invalid_request');
      expect(builtIn.body.errors[0].path).to.equal('name');
      expectProblem(await createRole(owner, { name: 'editor', permissions: [] }), 409, 'role_name_taken');

      expectProblem(await request(app).get(roles(owner.orgId)), 401, 'missing_token');
      expectProblem(await createRole(admin, { name: 'y', permissions: [] }), 403, 'forbidden');
      expectProblem(await createRole(member, { name: 'y', permissions: [] }), 403, 'forbidden');
      expectProblem(await request(app).get(roles(owner.orgId)).set(bearer(stranger.access)), 404, 'org_not_found');
      expectProblem(await request(app).post(roles(owner.orgId)).set(bearer(stranger.access)).send({ name: 'y', permissions: [] }), 404, 'org_not_found');

      const one = `${roles(owner.orgId)}/${created.body.id}`;
      expectProblem(await request(app).patch(one).set(bearer(admin.access)).send({ description: 'no' }), 403, 'forbidden');
      expectProblem(await request(app).patch(one).set(bearer(stranger.access)).send({ description: 'no' }), 404, 'org_not_found');
      expectProblem(await request(app).patch(`${roles(owner.orgId)}/no-such-role`).set(bearer(owner.access)).send({ description: 'no' }), 404, 'role_not_found');
      expectProblem(await request(app).patch(one).set(bearer(owner.access)).send({ permissions: ['nope:nope'] }), 400, 'invalid_request');
      await createRole(owner, { name: 'viewer', permissions: ['projects:read'] });
      expectProblem(await request(app).patch(one).set(bearer(owner.access)).send({ name: 'viewer' }), 409, 'role_name_taken');
      // Another org's role is unknown here.
      const theirs = await createRole(stranger, { name: 'theirs', permissions: [] });
      expectProblem(await request(app).delete(`${roles(owner.orgId)}/${theirs.body.id}`).set(bearer(owner.access)), 404, 'role_not_found');
      expectProblem(await request(app).delete(one).set(bearer(admin.access)), 403, 'forbidden');
      expectProblem(await request(app).delete(one).set(bearer(stranger.access)), 404, 'org_not_found');

      const renamed = await request(app).patch(one).set(bearer(owner.access)).send({ name: 'writer', description: null });
      expect(renamed.status, renamed.text).to.equal(200);
      expect(renamed.body).to.include({ name: 'writer', description: null });
      expect((await request(app).delete(one).set(bearer(owner.access))).status).to.equal(204);
      expectProblem(await request(app).delete(one).set(bearer(owner.access)), 404, 'role_not_found');

      expect((await auditData(owner.orgId, 'role.created'))?.data).to.deep.equal({ name: 'viewer', permissions: 'projects:read' });
      expect((await auditData(owner.orgId, 'role.updated'))?.data).to.deep.equal({ name: 'writer', previousName: 'editor' });
      expect((await auditData(owner.orgId, 'role.deleted'))?.data).to.deep.equal({ name: 'writer', permissions: 'projects:write,projects:read' });
    });

    it('a custom role: assigned by the owner, shown in the member list, checked at once, edited at once; 409 while held', async () => {
      const admin = await addMember(app, owner, 'admin');
      const member = await addMember(app, owner);
      const role = (await createRole(owner, { name: 'biller', permissions: ['billing:manage'] })).body as { id: string };
      expectProblem(await request(app).post('/api/billing').set(bearer(member.access)), 403, 'permission_denied');

      // Failure paths of the assignment.
      expectProblem(await assign(owner, member, { role: 'admin', customRoleId: role.id }), 400, 'invalid_request');
      expectProblem(await assign(owner, member, { role: 'member', customRoleId: 'no-such-role' }), 404, 'role_not_found');
      expectProblem(await assign(admin, member, { role: 'member', customRoleId: role.id }), 403, 'forbidden');

      const assigned = await assign(owner, member, { role: 'member', customRoleId: role.id });
      expect(assigned.status, assigned.text).to.equal(200);
      expect(assigned.body).to.deep.equal({ userId: member.userId, orgId: owner.orgId, role: 'member', customRoleId: role.id });
      const members = await request(app).get(`/auth/orgs/${owner.orgId}/members`).set(bearer(member.access));
      const row = (members.body.members as Array<{ userId: string; customRoleId: string | null }>).find((m) => m.userId === member.userId);
      expect(row?.customRoleId).to.equal(role.id);
      expect((await auditData(owner.orgId, 'member.role_changed'))?.data).to.deep.equal({ from: 'member', to: 'member', fromCustomRoleId: null, toCustomRoleId: role.id });

      // The same token: the permission follows the membership, not the token.
      const billing = await request(app).post('/api/billing').set(bearer(member.access));
      expect(billing.status, billing.text).to.equal(200);
      expect(billing.body.permissions).to.have.members(['projects:read', 'billing:manage']);

      expectProblem(await request(app).delete(`${roles(owner.orgId)}/${role.id}`).set(bearer(owner.access)), 409, 'role_in_use');

      const edited = await request(app).patch(`${roles(owner.orgId)}/${role.id}`).set(bearer(owner.access)).send({ permissions: ['projects:write'] });
      expect(edited.status, edited.text).to.equal(200);
      expect((await auditData(owner.orgId, 'role.updated'))?.data).to.deep.equal({ name: 'biller', added: 'projects:write', removed: 'billing:manage' });
      expectProblem(await request(app).post('/api/billing').set(bearer(member.access)), 403, 'permission_denied');
      expect((await request(app).post('/api/projects').set(bearer(member.access))).status).to.equal(200);

      // Plain member again: the custom role is gone, and the role can be deleted.
      const back = await assign(owner, member, { role: 'member' });
      expect(back.status, back.text).to.equal(200);
      expectProblem(await request(app).post('/api/projects').set(bearer(member.access)), 403, 'permission_denied');
      expect((await auditData(owner.orgId, 'member.role_changed'))?.data).to.deep.equal({ from: 'member', to: 'member', fromCustomRoleId: role.id, toCustomRoleId: null });
      expect((await request(app).delete(`${roles(owner.orgId)}/${role.id}`).set(bearer(owner.access))).status).to.equal(204);
      // The plain form keeps working and keeps its answer.
      const promoted = await assign(owner, member, { role: 'admin' });
      expect(promoted.body).to.deep.equal({ userId: member.userId, orgId: owner.orgId, role: 'admin' });
    });

    it('API keys: limited to a subset the creator holds (400 unknown, 403 not held), shown in listings, checked on host routes', async () => {
      const admin = await addMember(app, owner, 'admin');

      const limited = await newKey(owner, { role: 'admin', permissions: ['projects:read'] });
      expect(limited.status, limited.text).to.equal(201);
      expect(limited.body.permissions).to.deep.equal(['projects:read']);
      const whole = await newKey(owner, { role: 'admin' });
      expect(whole.body).not.to.have.property('permissions');

      const listed = await request(app).get('/auth/api-keys').set(bearer(owner.access));
      const byId = new Map((listed.body.apiKeys as Array<{ id: string; permissions: string[] | null }>).map((k) => [k.id, k.permissions]));
      expect(byId.get(limited.body.id)).to.deep.equal(['projects:read']);
      expect(byId.get(whole.body.id)).to.equal(null);
      expect((await auditData(owner.orgId, 'api_key.created'))?.data).to.deep.equal({ name: whole.body.name, role: 'admin', expiresAt: null });

      // The subset caps the key; without one the key's role decides (admin: no billing).
      expect((await request(app).get('/api/projects').set(keyHeaders(limited.body.key, owner.orgId))).status).to.equal(200);
      const capped = await request(app).post('/api/projects').set(keyHeaders(limited.body.key, owner.orgId));
      expectProblem(capped, 403, 'permission_denied');
      expect(capped.body.permission).to.equal('projects:write');
      const wholeWrite = await request(app).post('/api/projects').set(keyHeaders(whole.body.key, owner.orgId));
      expect(wholeWrite.status, wholeWrite.text).to.equal(200);
      expect(wholeWrite.body.permissions).to.have.members(['projects:read', 'projects:write']);
      expectProblem(await request(app).post('/api/billing').set(keyHeaders(whole.body.key, owner.orgId)), 403, 'permission_denied');

      const unknown = await newKey(owner, { permissions: ['projects:read', 'nope:nope'] });
      expectProblem(unknown, 400, 'invalid_request');
      expect(unknown.body.errors[0].path).to.equal('permissions.1');
      const notHeld = await newKey(admin, { role: 'admin', permissions: ['billing:manage'] });
      expectProblem(notHeld, 403, 'permission_denied');
      expect(notHeld.body.permission).to.equal('billing:manage');

      const ownerKey = await newKey(owner, { role: 'admin', permissions: ['billing:manage', 'projects:read'] });
      expect((await auditData(owner.orgId, 'api_key.created'))?.data).to.deep.equal({ name: ownerKey.body.name, role: 'admin', expiresAt: null, permissions: 'billing:manage,projects:read' });
    });

    it("a key is capped when its creator is demoted: it keeps only what the creator still holds", async () => {
      const admin = await addMember(app, owner, 'admin');
      const key = await newKey(admin, { role: 'admin', permissions: ['projects:write', 'projects:read'] });
      expect(key.status, key.text).to.equal(201);
      expect((await request(app).post('/api/projects').set(keyHeaders(key.body.key, owner.orgId))).status).to.equal(200);

      expect((await assign(owner, admin, { role: 'member' })).status).to.equal(200);
      const after = await request(app).post('/api/projects').set(keyHeaders(key.body.key, owner.orgId));
      expectProblem(after, 403, 'permission_denied');
      // What the member role still grants stays.
      const read = await request(app).get('/api/projects').set(keyHeaders(key.body.key, owner.orgId));
      expect(read.status, read.text).to.equal(200);
      expect(read.body.permissions).to.deep.equal(['projects:read']);
    });

    if (label.includes('two')) {
      it('a role edited on one instance counts on the other within the poll interval', async () => {
        const other = harnesses[1] as Harness;
        const member = await addMember(app, owner);
        const role = (await createRole(owner, { name: 'biller', permissions: ['billing:manage'] })).body as { id: string };
        expect((await assign(owner, member, { role: 'member', customRoleId: role.id })).status).to.equal(200);
        // Loaded into the other instance's memory.
        expect((await request(other.app).post('/api/billing').set(bearer(member.access))).status).to.equal(200);

        const edited = await request(app).patch(`${roles(owner.orgId)}/${role.id}`).set(bearer(owner.access)).send({ permissions: [] });
        expect(edited.status, edited.text).to.equal(200);
        // Poll interval 1 s: the other instance refuses within it (bounded generously for a busy machine).
        await eventually(async () => (await request(other.app).post('/api/billing').set(bearer(member.access))).status === 403, 5_000, 'the edit on the other instance');
      });
    }
  });
}


describe('custom roles and permissions', () => {
  permissionSuite('on SQLite', async () => [await startHarness(PERMISSIONS)]);

  permissionSuite('on PostgreSQL, two instances on one database', async () => {
    const url = await createTestDatabase('permissions');
    const options = { ...PERMISSIONS, revocation: { pollInterval: '1s' } } as Partial<AuthRouterOptions>;
    return [
      await startHarness(options, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) }),
      await startHarness(options, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) }),
    ];
  });

  it('requireAuth({ permissions }) with a name outside the vocabulary throws a TypeError when mounted', async () => {
    const h = await startHarness(PERMISSIONS);
    try {
      expect(() => h.auth.requireAuth({ permissions: ['projects:delete'] })).to.throw(TypeError, /projects:delete.*not in the router's `permissions` option/);
      expect(() => h.auth.requireAuth({ permissions: 'projects:read' as unknown as string[] })).to.throw(TypeError, /must be an array/);
    } finally {
      await h.close();
    }
  });
});
