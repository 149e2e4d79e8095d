import { expect } from 'chai';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import type { Session } from 'gatehouse-auth/client';
import { claimsOf, expectProblem, PASSWORD, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });


/** Signs in with a User-Agent of its own: one more session. */
async function signinAs(app: Harness['app'], email: string, userAgent: string): Promise<{ access: string; refresh: string; sid: string }> {
  const res = await request(app).post('/auth/signin').set('User-Agent', userAgent).send({ email, password: PASSWORD });
  expect(res.status, res.text).to.equal(200);
  return { access: res.body.access_token, refresh: res.body.refresh_token, sid: String(claimsOf(res.body.access_token).sid) };
}

async function listSessions(app: Harness['app'], access: string): Promise<Session[]> {
  const res = await request(app).get('/auth/sessions').set(bearer(access));
  expect(res.status, res.text).to.equal(200);
  return res.body.sessions as Session[];
}

/** 200 when the access token passes a guarded host route, else the problem's code. */
async function guardSays(app: Harness['app'], access: string): Promise<number | string> {
  const res = await request(app).get('/api/hello').set(bearer(access));
  return res.status === 200 ? 200 : (res.body.code as string);
}

async function refreshSays(app: Harness['app'], refresh: string): Promise<number | string> {
  const res = await request(app).post('/auth/refresh').send({ refresh_token: refresh });
  return res.status === 200 ? 200 : (res.body.code as string);
}

