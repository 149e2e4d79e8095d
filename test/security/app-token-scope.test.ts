import { expect } from 'chai';
import { claimsOf } from '../helpers/harness.js';
import { call, startPresetServer, type PresetServer } from '../helpers/server.js';

/**
 * Issue 11 item 4: a token from an application sign-in (axonize `/api/auth/login`,
 * claim `app`) is for that application's API. On the router's own routes it reaches
 * only those that declare `appTokens` (/me, /logout, realtime credentials).
 */
describe('security: application tokens on management routes', () => {
  let srv: PresetServer;
  let appToken: string;
  let orgId: string;
  const admin = { email: 'scope-admin@example.com', password: 'somePassword!' };

  before(async () => {
    srv = await startPresetServer({ preset: 'axonize', guardedPath: '/api/devices', realtime: { url: 'ws://127.0.0.1:8083/mqtt', ttl: '10m' } });
    const { accounts } = srv.auth.services;
    const { user, org } = await accounts.signup({ ...admin, firstName: 'Scope', lastName: 'Admin' }, { action: 'create', org: { name: 'Scope', slug: 'scope' } });
    orgId = org!.id;
    const signin = await call(srv.baseUrl, '/api/auth/signin', { json: admin });
    const bearer = { Authorization: `Bearer ${signin.body.access_token}` };
    const app = await call(srv.baseUrl, '/api/applications', { json: { name: 'Scoped app', url: 'https://scoped.example.com' }, headers: bearer });
    expect(app.status).to.equal(201);
    const appId = app.body.appId as string;
    const grant = await call(srv.baseUrl, `/api/applications/${appId}/users/${user.id}`, { method: 'PUT', headers: bearer });
    expect(grant.status).to.equal(204);
    const login = await call(srv.baseUrl, '/api/auth/login', { json: admin, headers: { appId } });
    expect(login.status).to.equal(200);
    appToken = login.body.token as string;
    expect(claimsOf(appToken)).to.include({ app: appId, role: 'owner' });
  });
  after(async () => {
    await srv.close();
  });

  it('item 4: an application token is refused on management routes (403 application_token_not_allowed) and accepted on /me', async () => {
    const headers = { Authorization: `Bearer ${appToken}` };
    const refused = [
      await call(srv.baseUrl, '/api/auth/api-keys', { json: { name: 'stolen', role: 'admin' }, headers }),
      await call(srv.baseUrl, '/api/auth/api-keys', { headers }),
      await call(srv.baseUrl, '/api/applications', { json: { name: 'Another', url: 'https://another.example.com' }, headers }),
      await call(srv.baseUrl, `/api/auth/orgs/${orgId}/invitations`, { json: { role: 'owner' }, headers }),
      await call(srv.baseUrl, '/api/auth/mfa/totp/setup', { method: 'POST', headers }),
      await call(srv.baseUrl, '/api/auth/switch-org', { json: { orgId }, headers }),
    ];
    for (const res of refused) {
      expect(res.status, JSON.stringify(res.body)).to.equal(403);
      expect(res.body.code).to.equal('application_token_not_allowed');
    }
    expect(await srv.storage.apiKeys.listForOrg(orgId)).to.have.length(0);

    const me = await call(srv.baseUrl, '/api/auth/me', { headers });
    expect(me.status).to.equal(200);
    expect(me.body.email).to.equal(admin.email);
    const realtime = await call(srv.baseUrl, '/api/auth/iot-credentials', { headers });
    expect(realtime.status, JSON.stringify(realtime.body)).to.equal(200);
    // The host's own routes are the application's API: the token works there.
    expect((await call(srv.baseUrl, '/api/devices', { headers })).status).to.equal(200);
    expect((await call(srv.baseUrl, '/api/auth/logout', { method: 'POST', headers })).status).to.equal(204);
    expect((await call(srv.baseUrl, '/api/devices', { headers })).status).to.equal(401);
  });
});
