import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { generate } from 'otplib';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { addMember, expectProblem, PASSWORD, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** 200 when the access token passes a guarded host route, else the problem's code. */
async function guardSays(app: Harness['app'], access: string): Promise<number | string> {
  const res = await request(app).get('/api/hello').set(bearer(access));
  return res.status === 200 ? 200 : (res.body.code as string);
}

async function refreshSays(app: Harness['app'], refresh: string): Promise<number | string> {
  const res = await request(app).post('/auth/refresh').send({ refresh_token: refresh });
  return res.status === 200 ? 200 : (res.body.code as string);
}

async function keySays(app: Harness['app'], key: string, orgId: string): Promise<number | string> {
  const res = await request(app).get('/auth/me').set({ 'X-API-Key': key, 'X-Tenant-Id': orgId });
  return res.status === 200 ? 200 : (res.body.code as string);
}

async function createKey(app: Harness['app'], u: SignedUp): Promise<string> {
  const res = await request(app).post('/auth/api-keys').set(bearer(u.access)).send({ name: `key ${unique()}` });
  expect(res.status, res.text).to.equal(201);
  return res.body.key as string;
}

async function invite(app: Harness['app'], u: SignedUp): Promise<string> {
  const res = await request(app).post(`/auth/orgs/${u.orgId}/invitations`).set(bearer(u.access)).send({});
  expect(res.status, res.text).to.equal(201);
  return res.body.code as string;
}

async function enableTotp(app: Harness['app'], u: SignedUp): Promise<string> {
  const setup = await request(app).post('/auth/mfa/totp/setup').set(bearer(u.access));
  expect(setup.status, setup.text).to.equal(200);
  const code = await generate({ secret: setup.body.secret, epoch: Math.floor(Date.now() / 1000) });
  const enable = await request(app).post('/auth/mfa/totp/enable').set(bearer(u.access)).send({ code });
  expect(enable.status, enable.text).to.equal(200);
  return setup.body.secret as string;
}

const deleteMe = (app: Harness['app'], access: string, body?: object) => {
  const req = request(app).delete('/auth/me').set(bearer(access));
  return body === undefined ? req : req.send(body);
};

describe('DELETE /me: deleting the account', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('deletes the account, and the org where it was the only member, with everything they minted: refused at once', async () => {
    const u = await signupWithOrg(h.app);
    const key = await createKey(h.app, u);
    const code = await invite(h.app, u);
    expect(await keySays(h.app, key, u.orgId)).to.equal(200);

    const res = await deleteMe(h.app, u.access, { password: PASSWORD });
    expect(res.status, res.text).to.equal(204);

    expect(await guardSays(h.app, u.access)).to.equal('token_revoked');
    expect(await refreshSays(h.app, u.refresh)).to.not.equal(200);
    expect(await keySays(h.app, key, u.orgId)).to.equal('invalid_api_key');
    expectProblem(await request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD }), 401, 'invalid_credentials');
    expect(await h.storage.users.findById(u.userId)).to.equal(null);
    expect(await h.storage.orgs.findById(u.orgId)).to.equal(null);
    // The org's invitation went with it.
    const join = await request(h.app).post('/auth/signup').send({ email: `late-${unique()}@example.com`, password: PASSWORD, action: 'join', invitationCode: code });
    expect(join.status, join.text).to.equal(400);
    // The address can sign up again, as a new account.
    const again = await request(h.app).post('/auth/signup').send({ email: u.email, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Again', slug: `again-${unique()}` } });
    expect(again.status, again.text).to.equal(201);
    expect(again.body.id).to.not.equal(u.userId);
  });

  it('in an org that stays, the membership, its keys and invitations end; the org and the others stay', async () => {
    const owner = await signupWithOrg(h.app);
    const admin = await addMember(h.app, owner, 'admin');
    const adminKey = await createKey(h.app, admin);
    const ownerKey = await createKey(h.app, owner);
    const adminCode = await invite(h.app, admin);

    expect((await deleteMe(h.app, admin.access, { password: PASSWORD })).status).to.equal(204);

    expect(await keySays(h.app, adminKey, owner.orgId)).to.equal('invalid_api_key');
    expect(await keySays(h.app, ownerKey, owner.orgId)).to.equal(200);
    expect(await guardSays(h.app, admin.access)).to.equal('token_revoked');
    expect(await guardSays(h.app, owner.access)).to.equal(200);
    const members = await request(h.app).get(`/auth/orgs/${owner.orgId}/members`).set(bearer(owner.access));
    expect(members.body.members.map((m: { userId: string }) => m.userId)).to.deep.equal([owner.userId]);
    const join = await request(h.app).post('/auth/signup').send({ email: `late-${unique()}@example.com`, password: PASSWORD, action: 'join', invitationCode: adminCode });
    expect(join.status, join.text).to.equal(400);
  });

  it('409 last_owner, naming the org, while it is the only owner of an org with other members; nothing changes', async () => {
    const owner = await signupWithOrg(h.app);
    const member = await addMember(h.app, owner);
    const res = await deleteMe(h.app, owner.access, { password: PASSWORD });
    expectProblem(res, 409, 'last_owner');
    expect(res.body.orgIds).to.deep.equal([owner.orgId]);
    expect(await guardSays(h.app, owner.access)).to.equal(200);
    expect(await h.storage.users.findById(owner.userId)).to.not.equal(null);

    // With another owner it may go; the org stays with them.
    const promote = await request(h.app).patch(`/auth/orgs/${owner.orgId}/members/${member.userId}`).set(bearer(owner.access)).send({ role: 'owner' });
    expect(promote.status, promote.text).to.equal(200);
    expect((await deleteMe(h.app, owner.access, { password: PASSWORD })).status).to.equal(204);
    expect(await h.storage.orgs.findById(owner.orgId)).to.not.equal(null);
    expect(await guardSays(h.app, member.access)).to.equal(200);
  });

  it('a wrong password → 401 invalid_credentials, and the account stays', async () => {
    const u = await signupWithOrg(h.app);
    expectProblem(await deleteMe(h.app, u.access, { password: 'not the password' }), 401, 'invalid_credentials');
    expect(await guardSays(h.app, u.access)).to.equal(200);
    expect(await h.storage.users.findById(u.userId)).to.not.equal(null);
  });

  it('bad bodies → 400: no proof for an account with a password, both proofs, a malformed code', async () => {
    const u = await signupWithOrg(h.app);
    expectProblem(await deleteMe(h.app, u.access), 400, 'invalid_request');
    expectProblem(await deleteMe(h.app, u.access, {}), 400, 'invalid_request');
    expectProblem(await deleteMe(h.app, u.access, { password: PASSWORD, code: '123456' }), 400, 'invalid_request');
    expectProblem(await deleteMe(h.app, u.access, { code: 'abc' }), 400, 'invalid_request');
    expectProblem(await deleteMe(h.app, u.access, { password: PASSWORD, extra: 1 }), 400, 'invalid_request');
    expectProblem(await request(h.app).delete('/auth/me').send({ password: PASSWORD }), 401, 'missing_token');
    expect(await h.storage.users.findById(u.userId)).to.not.equal(null);
  });

  it('with TOTP on, a code from the authenticator app confirms it; without TOTP a code → 409 mfa_not_enabled', async () => {
    const plain = await signupWithOrg(h.app);
    expectProblem(await deleteMe(h.app, plain.access, { code: '123456' }), 409, 'mfa_not_enabled');

    const u = await signupWithOrg(h.app);
    const secret = await enableTotp(h.app, u);
    expectProblem(await deleteMe(h.app, u.access, { code: '000000' }), 401, 'invalid_mfa_code');
    // The enrolment spent the current time step; the next one is within the allowed drift.
    const code = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    const res = await deleteMe(h.app, u.access, { code });
    expect(res.status, res.text).to.equal(204);
    expect(await h.storage.mfa.findTotp(u.userId)).to.equal(null);
  });

  it('an account without password or TOTP (external sign-in) needs a recent sign-in instead', async () => {
    const { storage } = h;
    const { sessions } = h.auth.services;
    const id = randomUUID();
    await storage.users.create({ id, email: `ext-${unique()}@example.com`, username: null, firstName: null, lastName: null, passwordHash: null, createdAt: Date.now(), emailVerifiedAt: Date.now() });
    await storage.identities.create({ provider: 'google', subject: `sub-${id}`, userId: id, email: null, createdAt: Date.now() });
    const stale = await sessions.start(id, undefined, Math.floor(Date.now() / 1000) - 3600);
    expectProblem(await deleteMe(h.app, stale.accessToken), 403, 'reauthentication_required');
    expectProblem(await deleteMe(h.app, stale.accessToken, { password: 'anything' }), 401, 'invalid_credentials');
    const fresh = await sessions.start(id);
    expect((await deleteMe(h.app, fresh.accessToken)).status).to.equal(204);
    expect(await storage.identities.findBySubject('google', `sub-${id}`)).to.equal(null);
    expect(await guardSays(h.app, stale.accessToken)).to.equal('token_revoked');
  });
});

