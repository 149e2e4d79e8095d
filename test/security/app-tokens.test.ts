import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { createAuthRouter, type AuthRouter } from 'gatehouse-auth';
import { SECRET } from '../helpers/harness.js';
import { call, startPresetServer, type PresetServer } from '../helpers/server.js';

/**
 * Issue 11 items 3 and 14 (preset axonize): application tokens belong to a stored app
 * session that every revocation path ends, and an application's redirectUrl is an
 * https: URL (http: only on loopback).
 */
describe('security: application tokens (issue 11 items 3, 14)', () => {
  let srv: PresetServer;
  let adminToken: string;
  let orgId: string;
  let adminId: string;
  let n = 0;
  const password = 'somePassword!';
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  before(async () => {
    srv = await startPresetServer({ preset: 'axonize', guardedPath: '/api/devices', realtime: { url: 'ws://127.0.0.1:1/mqtt' } });
    const { user, org } = await srv.auth.services.accounts.signup(
      { email: 'admin@apps.example.com', password, firstName: 'App', lastName: 'Admin' },
      { action: 'create', org: { name: 'Apps', slug: 'apps' } },
    );
    adminId = user.id;
    orgId = org!.id;
    const signin = await call(srv.baseUrl, '/api/auth/signin', { json: { email: 'admin@apps.example.com', password } });
    adminToken = signin.body.access_token as string;
  });
  after(async () => {
    await srv.close();
  });

  async function newApp(): Promise<string> {
    n += 1;
    const res = await call(srv.baseUrl, '/api/applications', { json: { name: `App ${n}`, url: `app${n}.example.com` }, headers: bearer(adminToken) });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.appId as string;
  }

  /** A new member of the org (with `role`), given access to the application. */
  async function newMember(appId: string, role: 'member' | 'admin' = 'member'): Promise<{ email: string; userId: string }> {
    n += 1;
    const email = `member${n}@apps.example.com`;
    const invite = await srv.auth.services.invitations.create(adminId, orgId, { role });
    const { user } = await srv.auth.services.accounts.signup({ email, password, firstName: 'M', lastName: `${n}` }, { action: 'join', invitationCode: invite.code });
    const grant = await call(srv.baseUrl, `/api/applications/${appId}/users/${user.id}`, { method: 'PUT', headers: bearer(adminToken) });
    expect(grant.status).to.equal(204);
    return { email, userId: user.id };
  }

  async function appToken(email: string, appId: string): Promise<string> {
    const res = await call(srv.baseUrl, '/api/auth/login', { json: { email, password }, headers: { appId } });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.token as string;
  }

  async function expectWorks(token: string, what: string): Promise<void> {
    const devices = await call(srv.baseUrl, '/api/devices', { headers: bearer(token) });
    expect(devices.status, `${what}: host route`).to.equal(200);
    const creds = await call(srv.baseUrl, '/api/auth/iot-credentials', { headers: bearer(token) });
    expect(creds.status, `${what}: realtime credentials ${JSON.stringify(creds.body)}`).to.equal(200);
    expect(creds.body.authToken).to.be.a('string');
  }

  async function expectRefused(token: string, what: string): Promise<void> {
    const devices = await call(srv.baseUrl, '/api/devices', { headers: bearer(token) });
    expect(devices.status, `${what}: host route`).to.equal(401);
    expect(devices.body.code, what).to.equal('token_revoked');
    const creds = await call(srv.baseUrl, '/api/auth/iot-credentials', { headers: bearer(token) });
    expect(creds.status, `${what}: realtime credentials`).to.equal(401);
  }

  it('item 3: an application token ends when its grant is revoked, the member is removed or demoted, the application is deleted, or on logout', async () => {
    const appId = await newApp();

    const revoked = await newMember(appId);
    const revokedToken = await appToken(revoked.email, appId);
    await expectWorks(revokedToken, 'grant');
    expect((await call(srv.baseUrl, `/api/applications/${appId}/users/${revoked.userId}`, { method: 'DELETE', headers: bearer(adminToken) })).status).to.equal(204);
    await expectRefused(revokedToken, 'grant revoked');

    const removed = await newMember(appId);
    const removedToken = await appToken(removed.email, appId);
    await expectWorks(removedToken, 'member');
    expect((await call(srv.baseUrl, `/api/auth/orgs/${orgId}/members/${removed.userId}`, { method: 'DELETE', headers: bearer(adminToken) })).status).to.equal(204);
    await expectRefused(removedToken, 'member removed');
    // Re-joining the org does not bring back access to the application.
    const invitation = await srv.auth.services.invitations.create(adminId, orgId, {});
    const own = await call(srv.baseUrl, '/api/auth/signin', { json: { email: removed.email, password } });
    const rejoin = await call(srv.baseUrl, '/api/auth/setup-org', { json: { action: 'join', invitationCode: invitation.code }, headers: bearer(own.body.access_token as string) });
    expect(rejoin.status, JSON.stringify(rejoin.body)).to.equal(200);
    expect((await call(srv.baseUrl, '/api/auth/login', { json: { email: removed.email, password }, headers: { appId } })).status).to.equal(401);

    // The token carries the role for its whole life (12 h): a demotion ends it.
    const demoted = await newMember(appId, 'admin');
    const demotedToken = await appToken(demoted.email, appId);
    await expectWorks(demotedToken, 'admin');
    const demote = await call(srv.baseUrl, `/api/auth/orgs/${orgId}/members/${demoted.userId}`, { method: 'PATCH', json: { role: 'member' }, headers: bearer(adminToken) });
    expect(demote.status, JSON.stringify(demote.body)).to.equal(200);
    await expectRefused(demotedToken, 'member demoted');
    await expectWorks(await appToken(demoted.email, appId), 'signed in again after the demotion');

    const otherApp = await newApp();
    const user = await newMember(otherApp);
    const doomedToken = await appToken(user.email, otherApp);
    const grantToApp = await call(srv.baseUrl, `/api/applications/${appId}/users/${user.userId}`, { method: 'PUT', headers: bearer(adminToken) });
    expect(grantToApp.status).to.equal(204);
    const keptToken = await appToken(user.email, appId);
    await expectWorks(doomedToken, 'application');
    expect((await call(srv.baseUrl, `/api/applications/${otherApp}`, { method: 'DELETE', headers: bearer(adminToken) })).status).to.equal(204);
    await expectRefused(doomedToken, 'application deleted');
    // Only that application's sessions end.
    await expectWorks(keptToken, 'token of another application');

    const logout = await call(srv.baseUrl, '/api/auth/logout', { method: 'POST', json: {}, headers: bearer(keptToken) });
    expect(logout.status, JSON.stringify(logout.body)).to.equal(204);
    await expectRefused(keptToken, 'logged out');
  });

  it('item 3: another instance on the same database refuses a revoked application token after its next revocation poll', async () => {
    const appId = await newApp();
    const member = await newMember(appId);
    const token = await appToken(member.email, appId);

    const other: AuthRouter = createAuthRouter({ storage: srv.storage, preset: 'axonize', tokens: { secret: SECRET }, passwords: { cost: 4 }, logger: { warn: () => {}, error: () => {} } });
    const otherApp = express();
    otherApp.use(other);
    otherApp.get('/api/devices', other.requireAuth(), (_req, res) => void res.json({ ok: true }));
    await other.ready();
    try {
      expect((await request(otherApp).get('/api/devices').set(bearer(token))).status).to.equal(200);
      expect((await call(srv.baseUrl, `/api/applications/${appId}/users/${member.userId}`, { method: 'DELETE', headers: bearer(adminToken) })).status).to.equal(204);
      await other.services.sessions.pollRevocations();
      const res = await request(otherApp).get('/api/devices').set(bearer(token));
      expect(res.status).to.equal(401);
      expect(res.body.code).to.equal('token_revoked');
    } finally {
      await other.close();
    }
  });

  it('item 14: redirectUrl must be https: (http: only for localhost, 127.0.0.0/8 or [::1])', async () => {
    const refused = [
      'javascript:alert(document.domain)',
      'JavaScript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'http://example.com/return',
      'http://localhost.example.com/return',
      'ftp://example.com/return',
      'file:///etc/passwd',
    ];
    for (const redirectUrl of refused) {
      n += 1;
      const res = await call(srv.baseUrl, '/api/applications', { json: { name: 'x', url: `r${n}.example.com`, redirectUrl }, headers: bearer(adminToken) });
      expect(res.status, redirectUrl).to.equal(400);
      expect(res.body.code, redirectUrl).to.equal('invalid_request');
      expect((res.body.errors as Array<{ path: string }>).map((e) => e.path), redirectUrl).to.deep.equal(['redirectUrl']);
    }
    // The service refuses it too, whoever calls it.
    let serviceError: unknown;
    try {
      await srv.auth.services.applications.register(adminId, orgId, { name: 'x', url: 'direct.example.com', redirectUrl: 'javascript:alert(1)' });
    } catch (err) {
      serviceError = err;
    }
    expect((serviceError as { code?: string } | undefined)?.code).to.equal('invalid_request');

    const accepted = ['https://sso.example.com/return?x=1', 'http://localhost:3000/cb', 'http://127.0.0.1:8080/cb', 'http://127.1.2.3/cb', 'http://[::1]:5173/'];
    for (const redirectUrl of accepted) {
      n += 1;
      const res = await call(srv.baseUrl, '/api/applications', { json: { name: 'x', url: `ok${n}.example.com`, redirectUrl }, headers: bearer(adminToken) });
      expect(res.status, `${redirectUrl}: ${JSON.stringify(res.body)}`).to.equal(201);
      expect(res.body.redirectUrl).to.equal(redirectUrl);
    }
  });
});