describe('sessions: listing and ending them', () => {
  let h: Harness;
  let user: SignedUp;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());
  beforeEach(async () => {
    user = await signupWithOrg(h.app);
  });

  it('GET /sessions lists the live sessions with their client, org and which one is asking', async () => {
    // Apart in time, so the order (most recently used first) is certain.
    const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
    await pause();
    const phone = await signinAs(h.app, user.email, 'Phone/1.0');
    await pause();
    const laptop = await signinAs(h.app, user.email, 'Laptop/2.0');
    const before = Date.now();
    const sessions = await listSessions(h.app, laptop.access);
    // The harness's own sign-in, the phone and the laptop; the newest first.
    expect(sessions.map((s) => s.id)).to.deep.equal([laptop.sid, phone.sid, String(claimsOf(user.access).sid)]);
    const [mine, other] = sessions as [Session, Session];
    expect(mine).to.include({ userAgent: 'Laptop/2.0', orgId: user.orgId, appId: null, current: true });
    expect(other).to.include({ userAgent: 'Phone/1.0', current: false });
    expect(mine.ip).to.match(/127\.0\.0\.1|::1/);
    expect(Date.parse(mine.createdAt)).to.be.at.most(before);
    expect(mine.lastUsedAt).to.equal(mine.createdAt);
    expect(sessions.filter((s) => s.current)).to.have.length(1);
  });

  it('another user never sees these sessions', async () => {
    const other = await signupWithOrg(h.app);
    const theirs = await listSessions(h.app, other.access);
    expect(theirs.map((s) => s.id)).to.deep.equal([String(claimsOf(other.access).sid)]);
  });

  it('a refresh keeps the sign-in time and records the refreshing client and time', async () => {
    const phone = await signinAs(h.app, user.email, 'Phone/1.0');
    const [signedIn] = (await listSessions(h.app, phone.access)).filter((s) => s.id === phone.sid);
    await new Promise((resolve) => setTimeout(resolve, 15));
    const res = await request(h.app).post('/auth/refresh').set('User-Agent', 'Phone/1.1').send({ refresh_token: phone.refresh });
    expect(res.status, res.text).to.equal(200);
    const [refreshed] = (await listSessions(h.app, res.body.access_token)).filter((s) => s.id === phone.sid);
    expect(refreshed).to.include({ createdAt: signedIn?.createdAt, userAgent: 'Phone/1.1', current: true });
    expect(Date.parse(refreshed?.lastUsedAt ?? '')).to.be.above(Date.parse(signedIn?.lastUsedAt ?? ''));
  });

  it('a renewal without rotation (the presets that keep their refresh token) records its client and time', async () => {
    const phone = await signinAs(h.app, user.email, 'Phone/1.0');
    await new Promise((resolve) => setTimeout(resolve, 15));
    await h.auth.services.sessions.renewAccess(phone.refresh, { ip: '203.0.113.9', userAgent: 'Renewer/1' });
    const [renewed] = (await listSessions(h.app, phone.access)).filter((s) => s.id === phone.sid);
    expect(renewed).to.include({ ip: '203.0.113.9', userAgent: 'Renewer/1' });
    expect(Date.parse(renewed?.lastUsedAt ?? '')).to.be.above(Date.parse(renewed?.createdAt ?? ''));
  });

  it("an application sign-in (issue 11's app sessions) is listed with its application", async () => {
    const { applications } = h.auth.services;
    const app = await applications.register(user.userId, user.orgId, { name: 'Dashboard', url: `https://dash-${user.userId}.example.com` });
    await applications.grant(user.userId, user.orgId, app.id, user.userId);
    const signed = await applications.signin(user.email, PASSWORD, { appId: app.id });
    expect(signed.kind).to.equal('tokens');
    const sessions = await listSessions(h.app, user.access);
    const appSession = sessions.find((s) => s.appId === app.id);
    expect(appSession).to.include({ orgId: user.orgId, current: false });
    // Ending it ends the application token.
    const appToken = signed.kind === 'tokens' ? signed.access.token : '';
    expect(await guardSays(h.app, appToken)).to.equal(200);
    expect((await request(h.app).delete(`/auth/sessions/${appSession?.id}`).set(bearer(user.access))).status).to.equal(204);
    expect(await guardSays(h.app, appToken)).to.equal('token_revoked');
  });

  it('logged-out and ended sessions are not listed', async () => {
    const phone = await signinAs(h.app, user.email, 'Phone/1.0');
    expect((await request(h.app).post('/auth/logout').set(bearer(phone.access)).send({})).status).to.equal(204);
    const ids = (await listSessions(h.app, user.access)).map((s) => s.id);
    expect(ids).not.to.include(phone.sid);
  });

  it("DELETE /sessions/:id ends that session at once: its access and refresh tokens are refused, the others work", async () => {
    const phone = await signinAs(h.app, user.email, 'Phone/1.0');
    const laptop = await signinAs(h.app, user.email, 'Laptop/2.0');
    expect(await guardSays(h.app, phone.access)).to.equal(200);
    const res = await request(h.app).delete(`/auth/sessions/${phone.sid}`).set(bearer(laptop.access));
    expect(res.status, res.text).to.equal(204);
    expect(await guardSays(h.app, phone.access)).to.equal('token_revoked');
    expect(await refreshSays(h.app, phone.refresh)).to.equal('token_revoked');
    expect(await guardSays(h.app, laptop.access)).to.equal(200);
    expect(await refreshSays(h.app, laptop.refresh)).to.equal(200);
    expect((await listSessions(h.app, laptop.access)).map((s) => s.id)).not.to.include(phone.sid);
    // Repeating it (a retry) answers the same.
    expect((await request(h.app).delete(`/auth/sessions/${phone.sid}`).set(bearer(laptop.access))).status).to.equal(204);
  });

  it('DELETE /sessions/:id may end the current session too', async () => {
    const phone = await signinAs(h.app, user.email, 'Phone/1.0');
    expect((await request(h.app).delete(`/auth/sessions/${phone.sid}`).set(bearer(phone.access))).status).to.equal(204);
    expect(await guardSays(h.app, phone.access)).to.equal('token_revoked');
  });

  it("another user's session and an unknown id both answer 404 session_not_found, and the other's session lives on", async () => {
    const other = await signupWithOrg(h.app);
    const theirSid = String(claimsOf(other.access).sid);
    expectProblem(await request(h.app).delete(`/auth/sessions/${theirSid}`).set(bearer(user.access)), 404, 'session_not_found');
    expectProblem(await request(h.app).delete('/auth/sessions/no-such-session').set(bearer(user.access)), 404, 'session_not_found');
    expect(await guardSays(h.app, other.access)).to.equal(200);
    expect(await refreshSays(h.app, other.refresh)).to.equal(200);
  });

  it('a bad id or no token is refused', async () => {
    expectProblem(await request(h.app).delete(`/auth/sessions/${'x'.repeat(200)}`).set(bearer(user.access)), 400, 'invalid_request');
    expectProblem(await request(h.app).get('/auth/sessions'), 401, 'missing_token');
    expectProblem(await request(h.app).delete('/auth/sessions'), 401, 'missing_token');
  });

  it('DELETE /sessions ends every session but the current one', async () => {
    const phone = await signinAs(h.app, user.email, 'Phone/1.0');
    const laptop = await signinAs(h.app, user.email, 'Laptop/2.0');
    const res = await request(h.app).delete('/auth/sessions').set(bearer(laptop.access));
    expect(res.status, res.text).to.equal(204);
    for (const ended of [phone, { access: user.access, refresh: user.refresh }]) {
      expect(await guardSays(h.app, ended.access)).to.equal('token_revoked');
      expect(await refreshSays(h.app, ended.refresh)).to.equal('token_revoked');
    }
    expect(await guardSays(h.app, laptop.access)).to.equal(200);
    const left = await listSessions(h.app, laptop.access);
    expect(left.map((s) => [s.id, s.current])).to.deep.equal([[laptop.sid, true]]);
    expect(await refreshSays(h.app, laptop.refresh)).to.equal(200);
  });
});

