import { expect } from 'chai';
import { generate } from 'otplib';
import { eventually } from '../helpers/eventually.js';
import { claimsOf } from '../helpers/harness.js';
import { call, startPresetServer, type PresetServer } from '../helpers/server.js';

/**
 * Replays seed 002 (Axonize REST API login) against a listening server: login with
 * the appId header and with url in the body, the {name, token, redirectUrl} answer,
 * 401 for bad credentials (and, without a leak, for no access), 403 with MFA.
 */
describe('preset axonize (seed 002)', () => {
  let srv: PresetServer;
  let adminToken: string;
  let appId: string;
  let subAppId: string;
  const admin = { email: 'demousers@axonize.com', password: 'somePassword!' };
  const member = { email: 'demo@user.com', password: 'somePassword' };
  const outsider = { email: 'outsider@user.com', password: 'somePassword' };

  before(async () => {
    srv = await startPresetServer({ preset: 'axonize', guardedPath: '/api/devices' });
    srv.app.get('/api/app-only', srv.auth.requireAuth({ application: true }), (req, res) => void res.json({ appId: req.auth?.appId }));
    const { accounts, invitations } = srv.auth.services;
    const { user, org } = await accounts.signup({ ...admin, firstName: 'Demo', lastName: 'Admin' }, { action: 'create', org: { name: 'Axonize demo', slug: 'demo' } });
    const signin = await call(srv.baseUrl, '/api/auth/signin', { json: admin });
    adminToken = signin.body.access_token as string;
    const invite = await invitations.create(user.id, org!.id, {});
    await accounts.signup({ ...member, firstName: 'Some', lastName: 'User' }, { action: 'join', invitationCode: invite.code });
    const invite2 = await invitations.create(user.id, org!.id, {});
    await accounts.signup(outsider, { action: 'join', invitationCode: invite2.code });

    const app = await call(srv.baseUrl, '/api/applications', {
      json: { name: 'Demo app', url: 'https://demoapp.stg.axonize.com', redirectUrl: 'https://sso.example.com/return' },
      headers: { Authorization: `Bearer ${adminToken}` },
    });
    expect(app.status).to.equal(201);
    appId = app.body.appId as string;
    const sub = await call(srv.baseUrl, '/api/applications', {
      json: { name: 'Sub app', url: 'myapp.stg.axonize.com/mysubapp' },
      headers: { Authorization: `Bearer ${adminToken}` },
    });
    subAppId = sub.body.appId as string;
    const memberId = (await srv.storage.users.findByEmail(member.email))!.id;
    for (const id of [appId, subAppId]) {
      const grant = await call(srv.baseUrl, `/api/applications/${id}/users/${memberId}`, { method: 'PUT', headers: { Authorization: `Bearer ${adminToken}` } });
      expect(grant.status).to.equal(204);
    }
  });
  after(async () => {
    await srv.close();
  });

  /** The user's sign-in entries in the audit log, oldest first: [action, data]. */
  const signIns = async (email: string) => {
    const userId = (await srv.storage.users.findByEmail(email))!.id;
    const rows = await srv.storage.knex('auth_audit_log').where({ actor_id: userId }).whereLike('action', 'signin.%').orderBy('seq');
    return rows.map((r: { action: string; data: string; target_id: string | null }) => [r.action, JSON.parse(r.data), r.target_id]);
  };

  it('registers applications with a UUID appId', async () => {
    expect(appId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const dup = await call(srv.baseUrl, '/api/applications', { json: { name: 'Again', url: 'demoapp.stg.axonize.com/' }, headers: { Authorization: `Bearer ${adminToken}` } });
    expect(dup.status).to.equal(409);
    expect(dup.body.code).to.equal('url_taken');
  });

  it('logs in with the appId header → 200 {name, token, redirectUrl}', async () => {
    const res = await call(srv.baseUrl, '/api/auth/login', { json: member, headers: { appId } });
    expect(res.status).to.equal(200);
    expect(res.body).to.have.all.keys('name', 'token', 'redirectUrl');
    expect(res.body).to.include({ name: 'Some User', redirectUrl: 'https://sso.example.com/return' });
    expect(claimsOf(res.body.token as string)).to.include({ app: appId, usefor: 'access' });
  });

  it('logs in with url in the body: host, host/path, or a full URL; redirectUrl null unless configured', async () => {
    for (const url of ['demoapp.stg.axonize.com', 'https://DemoApp.stg.axonize.com/']) {
      const res = await call(srv.baseUrl, '/api/auth/login', { json: { ...member, url } });
      expect(res.status, url).to.equal(200);
      expect(claimsOf(res.body.token as string).app).to.equal(appId);
    }
    const sub = await call(srv.baseUrl, '/api/auth/login', { json: { ...member, url: 'myapp.stg.axonize.com/mysubapp' } });
    expect(sub.status).to.equal(200);
    expect(sub.body.redirectUrl).to.equal(null);
    expect(claimsOf(sub.body.token as string).app).to.equal(subAppId);
  });

  it('uses the token on the API, and guarded routes can require an application token', async () => {
    const res = await call(srv.baseUrl, '/api/auth/login', { json: member, headers: { appId } });
    const devices = await call(srv.baseUrl, '/api/devices', { headers: { Authorization: `Bearer ${res.body.token}` } });
    expect(devices.status).to.equal(200);
    expect(devices.body.appId).to.equal(appId);
    expect((await call(srv.baseUrl, '/api/app-only', { headers: { Authorization: `Bearer ${res.body.token}` } })).status).to.equal(200);
    const notApp = await call(srv.baseUrl, '/api/app-only', { headers: { Authorization: `Bearer ${adminToken}` } });
    expect(notApp.status).to.equal(403);
  });

  it('answers wrong credentials and no access to the application with the same 401', async () => {
    const wrong = await call(srv.baseUrl, '/api/auth/login', { json: { ...member, password: 'nope' }, headers: { appId } });
    const noAccess = await call(srv.baseUrl, '/api/auth/login', { json: outsider, headers: { appId } });
    const unknownApp = await call(srv.baseUrl, '/api/auth/login', { json: member, headers: { appId: '00000000-0000-4000-8000-000000000000' } });
    const unknownUrl = await call(srv.baseUrl, '/api/auth/login', { json: { ...member, url: 'nowhere.example.com' } });
    for (const res of [wrong, noAccess, unknownApp, unknownUrl]) {
      expect(res.status).to.equal(401);
      expect(res.body).to.deep.equal(wrong.body);
    }
    // The wrong password is on the member's log, as at /api/auth/signin (written after the answer).
    await eventually(async () => (await signIns(member.email)).some(([action]) => action === 'signin.failed'), 5000, 'signin.failed');
    expect((await signIns(member.email)).filter(([action]) => action === 'signin.failed').map(([, data]) => data)).to.deep.equal([{ method: 'password' }]);
  });

  it('records each application sign-in as signin.succeeded with the application, in the session it stored', async () => {
    const before = (await signIns(member.email)).length;
    const res = await call(srv.baseUrl, '/api/auth/login', { json: member, headers: { appId } });
    expect(res.status).to.equal(200);
    const added = (await signIns(member.email)).slice(before);
    expect(added).to.deep.equal([['signin.succeeded', { method: 'password', applicationId: appId }, claimsOf(res.body.token as string).sid]]);
  });

  it('needs an appId header or a url', async () => {
    const res = await call(srv.baseUrl, '/api/auth/login', { json: member });
    expect(res.status).to.equal(400);
    expect((res.body.errors as Array<{ path: string }>)[0]?.path).to.equal('url');
  });

  it('answers 403 when MFA is enabled, then the MFA step gives the application token', async () => {
    const login = await call(srv.baseUrl, '/api/auth/signin', { json: member });
    const bearer = { Authorization: `Bearer ${login.body.access_token}` };
    const setup = await call(srv.baseUrl, '/api/auth/mfa/totp/setup', { method: 'POST', headers: bearer });
    const secret = setup.body.secret as string;
    const now = Math.floor(Date.now() / 1000);
    const enabled = await call(srv.baseUrl, '/api/auth/mfa/totp/enable', { json: { code: await generate({ secret, epoch: now }) }, headers: bearer });
    expect(enabled.status).to.equal(200);
    const [recoveryCode] = enabled.body.recoveryCodes as string[];

    const challenged = await call(srv.baseUrl, '/api/auth/login', { json: member, headers: { appId } });
    expect(challenged.status).to.equal(403);
    expect(challenged.body.code).to.equal('mfa_required');
    const verified = await call(srv.baseUrl, '/api/auth/mfa/verify', {
      json: { mfa_token: challenged.body.mfa_token, code: await generate({ secret, epoch: now + 30 }) },
    });
    expect(verified.status).to.equal(200);
    expect(verified.body).to.have.all.keys('name', 'token', 'redirectUrl');
    expect(claimsOf(verified.body.token as string).app).to.equal(appId);
    expect((await signIns(member.email)).at(-1)).to.deep.equal(['signin.succeeded', { method: 'totp', applicationId: appId }, claimsOf(verified.body.token as string).sid]);

    // A challenge from the account sign-in (no application) ends in the usual pair.
    const plain = await call(srv.baseUrl, '/api/auth/signin', { json: member });
    expect(plain.status).to.equal(403);
    const pair = await call(srv.baseUrl, '/api/auth/mfa/verify', {
      json: { mfa_token: plain.body.mfa_token, recoveryCode },
    });
    expect(pair.status).to.equal(200);
    expect(pair.body).to.have.all.keys('access_token', 'refresh_token');
    expect((await signIns(member.email)).at(-1)).to.deep.equal(['signin.succeeded', { method: 'recovery_code' }, claimsOf(pair.body.access_token as string).sid]);
  });

  it('manages access: revoke a grant and the user is refused; members cannot manage applications', async () => {
    const memberLogin = await call(srv.baseUrl, '/api/auth/signin', { json: outsider });
    const bearer = { Authorization: `Bearer ${memberLogin.body.access_token}` };
    expect((await call(srv.baseUrl, '/api/applications', { json: { name: 'x', url: 'x.example.com' }, headers: bearer })).status).to.equal(403);
    const outsiderId = (await srv.storage.users.findByEmail(outsider.email))!.id;
    const admin = { Authorization: `Bearer ${adminToken}` };
    await call(srv.baseUrl, `/api/applications/${subAppId}/users/${outsiderId}`, { method: 'PUT', headers: admin });
    expect((await call(srv.baseUrl, '/api/auth/login', { json: { ...outsider, url: 'myapp.stg.axonize.com/mysubapp' } })).status).to.equal(200);
    expect((await call(srv.baseUrl, `/api/applications/${subAppId}/users/${outsiderId}`, { method: 'DELETE', headers: admin })).status).to.equal(204);
    expect((await call(srv.baseUrl, '/api/auth/login', { json: { ...outsider, url: 'myapp.stg.axonize.com/mysubapp' } })).status).to.equal(401);
    const users = await call(srv.baseUrl, `/api/applications/${subAppId}/users`, { headers: admin });
    expect(users.body.userIds).to.have.length(1);
  });

  it('records application changes and grants in the org\'s audit log (a repeated grant once)', async () => {
    const admin = { Authorization: `Bearer ${adminToken}` };
    const adminId = (await srv.storage.users.findByEmail('demousers@axonize.com'))!.id;
    const orgId = (await srv.storage.memberships.listForUser(adminId))[0]!.orgId;
    const outsiderId = (await srv.storage.users.findByEmail(outsider.email))!.id;
    const created = await call(srv.baseUrl, '/api/applications', { json: { name: 'Audited', url: 'audited.example.com' }, headers: admin });
    expect(created.status).to.equal(201);
    const appId = created.body.appId as string;
    for (let i = 0; i < 2; i++) await call(srv.baseUrl, `/api/applications/${appId}/users/${outsiderId}`, { method: 'PUT', headers: admin });
    expect((await call(srv.baseUrl, `/api/applications/${appId}/users/${outsiderId}`, { method: 'DELETE', headers: admin })).status).to.equal(204);
    expect((await call(srv.baseUrl, `/api/applications/${appId}`, { method: 'DELETE', headers: admin })).status).to.equal(204);
    const rows: Array<{ action: string; actor_id: string; target_type: string; target_id: string; data: string }> = await srv.storage
      .knex(`${srv.storage.tablePrefix}audit_log`)
      .where({ org_id: orgId })
      .where('action', 'like', 'application.%')
      .orderBy('seq');
    const mine = rows.filter((r) => r.target_id === appId || JSON.parse(r.data).applicationId === appId);
    expect(mine.map((r) => [r.action, r.actor_id, r.target_type, r.target_id, JSON.parse(r.data)])).to.deep.equal([
      ['application.created', adminId, 'application', appId, { name: 'Audited', url: 'audited.example.com' }],
      ['application.access_granted', adminId, 'user', outsiderId, { applicationId: appId }],
      ['application.access_revoked', adminId, 'user', outsiderId, { applicationId: appId }],
      ['application.deleted', adminId, 'application', appId, { name: 'Audited' }],
    ]);
  });

  it('validates application bodies', async () => {
    const admin = { Authorization: `Bearer ${adminToken}` };
    for (const body of [{}, { name: 'x' }, { name: 'x', url: 5 }, { name: 'x', url: 'ok.example.com', redirectUrl: 'not a url' }]) {
      const res = await call(srv.baseUrl, '/api/applications', { json: body, headers: admin });
      expect(res.status, JSON.stringify(body)).to.equal(400);
    }
  });
});