describe('DELETE /orgs/:orgId and POST /orgs/:orgId/transfer', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const deleteOrg = (u: SignedUp, body: object = { password: PASSWORD }, orgId = u.orgId) =>
    request(h.app).delete(`/auth/orgs/${orgId}`).set(bearer(u.access)).send(body);

  it('deletes the org with its memberships, invitations, keys and applications; every session scoped to it ends at once', async () => {
    const owner = await signupWithOrg(h.app);
    const member = await addMember(h.app, owner);
    const key = await createKey(h.app, owner);
    const code = await invite(h.app, owner);
    const { applications } = h.auth.services;
    const app = await applications.register(owner.userId, owner.orgId, { name: 'Dash', url: `https://dash-${unique()}.example.com` });
    await applications.grant(owner.userId, owner.orgId, app.id, member.userId);
    const appSignin = await applications.signin(member.email, PASSWORD, { appId: app.id });
    const appToken = appSignin.kind === 'tokens' ? appSignin.access.token : '';
    expect(await guardSays(h.app, appToken)).to.equal(200);

    const res = await deleteOrg(owner);
    expect(res.status, res.text).to.equal(204);

    for (const u of [owner, member]) {
      expect(await guardSays(h.app, u.access)).to.equal('token_revoked');
      expect(await refreshSays(h.app, u.refresh)).to.equal('token_revoked');
    }
    expect(await guardSays(h.app, appToken)).to.equal('token_revoked');
    expect(await keySays(h.app, key, owner.orgId)).to.equal('invalid_api_key');
    expect(await h.storage.orgs.findById(owner.orgId)).to.equal(null);
    expect(await h.storage.applications.findById(app.id)).to.equal(null);
    const join = await request(h.app).post('/auth/signup').send({ email: `late-${unique()}@example.com`, password: PASSWORD, action: 'join', invitationCode: code });
    expect(join.status, join.text).to.equal(400);
    // The accounts stay, with no org.
    const signin = await request(h.app).post('/auth/signin').send({ email: member.email, password: PASSWORD });
    expect(signin.status, signin.text).to.equal(200);
    const me = await request(h.app).get('/auth/me').set(bearer(signin.body.access_token));
    expect(me.body.organization).to.equal(null);
  });

  it("ends only the org's sessions: the owner's session in another org lives on", async () => {
    const owner = await signupWithOrg(h.app);
    const other = await request(h.app)
      .post('/auth/setup-org')
      .set(bearer(owner.access))
      .send({ action: 'create', orgCreateProps: { name: 'Other', slug: `other-${unique()}` } });
    expect(other.status, other.text).to.equal(200);
    expect((await deleteOrg(owner)).status).to.equal(204);
    expect(await guardSays(h.app, other.body.access_token)).to.equal(200);
  });

  it('refuses admins (403 forbidden), non-members and unknown orgs (404), a wrong password (401), a bad body (400)', async () => {
    const owner = await signupWithOrg(h.app);
    const admin = await addMember(h.app, owner, 'admin');
    const stranger = await signupWithOrg(h.app);
    expectProblem(await deleteOrg(admin, { password: PASSWORD }, owner.orgId), 403, 'forbidden');
    expectProblem(await deleteOrg(stranger, { password: PASSWORD }, owner.orgId), 404, 'org_not_found');
    expectProblem(await deleteOrg(owner, { password: PASSWORD }, 'no-such-org'), 404, 'org_not_found');
    expectProblem(await deleteOrg(owner, { password: 'not the password' }), 401, 'invalid_credentials');
    expectProblem(await deleteOrg(owner, {}), 400, 'invalid_request');
    expectProblem(await deleteOrg(owner, { password: 42 }), 400, 'invalid_request');
    expect(await h.storage.orgs.findById(owner.orgId)).to.not.equal(null);
    expect(await guardSays(h.app, admin.access)).to.equal(200);
  });

  it('transfer: the member becomes owner and the caller admin; the caller can no longer act as owner', async () => {
    const owner = await signupWithOrg(h.app);
    const member = await addMember(h.app, owner);
    const res = await request(h.app).post(`/auth/orgs/${owner.orgId}/transfer`).set(bearer(owner.access)).send({ userId: member.userId });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.equal({ orgId: owner.orgId, userId: member.userId, role: 'owner', previousOwner: { userId: owner.userId, role: 'admin' } });
    const roles = Object.fromEntries((await h.storage.memberships.listForOrg(owner.orgId)).map((m) => [m.userId, m.role]));
    expect(roles).to.deep.equal({ [owner.userId]: 'admin', [member.userId]: 'owner' });
    expectProblem(await request(h.app).post(`/auth/orgs/${owner.orgId}/transfer`).set(bearer(owner.access)).send({ userId: member.userId }), 403, 'forbidden');
    expectProblem(await deleteOrg(owner), 403, 'forbidden');
    // The new owner may now delete it, and the former owner may delete their account.
    expect((await deleteMe(h.app, owner.access, { password: PASSWORD })).status).to.equal(204);
  });

  it('transfer refuses non-owners (403), a non-member target (404), oneself and bad bodies (400), and a stale sign-in (403)', async () => {
    const owner = await signupWithOrg(h.app);
    const admin = await addMember(h.app, owner, 'admin');
    const stranger = await signupWithOrg(h.app);
    const transfer = (u: SignedUp | { access: string }, body: object) => request(h.app).post(`/auth/orgs/${owner.orgId}/transfer`).set(bearer(u.access)).send(body);
    expectProblem(await transfer(admin, { userId: admin.userId }), 403, 'forbidden');
    expectProblem(await transfer(owner, { userId: stranger.userId }), 404, 'member_not_found');
    expectProblem(await transfer(owner, { userId: owner.userId }), 400, 'invalid_request');
    expectProblem(await transfer(owner, {}), 400, 'invalid_request');
    expectProblem(await transfer(stranger, { userId: stranger.userId }), 404, 'org_not_found');
    const stale = await h.auth.services.sessions.start(owner.userId, owner.orgId, Math.floor(Date.now() / 1000) - 3600);
    expectProblem(await transfer({ access: stale.accessToken }, { userId: admin.userId }), 403, 'reauthentication_required');
    expect((await h.storage.memberships.find(owner.userId, owner.orgId))?.role).to.equal('owner');
  });
});