describe('sessions under a preset with minimal claims (datarhei)', () => {
  let h: Harness;
  const username = 'core-admin';
  before(async () => {
    h = await startHarness({ preset: 'datarhei' });
    await h.auth.services.accounts.signup({ email: 'core-admin@example.com', password: PASSWORD, username }, { action: 'create', org: { name: 'Core', slug: 'core' } });
  });
  after(() => h.close());

  const login = async (userAgent: string) => {
    const res = await request(h.app).post('/auth/api/login').set('User-Agent', userAgent).send({ username, password: PASSWORD });
    expect(res.status, res.text).to.equal(200);
    return { access: res.body.access_token as string, refresh: res.body.refresh_token as string };
  };

  it('lists the sessions (none current: the tokens name none) and records each renewal of the kept refresh token', async () => {
    const first = await login('Core-UI/1');
    const sessions = await request(h.app).get('/auth/api/auth/sessions').set(bearer(first.access));
    expect(sessions.status, sessions.text).to.equal(200);
    const [listed] = sessions.body.sessions as Session[];
    expect(listed).to.include({ userAgent: 'Core-UI/1', current: false });
    await new Promise((resolve) => setTimeout(resolve, 15));
    const renewed = await request(h.app).get('/auth/api/login/refresh').set('User-Agent', 'Core-UI/2').set(bearer(first.refresh));
    expect(renewed.status, renewed.text).to.equal(200);
    const after = (await request(h.app).get('/auth/api/auth/sessions').set(bearer(first.access))).body.sessions as Session[];
    const same = after.find((s) => s.id === listed?.id);
    expect(same).to.include({ userAgent: 'Core-UI/2', createdAt: listed?.createdAt });
    expect(Date.parse(same?.lastUsedAt ?? '')).to.be.above(Date.parse(listed?.lastUsedAt ?? ''));
  });

  it('DELETE /sessions ends every session, the refresh token of the caller included', async () => {
    const a = await login('A');
    const b = await login('B');
    expect((await request(h.app).delete('/auth/api/auth/sessions').set(bearer(b.access))).status).to.equal(204);
    for (const s of [a, b]) {
      const res = await request(h.app).get('/auth/api/login/refresh').set(bearer(s.refresh));
      expect(res.status, res.text).to.equal(401);
    }
    expect((await request(h.app).get('/auth/api/auth/sessions').set(bearer(b.access))).body.sessions).to.deep.equal([]);
  });
});

/**
 * Two instances (two routers, two pools) on one PostgreSQL: what one lists the other
 * lists, and a session ended on one is refused by the other once it has polled.
 */
describe('sessions across two instances on PostgreSQL', function () {
  this.timeout(60_000);
  let a: Harness;
  let b: Harness;
  before(async () => {
    const url = await createTestDatabase('sessions_list');
    // A long poll interval and no LISTEN/NOTIFY (test/adapters/revocation-notify.test.ts covers
    // that): only the explicit pollRevocations() below brings revocations across.
    const storage = () => createKnexStorage(pgConfig(url), { revocationNotify: false });
    a = await startHarness({ revocation: { pollInterval: '1h', maxStaleness: '2h' } }, { storage: storage() });
    b = await startHarness({ revocation: { pollInterval: '1h', maxStaleness: '2h' } }, { storage: storage() });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  it('a session ended on A is listed no more on B, and B refuses its tokens after polling', async () => {
    const user = await signupWithOrg(a.app);
    const phone = await signinAs(a.app, user.email, 'Phone/1.0');
    const laptop = await signinAs(b.app, user.email, 'Laptop/2.0');
    expect((await listSessions(b.app, laptop.access)).map((s) => s.id)).to.include.members([phone.sid, laptop.sid]);
    expect(await guardSays(b.app, phone.access)).to.equal(200);

    const res = await request(a.app).delete(`/auth/sessions/${phone.sid}`).set(bearer(user.access));
    expect(res.status, res.text).to.equal(204);
    expect(await guardSays(a.app, phone.access)).to.equal('token_revoked');
    expect((await listSessions(b.app, laptop.access)).map((s) => s.id)).not.to.include(phone.sid);
    // The refresh token is checked in storage: refused on B at once.
    expect(await refreshSays(b.app, phone.refresh)).to.equal('token_revoked');
    // The access token is checked in memory: B learns of the revocation when it polls (here: only when told to).
    expect(await guardSays(b.app, phone.access)).to.equal(200);
    await b.auth.services.sessions.pollRevocations();
    expect(await guardSays(b.app, phone.access)).to.equal('token_revoked');
    expect(await guardSays(b.app, laptop.access)).to.equal(200);
  });

  it('DELETE /sessions on B ends the sessions made on A, refused by A after polling', async () => {
    const user = await signupWithOrg(a.app);
    const phone = await signinAs(a.app, user.email, 'Phone/1.0');
    const laptop = await signinAs(b.app, user.email, 'Laptop/2.0');
    expect((await request(b.app).delete('/auth/sessions').set(bearer(laptop.access))).status).to.equal(204);
    await a.auth.services.sessions.pollRevocations();
    expect(await guardSays(a.app, phone.access)).to.equal('token_revoked');
    expect(await guardSays(a.app, user.access)).to.equal('token_revoked');
    expect(await refreshSays(a.app, phone.refresh)).to.equal('token_revoked');
    expect(await guardSays(a.app, laptop.access)).to.equal(200);
    expect((await listSessions(a.app, laptop.access)).map((s) => s.id)).to.deep.equal([laptop.sid]);
  });
});
