import { expect } from 'chai';
import { generate } from 'otplib';
import request from 'supertest';
import { addMember, claimsOf, expectProblem, PASSWORD, signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const MINUTE = 60_000;

/** Issue 11 item 5: sensitive changes need a recent sign-in (`auth_time` within `stepUp.maxAge`). */
describe('security: step-up for sensitive changes (issue 11 item 5)', () => {
  let h: Harness;
  let now: number;
  const codeAt = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });

  beforeEach(async () => {
    now = Date.now();
    h = await startHarness({ clock: { now: () => now } });
  });
  afterEach(async () => {
    await h.close();
  });

  const setup = (token: string) => request(h.app).post('/auth/mfa/totp/setup').set(bearer(token));
  const enable = (token: string, code: string) => request(h.app).post('/auth/mfa/totp/enable').set(bearer(token)).send({ code });
  const createKey = (token: string) => request(h.app).post('/auth/api-keys').set(bearer(token)).send({ name: 'ci' });
  const makeOwner = (token: string, orgId: string, userId: string) =>
    request(h.app).patch(`/auth/orgs/${orgId}/members/${userId}`).set(bearer(token)).send({ role: 'owner' });
  const reauthenticate = (token: string, body: object) => request(h.app).post('/auth/reauthenticate').set(bearer(token)).send(body);

  it('item 5: a token whose sign-in is older than stepUp.maxAge gets 403 reauthentication_required on every step-up route, and works after /reauthenticate', async () => {
    const owner = await signupWithOrg(h.app);
    const member = await addMember(h.app, owner, 'admin');
    expect(claimsOf(owner.access).auth_time).to.equal(Math.floor(now / 1000));

    // Six minutes later the access token (15 min) still works, but its sign-in is stale.
    now += 6 * MINUTE;
    expect((await request(h.app).get('/api/hello').set(bearer(owner.access))).status).to.equal(200);
    expectProblem(await setup(owner.access), 403, 'reauthentication_required');
    expectProblem(await enable(owner.access, '123456'), 403, 'reauthentication_required');
    expectProblem(await createKey(owner.access), 403, 'reauthentication_required');
    expectProblem(await makeOwner(owner.access, owner.orgId, member.userId), 403, 'reauthentication_required');
    // Making someone admin is not sensitive in that way, and stale tokens keep doing it.
    expect((await request(h.app).patch(`/auth/orgs/${owner.orgId}/members/${member.userId}`).set(bearer(owner.access)).send({ role: 'member' })).status).to.equal(200);
    expect(await h.storage.apiKeys.listForOrg(owner.orgId)).to.have.length(0);
    expect((await h.storage.memberships.find(member.userId, owner.orgId))?.role).to.equal('member');

    // Neither refreshing nor switching org makes a session fresh: auth_time rides along.
    const refreshed = await request(h.app).post('/auth/refresh').send({ refresh_token: owner.refresh });
    expect(refreshed.status, refreshed.text).to.equal(200);
    expect(claimsOf(refreshed.body.access_token).auth_time).to.equal(claimsOf(owner.access).auth_time);
    expectProblem(await createKey(refreshed.body.access_token), 403, 'reauthentication_required');
    const switched = await request(h.app).post('/auth/switch-org').set(bearer(owner.access)).send({ orgId: owner.orgId });
    expect(switched.status, switched.text).to.equal(200);
    expectProblem(await createKey(switched.body.access_token), 403, 'reauthentication_required');

    // A wrong password is refused; the right one gives a fresh token of the same session.
    expectProblem(await reauthenticate(owner.access, { password: 'not my password' }), 401, 'invalid_credentials');
    const again = await reauthenticate(owner.access, { password: PASSWORD });
    expect(again.status, again.text).to.equal(200);
    const fresh = again.body.access_token as string;
    expect(claimsOf(fresh)).to.include({ auth_time: Math.floor(now / 1000), sid: claimsOf(owner.access).sid, sub: owner.userId, org: owner.orgId, role: 'owner' });

    const enrolment = await setup(fresh);
    expect(enrolment.status, enrolment.text).to.equal(200);
    const enabled = await enable(fresh, await codeAt(enrolment.body.secret, now));
    expect(enabled.status, enabled.text).to.equal(200);
    expect((await createKey(fresh)).status).to.equal(201);
    expect((await makeOwner(fresh, owner.orgId, member.userId)).status).to.equal(200);

    // The fresh token belongs to the session: logging it out ends the whole family.
    expect((await request(h.app).post('/auth/logout').set(bearer(fresh))).status).to.equal(204);
    expectProblem(await request(h.app).post('/auth/refresh').send({ refresh_token: refreshed.body.refresh_token }), 401, 'token_revoked');
  });

  it('item 5: with TOTP on, a code renews the sign-in too; stale tokens still turn TOTP off with their own proof', async () => {
    const owner = await signupWithOrg(h.app);
    const enrolment = await setup(owner.access);
    expect((await enable(owner.access, await codeAt(enrolment.body.secret, now))).status).to.equal(200);

    now += 10 * MINUTE;
    const stale = await request(h.app).post('/auth/signin').send({ email: owner.email, password: PASSWORD });
    expectProblem(stale, 403, 'mfa_required');
    const verified = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: stale.body.mfa_token, code: await codeAt(enrolment.body.secret, now) });
    expect(verified.status, verified.text).to.equal(200);
    now += 6 * MINUTE;
    const token = verified.body.access_token as string;
    expectProblem(await createKey(token), 403, 'reauthentication_required');

    expectProblem(await reauthenticate(token, { code: '000000' }), 401, 'invalid_mfa_code');
    const again = await reauthenticate(token, { code: await codeAt(enrolment.body.secret, now) });
    expect(again.status, again.text).to.equal(200);
    expect((await createKey(again.body.access_token)).status).to.equal(201);

    // Turning TOTP off carries its own proof, so it needs no fresh sign-in.
    now += 6 * MINUTE;
    const off = await request(h.app).post('/auth/mfa/totp/disable').set(bearer(token)).send({ password: PASSWORD });
    expect(off.status, off.text).to.equal(204);
    // Without TOTP, a code is no proof; bad bodies are 400.
    expectProblem(await reauthenticate(token, { code: '123456' }), 409, 'mfa_not_enabled');
    expectProblem(await reauthenticate(token, {}), 400, 'invalid_request');
    expectProblem(await reauthenticate(token, { password: PASSWORD, code: '123456' }), 400, 'invalid_request');
  });

  it("item 5: host routes ask for a recent sign-in with requireAuth({ stepUp: true }); API keys never pass it", async () => {
    h.app.post('/api/change-email', h.auth.requireAuth({ stepUp: true }), (_req, res) => void res.json({ ok: true }));
    const owner = await signupWithOrg(h.app);
    expect((await request(h.app).post('/api/change-email').set(bearer(owner.access))).status).to.equal(200);
    const key = (await createKey(owner.access)).body.key as string;
    expectProblem(await request(h.app).post('/api/change-email').set({ 'X-API-Key': key, 'X-Tenant-Id': owner.orgId }), 403, 'reauthentication_required');
    now += 6 * MINUTE;
    expectProblem(await request(h.app).post('/api/change-email').set(bearer(owner.access)), 403, 'reauthentication_required');
    const again = await reauthenticate(owner.access, { password: PASSWORD });
    expect((await request(h.app).post('/api/change-email').set(bearer(again.body.access_token))).status).to.equal(200);
  });

  it('item 5: stepUp.maxAge is an option; /reauthenticate is mounted under every preset prefix', async () => {
    const strict = await startHarness({ stepUp: { maxAge: '30s' }, clock: { now: () => now } });
    try {
      const owner = await signupWithOrg(strict.app);
      now += 31_000;
      expectProblem(await request(strict.app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'x' }), 403, 'reauthentication_required');
    } finally {
      await strict.close();
    }
    let refused: unknown;
    try {
      await startHarness({ stepUp: { maxAge: 'soon' as never } });
    } catch (err) {
      refused = err;
    }
    expect(String(refused)).to.match(/stepUp\.maxAge/);
    expect(Object.keys(h.auth.openApiDocument().paths)).to.include('/reauthenticate');
    for (const [preset, path] of [['cognito', '/auth/reauthenticate'], ['axonize', '/api/auth/reauthenticate'], ['datarhei', '/api/auth/reauthenticate']] as const) {
      const other = await startHarness({ preset });
      try {
        expect(Object.keys(other.auth.openApiDocument().paths), preset).to.include(path);
        if (preset !== 'datarhei') continue;
        // Its sign-in tokens carry only the registered claims, so they never count as recent;
        // /reauthenticate answers with a token that carries auth_time for the step-up routes.
        await other.auth.services.accounts.signup({ email: 'ops@example.com', username: 'ops', password: PASSWORD }, { action: 'create', org: { name: 'Ops', slug: 'ops' } });
        const login = await request(other.app).post('/auth/api/login').send({ username: 'ops', password: PASSWORD });
        expect(login.status, login.text).to.equal(200);
        const token = login.body.access_token as string;
        expect(claimsOf(token)).not.to.have.property('auth_time');
        const key = await request(other.app).post('/auth/api/auth/api-keys').set(bearer(token)).send({ name: 'x' });
        expect([key.status, key.body.details?.[0]]).to.deep.equal([403, 'reauthentication_required']);
        const again = await request(other.app).post('/auth/api/auth/reauthenticate').set(bearer(token)).send({ password: PASSWORD });
        expect(again.status, again.text).to.equal(200);
        expect(claimsOf(again.body.access_token)).to.have.property('auth_time');
        const stale = await request(other.app).post('/auth/api/auth/mfa/totp/setup').set(bearer(token));
        expect([stale.status, stale.body.details?.[0]]).to.deep.equal([403, 'reauthentication_required']);
        const enrol = await request(other.app).post('/auth/api/auth/mfa/totp/setup').set(bearer(again.body.access_token));
        expect(enrol.status, enrol.text).to.equal(200);
      } finally {
        await other.close();
      }
    }
  });
});
