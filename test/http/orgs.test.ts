import { expect } from 'chai';
import type express from 'express';
import request from 'supertest';
import { addMember, claimsOf, signin, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';
import { tokenIdKey } from '../../src/tokens/token-ids.js';

const bearer = (u: { access: string }) => `Bearer ${u.access}`;

function expectProblem(res: request.Response, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  expect(res.body.code).to.equal(code);
  expect(res.body.status).to.equal(status);
}

/** Creates an invitation into the inviter's org and returns its code. */
async function inviteCode(app: express.Express, inviter: SignedUp, body: Record<string, unknown> = {}): Promise<string> {
  const res = await request(app).post(`/auth/orgs/${inviter.orgId}/invitations`).set('Authorization', bearer(inviter)).send(body);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.code as string;
}

/** Makes `user` a member of `inviter`'s org through POST /setup-org; returns the pair scoped to it. */
async function joinSecondOrg(app: express.Express, user: SignedUp, inviter: SignedUp, role: 'member' | 'admin' | 'owner' = 'member') {
  const code = await inviteCode(app, inviter, { role });
  const res = await request(app).post('/auth/setup-org').set('Authorization', bearer(user)).send({ action: 'join', invitationCode: code });
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return { access: res.body.access_token as string, refresh: res.body.refresh_token as string };
}

describe('organizations: /auth/orgs, /auth/switch-org, /auth/setup-org', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  describe('GET /orgs', () => {
    it('lists my orgs with my role in each', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner, 'admin');
      const res = await request(h.app).get('/auth/orgs').set('Authorization', bearer(member));
      expect(res.status).to.equal(200);
      expect(res.body.organizations).to.have.length(1);
      expect(res.body.organizations[0]).to.include({ id: owner.orgId, role: 'admin' });
      expect(res.body.organizations[0].slug).to.be.a('string');
      expect(res.body.organizations[0].name).to.be.a('string');
    });

    it('a user in two orgs sees both, each with its own role', async () => {
      const a = await signupWithOrg(h.app);
      const b = await signupWithOrg(h.app);
      await joinSecondOrg(h.app, a, b, 'admin');
      const res = await request(h.app).get('/auth/orgs').set('Authorization', bearer(a));
      expect(res.status).to.equal(200);
      const byId = new Map((res.body.organizations as Array<{ id: string; role: string }>).map((o) => [o.id, o.role]));
      expect(byId.size).to.equal(2);
      expect(byId.get(a.orgId)).to.equal('owner');
      expect(byId.get(b.orgId)).to.equal('admin');
      // b still sees only their own org.
      const other = await request(h.app).get('/auth/orgs').set('Authorization', bearer(b));
      expect(other.body.organizations.map((o: { id: string }) => o.id)).to.deep.equal([b.orgId]);
    });

    it('requires a bearer token', async () => {
      expectProblem(await request(h.app).get('/auth/orgs'), 401, 'missing_token');
    });
  });

  describe('GET /orgs/:orgId/members', () => {
    it('any member can list the members with their roles', async () => {
      const owner = await signupWithOrg(h.app);
      const admin = await addMember(h.app, owner, 'admin');
      const member = await addMember(h.app, owner, 'member');
      const res = await request(h.app).get(`/auth/orgs/${owner.orgId}/members`).set('Authorization', bearer(member));
      expect(res.status).to.equal(200);
      const roles = new Map((res.body.members as Array<{ userId: string; role: string; email: string }>).map((m) => [m.userId, m]));
      expect(roles.size).to.equal(3);
      expect(roles.get(owner.userId)).to.include({ role: 'owner', email: owner.email });
      expect(roles.get(admin.userId)).to.include({ role: 'admin', email: admin.email });
      expect(roles.get(member.userId)).to.include({ role: 'member', email: member.email });
      for (const m of res.body.members) expect(m).not.to.have.any.keys('passwordHash', 'password_hash', 'password');
    });

    it('a non-member gets 404 org_not_found and the body leaks nothing about the org', async () => {
      const owner = await signupWithOrg(h.app);
      const stranger = await signupWithOrg(h.app);
      const res = await request(h.app).get(`/auth/orgs/${owner.orgId}/members`).set('Authorization', bearer(stranger));
      expectProblem(res, 404, 'org_not_found');
      expect(res.body).not.to.have.property('members');
      expect(res.text).not.to.contain(owner.email);
      expect(res.text).not.to.contain(owner.userId);
      const org = await h.storage.orgs.findById(owner.orgId);
      expect(res.text).not.to.contain(org?.slug);
      // Indistinguishable from an org that does not exist at all.
      const unknown = await request(h.app).get('/auth/orgs/no-such-org/members').set('Authorization', bearer(stranger));
      expectProblem(unknown, 404, 'org_not_found');
      expect(unknown.body.detail).to.equal(res.body.detail);
    });
  });

  describe('PATCH /orgs/:orgId/members/:userId', () => {
    const patch = (app: express.Express, actor: SignedUp, orgId: string, userId: string, body: unknown) =>
      request(app).patch(`/auth/orgs/${orgId}/members/${userId}`).set('Authorization', bearer(actor)).send(body as object);

    it('an owner changes a role, and the change is stored', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      const res = await patch(h.app, owner, owner.orgId, member.userId, { role: 'admin' });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ userId: member.userId, orgId: owner.orgId, role: 'admin' });
      expect((await h.storage.memberships.find(member.userId, owner.orgId))?.role).to.equal('admin');
      // The new role shows in the member's next refreshed pair.
      const refreshed = await request(h.app).post('/auth/refresh').send({ refresh_token: member.refresh });
      expect(refreshed.status).to.equal(200);
      expect(claimsOf(refreshed.body.access_token)).to.include({ org: owner.orgId, role: 'admin' });
    });

    it('an admin gets 403 forbidden, and the role stays', async () => {
      const owner = await signupWithOrg(h.app);
      const admin = await addMember(h.app, owner, 'admin');
      const member = await addMember(h.app, owner);
      expectProblem(await patch(h.app, admin, owner.orgId, member.userId, { role: 'admin' }), 403, 'forbidden');
      expectProblem(await patch(h.app, admin, owner.orgId, admin.userId, { role: 'owner' }), 403, 'forbidden');
      expect((await h.storage.memberships.find(member.userId, owner.orgId))?.role).to.equal('member');
      expect((await h.storage.memberships.find(admin.userId, owner.orgId))?.role).to.equal('admin');
    });

    it('a member gets 403 forbidden', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      expectProblem(await patch(h.app, member, owner.orgId, member.userId, { role: 'owner' }), 403, 'forbidden');
      expect((await h.storage.memberships.find(member.userId, owner.orgId))?.role).to.equal('member');
    });

    it('the last owner cannot demote themselves: 409 last_owner', async () => {
      const owner = await signupWithOrg(h.app);
      await addMember(h.app, owner, 'admin');
      expectProblem(await patch(h.app, owner, owner.orgId, owner.userId, { role: 'admin' }), 409, 'last_owner');
      expect((await h.storage.memberships.find(owner.userId, owner.orgId))?.role).to.equal('owner');
    });

    it('with two owners, one can be demoted (and then the other is the last)', async () => {
      const owner = await signupWithOrg(h.app);
      const second = await addMember(h.app, owner, 'owner');
      const res = await patch(h.app, second, owner.orgId, owner.userId, { role: 'member' });
      expect(res.status).to.equal(200);
      expect((await h.storage.memberships.find(owner.userId, owner.orgId))?.role).to.equal('member');
      expect(await h.storage.memberships.countOwners(owner.orgId)).to.equal(1);
      expectProblem(await patch(h.app, second, owner.orgId, second.userId, { role: 'admin' }), 409, 'last_owner');
    });

    it('two owners demoting each other at the same time: one wins, the other is refused, one owner remains', async () => {
      const a = await signupWithOrg(h.app);
      const b = await addMember(h.app, a, 'owner');
      const results = await Promise.all([patch(h.app, a, a.orgId, b.userId, { role: 'admin' }), patch(h.app, b, a.orgId, a.userId, { role: 'admin' })]);
      const ok = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status !== 200);
      expect(ok, JSON.stringify(results.map((r) => r.body))).to.have.length(1);
      // Refused as no longer an owner (the other demotion ran first) or as the last owner.
      expect(refused[0]?.body.code).to.be.oneOf(['forbidden', 'last_owner']);
      expect(await h.storage.memberships.countOwners(a.orgId)).to.equal(1);
    });

    it('an unknown member → 404 member_not_found', async () => {
      const owner = await signupWithOrg(h.app);
      expectProblem(await patch(h.app, owner, owner.orgId, 'no-such-user', { role: 'admin' }), 404, 'member_not_found');
    });

    it("another org's member addressed through my org id → 404 member_not_found, and their role stays", async () => {
      const owner = await signupWithOrg(h.app);
      const otherOwner = await signupWithOrg(h.app);
      const otherMember = await addMember(h.app, otherOwner);
      expectProblem(await patch(h.app, owner, owner.orgId, otherMember.userId, { role: 'admin' }), 404, 'member_not_found');
      expectProblem(await patch(h.app, owner, owner.orgId, otherOwner.userId, { role: 'member' }), 404, 'member_not_found');
      expect((await h.storage.memberships.find(otherMember.userId, otherOwner.orgId))?.role).to.equal('member');
      expect((await h.storage.memberships.find(otherOwner.userId, otherOwner.orgId))?.role).to.equal('owner');
      // And addressing the other org directly is a 404 for the org.
      expectProblem(await patch(h.app, owner, otherOwner.orgId, otherMember.userId, { role: 'admin' }), 404, 'org_not_found');
    });

    it('a bad role value → 400 invalid_request naming role', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      for (const body of [{ role: 'superuser' }, { role: 'OWNER' }, { role: 1 }, {}]) {
        const res = await patch(h.app, owner, owner.orgId, member.userId, body);
        expectProblem(res, 400, 'invalid_request');
        expect(res.body.errors.map((e: { path: string }) => e.path)).to.include('role');
      }
      expect((await h.storage.memberships.find(member.userId, owner.orgId))?.role).to.equal('member');
    });
  });

  describe('DELETE /orgs/:orgId/members/:userId', () => {
    const remove = (app: express.Express, actor: SignedUp, orgId: string, userId: string) =>
      request(app).delete(`/auth/orgs/${orgId}/members/${userId}`).set('Authorization', bearer(actor));

    it('an admin removes a member: 204 and the membership is gone', async () => {
      const owner = await signupWithOrg(h.app);
      const admin = await addMember(h.app, owner, 'admin');
      const member = await addMember(h.app, owner);
      const res = await remove(h.app, admin, owner.orgId, member.userId);
      expect(res.status).to.equal(204);
      expect(res.text).to.equal('');
      expect(await h.storage.memberships.find(member.userId, owner.orgId)).to.equal(null);
      const list = await request(h.app).get(`/auth/orgs/${owner.orgId}/members`).set('Authorization', bearer(owner));
      expect(list.body.members.map((m: { userId: string }) => m.userId)).not.to.include(member.userId);
    });

    it('an admin cannot remove another admin or an owner: 403', async () => {
      const owner = await signupWithOrg(h.app);
      const admin = await addMember(h.app, owner, 'admin');
      const admin2 = await addMember(h.app, owner, 'admin');
      expectProblem(await remove(h.app, admin, owner.orgId, admin2.userId), 403, 'forbidden');
      expectProblem(await remove(h.app, admin, owner.orgId, owner.userId), 403, 'forbidden');
      expect((await h.storage.memberships.find(admin2.userId, owner.orgId))?.role).to.equal('admin');
      expect((await h.storage.memberships.find(owner.userId, owner.orgId))?.role).to.equal('owner');
    });

    it('a member cannot remove another member: 403', async () => {
      const owner = await signupWithOrg(h.app);
      const m1 = await addMember(h.app, owner);
      const m2 = await addMember(h.app, owner);
      expectProblem(await remove(h.app, m1, owner.orgId, m2.userId), 403, 'forbidden');
      expect(await h.storage.memberships.find(m2.userId, owner.orgId)).not.to.equal(null);
    });

    it('an owner removes an admin: 204', async () => {
      const owner = await signupWithOrg(h.app);
      const admin = await addMember(h.app, owner, 'admin');
      expect((await remove(h.app, owner, owner.orgId, admin.userId)).status).to.equal(204);
      expect(await h.storage.memberships.find(admin.userId, owner.orgId)).to.equal(null);
    });

    it('a member leaves by removing themselves: 204', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      expect((await remove(h.app, member, owner.orgId, member.userId)).status).to.equal(204);
      expect(await h.storage.memberships.find(member.userId, owner.orgId)).to.equal(null);
      const mine = await request(h.app).get('/auth/orgs').set('Authorization', bearer(await signin(h.app, member.email)));
      expect(mine.body.organizations).to.deep.equal([]);
    });

    it('the last owner cannot leave: 409 last_owner', async () => {
      const owner = await signupWithOrg(h.app);
      await addMember(h.app, owner, 'admin');
      expectProblem(await remove(h.app, owner, owner.orgId, owner.userId), 409, 'last_owner');
      expect((await h.storage.memberships.find(owner.userId, owner.orgId))?.role).to.equal('owner');
    });

    it('two owners leaving at the same time: one leaves, the other gets 409 last_owner', async () => {
      const a = await signupWithOrg(h.app);
      const b = await addMember(h.app, a, 'owner');
      const results = await Promise.all([remove(h.app, a, a.orgId, a.userId), remove(h.app, b, a.orgId, b.userId)]);
      expect(results.map((r) => r.status).sort()).to.deep.equal([204, 409]);
      expect(await h.storage.memberships.countOwners(a.orgId)).to.equal(1);
    });

    it('an owner removes another owner when two remain: 204', async () => {
      const a = await signupWithOrg(h.app);
      const b = await addMember(h.app, a, 'owner');
      expect((await remove(h.app, a, a.orgId, b.userId)).status).to.equal(204);
      expect(await h.storage.memberships.find(b.userId, a.orgId)).to.equal(null);
    });

    it('unknown member → 404 member_not_found; non-member actor → 404 org_not_found', async () => {
      const owner = await signupWithOrg(h.app);
      const stranger = await signupWithOrg(h.app);
      expectProblem(await remove(h.app, owner, owner.orgId, 'no-such-user'), 404, 'member_not_found');
      expectProblem(await remove(h.app, stranger, owner.orgId, owner.userId), 404, 'org_not_found');
      expect(await h.storage.memberships.find(owner.userId, owner.orgId)).not.to.equal(null);
    });

    it("a removed member's refresh token fails with 401 and their access token is refused with token_revoked", async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      // The access token works before the removal.
      expect((await request(h.app).get('/api/hello').set('Authorization', bearer(member))).status).to.equal(200);
      expect((await remove(h.app, owner, owner.orgId, member.userId)).status).to.equal(204);

      // The access token is refused at once, before any refresh attempt could revoke its family.
      const hello = await request(h.app).get('/api/hello').set('Authorization', bearer(member));
      expectProblem(hello, 401, 'token_revoked');
      expect(hello.headers['www-authenticate']).to.match(/^Bearer /);
      // The refresh family was revoked in storage by the removal itself.
      const family = await h.storage.refreshTokens.find(tokenIdKey(claimsOf(member.refresh).jti as string));
      expect(family?.revokedAt).to.be.a('number');

      const refreshed = await request(h.app).post('/auth/refresh').send({ refresh_token: member.refresh });
      expectProblem(refreshed, 401, 'token_revoked');
      expect(refreshed.body).not.to.have.property('access_token');

      // The member can sign in again, now scoped to no org.
      const again = await signin(h.app, member.email);
      expect(claimsOf(again.access)).not.to.have.property('org');

      // The owner's own session is untouched.
      expect((await request(h.app).get('/api/hello').set('Authorization', bearer(owner))).status).to.equal(200);
    });

    it("a removal revokes only the sessions scoped to that org: the user's session in another org keeps working", async () => {
      const owner = await signupWithOrg(h.app);
      const other = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      const inOther = await joinSecondOrg(h.app, member, other, 'member');
      expect(claimsOf(inOther.access)).to.include({ org: other.orgId });

      expect((await remove(h.app, owner, owner.orgId, member.userId)).status).to.equal(204);
      expectProblem(await request(h.app).get('/api/hello').set('Authorization', bearer(member)), 401, 'token_revoked');
      const hello = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${inOther.access}`);
      expect(hello.status, hello.text).to.equal(200);
      expect(hello.body).to.include({ orgId: other.orgId });
      const refreshed = await request(h.app).post('/auth/refresh').send({ refresh_token: inOther.refresh });
      expect(refreshed.status, refreshed.text).to.equal(200);
      expect(claimsOf(refreshed.body.access_token)).to.include({ org: other.orgId, role: 'member' });
    });
  });

  describe('POST /switch-org', () => {
    it('a member of two orgs gets a pair scoped to the other org, with the role held there', async () => {
      const a = await signupWithOrg(h.app);
      const b = await signupWithOrg(h.app);
      await joinSecondOrg(h.app, a, b, 'admin');
      expect(claimsOf(a.access)).to.include({ org: a.orgId, role: 'owner' });

      const res = await request(h.app).post('/auth/switch-org').set('Authorization', bearer(a)).send({ orgId: b.orgId });
      expect(res.status).to.equal(200);
      expect(res.body).to.have.all.keys('access_token', 'refresh_token');
      expect(claimsOf(res.body.access_token)).to.include({ sub: a.userId, org: b.orgId, role: 'admin' });

      const hello = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${res.body.access_token}`);
      expect(hello.body).to.include({ userId: a.userId, orgId: b.orgId, role: 'admin' });
      // The new refresh token stays in the new org.
      const refreshed = await request(h.app).post('/auth/refresh').send({ refresh_token: res.body.refresh_token });
      expect(refreshed.status).to.equal(200);
      expect(claimsOf(refreshed.body.access_token)).to.include({ org: b.orgId, role: 'admin' });

      // And back.
      const back = await request(h.app).post('/auth/switch-org').set('Authorization', `Bearer ${res.body.access_token}`).send({ orgId: a.orgId });
      expect(back.status).to.equal(200);
      expect(claimsOf(back.body.access_token)).to.include({ org: a.orgId, role: 'owner' });
    });

    it('an org the user is not a member of → 404 org_not_found', async () => {
      const a = await signupWithOrg(h.app);
      const b = await signupWithOrg(h.app);
      const res = await request(h.app).post('/auth/switch-org').set('Authorization', bearer(a)).send({ orgId: b.orgId });
      expectProblem(res, 404, 'org_not_found');
      expect(res.body).not.to.have.property('access_token');
      expectProblem(await request(h.app).post('/auth/switch-org').set('Authorization', bearer(a)).send({ orgId: 'nope' }), 404, 'org_not_found');
    });
  });

  describe('POST /setup-org', () => {
    it('create: makes a new org and returns a pair scoped to it with role owner', async () => {
      const a = await signupWithOrg(h.app);
      const id = unique();
      const res = await request(h.app)
        .post('/auth/setup-org')
        .set('Authorization', bearer(a))
        .send({ action: 'create', orgCreateProps: { name: 'Second Org', slug: `second-${id}`, description: 'the other one' } });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const claims = claimsOf(res.body.access_token);
      expect(claims).to.include({ sub: a.userId, role: 'owner' });
      expect(claims.org).to.be.a('string').and.not.equal(a.orgId);
      const org = await h.storage.orgs.findById(claims.org as string);
      expect(org).to.include({ name: 'Second Org', slug: `second-${id}`, description: 'the other one' });
      expect((await h.storage.memberships.find(a.userId, claims.org as string))?.role).to.equal('owner');
      const hello = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${res.body.access_token}`);
      expect(hello.body).to.include({ orgId: claims.org, role: 'owner' });
      const mine = await request(h.app).get('/auth/orgs').set('Authorization', bearer(a));
      expect(mine.body.organizations).to.have.length(2);
    });

    it("join: with an invitation code, returns a pair scoped to the org with the invitation's role", async () => {
      const a = await signupWithOrg(h.app);
      const b = await signupWithOrg(h.app);
      const code = await inviteCode(h.app, b, { role: 'admin' });
      const res = await request(h.app).post('/auth/setup-org').set('Authorization', bearer(a)).send({ action: 'join', invitationCode: code });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(claimsOf(res.body.access_token)).to.include({ sub: a.userId, org: b.orgId, role: 'admin' });
      expect((await h.storage.memberships.find(a.userId, b.orgId))?.role).to.equal('admin');
      // The code is spent.
      const c = await signupWithOrg(h.app);
      expectProblem(await request(h.app).post('/auth/setup-org').set('Authorization', bearer(c)).send({ action: 'join', invitationCode: code }), 409, 'invitation_used');
    });

    it('a duplicate slug → 409 slug_taken, and no org or membership is added', async () => {
      const a = await signupWithOrg(h.app);
      const b = await signupWithOrg(h.app);
      const taken = (await h.storage.orgs.findById(a.orgId))?.slug;
      const res = await request(h.app)
        .post('/auth/setup-org')
        .set('Authorization', bearer(b))
        .send({ action: 'create', orgCreateProps: { name: 'Copy', slug: taken?.toUpperCase() } });
      expectProblem(res, 409, 'slug_taken');
      expect((await h.storage.memberships.listForUser(b.userId)).map((m) => m.orgId)).to.deep.equal([b.orgId]);
    });
  });
});

