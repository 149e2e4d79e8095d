import { expect } from 'chai';
import { generate } from 'otplib';
import { claimsOf } from '../helpers/harness.js';
import { call, startPresetServer, type PresetServer } from '../helpers/server.js';

/**
 * Replays seed 001 (a Cognito-backed token API) against a listening server: every
 * request of the document, its field lists, the password policy, the 1 h tokens,
 * refresh and logout, and the x-api-key header.
 */
describe('preset cognito (seed 001)', () => {
  let srv: PresetServer;
  before(async () => {
    srv = await startPresetServer({ preset: 'cognito', guardedPath: '/items' });
  });
  after(async () => {
    await srv.close();
  });

  let n = 0;
  const newUser = () => {
    n += 1;
    return { email: `user${n}@example.com`, password: 'SecurePass1!', firstName: 'John', lastName: 'Doe' };
  };

  async function signupAndLogin() {
    const user = newUser();
    const signup = await call(srv.baseUrl, '/auth/signup', { json: user });
    const login = await call(srv.baseUrl, '/auth/login', { json: { email: user.email, password: user.password } });
    return { user, signup: signup.body, login: login.body };
  }

  it('POST /auth/signup → {message, userId, apiKey}; the account is active at once', async () => {
    const user = newUser();
    const res = await call(srv.baseUrl, '/auth/signup', { json: user });
    expect(res.status).to.equal(200);
    expect(res.body).to.have.all.keys('message', 'userId', 'apiKey');
    expect(res.body.userId).to.match(/^[0-9a-f-]{36}$/);
    expect(res.body.apiKey).to.be.a('string');
    const login = await call(srv.baseUrl, '/auth/login', { json: { email: user.email, password: user.password } });
    expect(login.status).to.equal(200);
  });

  it('enforces the password policy with a 400 naming each broken rule', async () => {
    const cases: Array<[string, string]> = [
      ['securepass1!', 'uppercase'],
      ['SECUREPASS1!', 'lowercase'],
      ['SecurePass!!', 'number'],
      ['SecurePass12', 'special character'],
    ];
    for (const [password, rule] of cases) {
      const res = await call(srv.baseUrl, '/auth/signup', { json: { ...newUser(), password } });
      expect(res.status, password).to.equal(400);
      expect(res.body.code).to.equal('weak_password');
      expect(res.body.detail, password).to.contain(rule);
      expect((res.body.errors as Array<{ path: string }>)[0]?.path).to.equal('password');
    }
  });

  it('requires email, password, firstName and lastName', async () => {
    for (const field of ['email', 'password', 'firstName', 'lastName']) {
      const body: Record<string, unknown> = newUser();
      delete body[field];
      const res = await call(srv.baseUrl, '/auth/signup', { json: body });
      expect(res.status, field).to.equal(400);
      expect((res.body.errors as Array<{ path: string }>).map((e) => e.path)).to.include(field);
    }
  });

  it('POST /auth/login → {idToken, accessToken, refreshToken, apiKey, firstName, lastName, email}; idToken lives 1 h', async () => {
    const { user, signup, login } = await signupAndLogin();
    expect(login).to.have.all.keys('idToken', 'accessToken', 'refreshToken', 'apiKey', 'firstName', 'lastName', 'email');
    expect(login).to.include({ firstName: 'John', lastName: 'Doe', email: user.email, apiKey: signup.apiKey });
    const id = claimsOf(login.idToken as string);
    expect(id).to.include({ usefor: 'access', exi: 3600, sub: signup.userId });
    expect(id.exp).to.equal((id.iat as number) + 3600);
    expect(claimsOf(login.accessToken as string)).to.include({ token_use: 'access', sid: id.sid });
  });

  it('uses the idToken as Bearer and the apiKey as x-api-key on guarded routes', async () => {
    const { signup, login } = await signupAndLogin();
    const byToken = await call(srv.baseUrl, '/items', { headers: { Authorization: `Bearer ${login.idToken}` } });
    expect(byToken.status).to.equal(200);
    expect(byToken.body).to.include({ userId: signup.userId, via: 'jwt' });
    const byKey = await call(srv.baseUrl, '/items', { headers: { 'x-api-key': signup.apiKey as string } });
    expect(byKey.status).to.equal(200);
    expect(byKey.body).to.include({ userId: signup.userId, via: 'api_key' });
    expect((await call(srv.baseUrl, '/items', { headers: { 'x-api-key': `${signup.apiKey}x` } })).status).to.equal(401);
  });

  it('keeps the API key at rest only as a hash', async () => {
    const { signup } = await signupAndLogin();
    const rows = await srv.storage.knex('auth_api_keys');
    // ghk_<16 hex>_<43 base64url>: the secret part may itself hold '_', so it is cut by position.
    const secret = (signup.apiKey as string).slice('ghk_'.length + 17);
    expect(secret).to.have.length(43);
    expect(JSON.stringify(rows)).not.to.contain(secret);
  });

  it('POST /auth/refresh {refreshToken} → {idToken, accessToken}; the refresh token keeps working', async () => {
    const { login } = await signupAndLogin();
    const first = await call(srv.baseUrl, '/auth/refresh', { json: { refreshToken: login.refreshToken } });
    expect(first.status).to.equal(200);
    expect(first.body).to.have.all.keys('idToken', 'accessToken');
    const second = await call(srv.baseUrl, '/auth/refresh', { json: { refreshToken: login.refreshToken } });
    expect(second.status).to.equal(200);
    expect((await call(srv.baseUrl, '/items', { headers: { Authorization: `Bearer ${second.body.idToken}` } })).status).to.equal(200);
  });

  it('POST /auth/logout (Bearer idToken) {accessToken} → {message}; both tokens stop working', async () => {
    const { login } = await signupAndLogin();
    const res = await call(srv.baseUrl, '/auth/logout', { json: { accessToken: login.accessToken }, headers: { Authorization: `Bearer ${login.idToken}` } });
    expect(res.status).to.equal(200);
    expect(res.body).to.have.all.keys('message');
    for (const token of [login.idToken, login.accessToken]) {
      const guarded = await call(srv.baseUrl, '/items', { headers: { Authorization: `Bearer ${token}` } });
      expect(guarded.status).to.equal(401);
      expect(guarded.body.code).to.equal('token_revoked');
    }
    expect((await call(srv.baseUrl, '/auth/refresh', { json: { refreshToken: login.refreshToken } })).status).to.equal(401);
  });

  it('answers bad credentials, a missing Bearer on logout and bad bodies with 4xx', async () => {
    const { user } = await signupAndLogin();
    expect((await call(srv.baseUrl, '/auth/login', { json: { email: user.email, password: 'Wrong1!wrong' } })).status).to.equal(401);
    expect((await call(srv.baseUrl, '/auth/logout', { json: { accessToken: 'x' } })).status).to.equal(401);
    expect((await call(srv.baseUrl, '/auth/refresh', { json: { refreshToken: 'not-a-token' } })).status).to.equal(401);
    expect((await call(srv.baseUrl, '/auth/refresh', { json: {} })).status).to.equal(400);
    expect((await call(srv.baseUrl, '/auth/signup', { json: { ...newUser(), email: user.email } })).status).to.equal(409);
  });

  it('serves the shared routes under /auth (me, API keys, MFA)', async () => {
    const { signup, login } = await signupAndLogin();
    const me = await call(srv.baseUrl, '/auth/me', { headers: { Authorization: `Bearer ${login.idToken}` } });
    expect(me.status).to.equal(200);
    expect(me.body).to.include({ id: signup.userId });
    expect((await call(srv.baseUrl, '/auth/mfa', { headers: { Authorization: `Bearer ${login.idToken}` } })).status).to.equal(200);
  });

  it('answers 403 mfa_required when TOTP is on, and /auth/mfa/verify with the login answer', async () => {
    const { user, signup, login } = await signupAndLogin();
    const bearer = { Authorization: `Bearer ${login.idToken}` };
    const setup = await call(srv.baseUrl, '/auth/mfa/totp/setup', { method: 'POST', headers: bearer });
    const secret = setup.body.secret as string;
    const now = Math.floor(Date.now() / 1000);
    expect((await call(srv.baseUrl, '/auth/mfa/totp/enable', { json: { code: await generate({ secret, epoch: now }) }, headers: bearer })).status).to.equal(200);
    const challenged = await call(srv.baseUrl, '/auth/login', { json: { email: user.email, password: user.password } });
    expect(challenged.status).to.equal(403);
    expect(challenged.body.code).to.equal('mfa_required');
    const verified = await call(srv.baseUrl, '/auth/mfa/verify', { json: { mfa_token: challenged.body.mfa_token, code: await generate({ secret, epoch: now + 30 }) } });
    expect(verified.status).to.equal(200);
    expect(verified.body).to.have.all.keys('idToken', 'accessToken', 'refreshToken', 'apiKey', 'firstName', 'lastName', 'email');
    // Recorded like a sign-in finished at the default preset's /mfa/verify, naming the session it stored.
    const userId = (await srv.storage.users.findByEmail(user.email))!.id;
    const entries = await srv.storage.knex('auth_audit_log').where({ actor_id: userId, action: 'signin.succeeded' }).orderBy('seq');
    expect(entries.map((r: { data: string; target_id: string }) => [JSON.parse(r.data), r.target_id])).to.deep.equal([
      [{ method: 'password' }, claimsOf(login.accessToken as string).sid],
      [{ method: 'totp' }, claimsOf(verified.body.accessToken as string).sid],
    ]);
    // Turning MFA on revoked the key from before: the login answer carries a new one.
    expect(verified.body.apiKey).to.be.a('string').and.not.equal(signup.apiKey);
    expect((await call(srv.baseUrl, '/items', { headers: { 'x-api-key': verified.body.apiKey as string } })).status).to.equal(200);
  });
});