/**
 * Owner counts under concurrency, on two instances sharing one PostgreSQL: two owners
 * of an org with a third member both delete their accounts at once. Without the org
 * lock both would see the other still owner and the org would be left with none.
 */
describe('account and org deletion across two instances on PostgreSQL', function () {
  this.timeout(60_000);
  let a: Harness;
  let b: Harness;
  before(async () => {
    const url = await createTestDatabase('account_deletion');
    a = await startHarness({ revocation: { pollInterval: '1h', maxStaleness: '2h' } }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
    b = await startHarness({ revocation: { pollInterval: '1h', maxStaleness: '2h' } }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  it('two owners deleting their accounts at once: exactly one 204, one 409 last_owner; the org keeps an owner', async () => {
    for (let round = 0; round < 3; round++) {
      const first = await signupWithOrg(a.app);
      const second = await addMember(a.app, first, 'owner');
      await addMember(a.app, first);
      const results = await Promise.all([deleteMe(a.app, first.access, { password: PASSWORD }), deleteMe(b.app, second.access, { password: PASSWORD })]);
      const statuses = results.map((r) => r.status).sort();
      expect(statuses, JSON.stringify(results.map((r) => r.body))).to.deep.equal([204, 409]);
      expect(await a.storage.memberships.countOwners(first.orgId)).to.equal(1);
    }
  });

  it('an account deleted on A: B refuses its tokens after polling', async () => {
    const u = await signupWithOrg(a.app);
    expect(await guardSays(b.app, u.access)).to.equal(200);
    expect((await deleteMe(a.app, u.access, { password: PASSWORD })).status).to.equal(204);
    await b.auth.services.sessions.pollRevocations();
    expect(await guardSays(b.app, u.access)).to.equal('token_revoked');
  });
});
