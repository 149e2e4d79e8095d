import { expect } from 'chai';
import { generate } from 'otplib';
import { call, startPresetServer, type PresetServer } from '../helpers/server.js';

const DAY = 24 * 60 * 60 * 1000;

/** Issue 11 item 8: the cognito login's apiKey expires and ends with the session. */
describe('security: the cognito account key (issue 11 item 8)', () => {
  let srv: PresetServer;
  let now: number;
  let n = 0;

  beforeEach(async () => {
    now = Date.now();
    srv = await startPresetServer({ preset: 'cognito', guardedPath: '/items', clock: { now: () => now } });
  });
  afterEach(async () => {
    await srv.close();
  });

  async function account() {
    n += 1;
    const user = { email: `key${n}@example.com`, password: 'SecurePass1!', firstName: 'Key', lastName: 'Holder' };
    expect((await call(srv.baseUrl, '/auth/signup', { json: user })).status).to.equal(200);
    return user;
  }
  async function login(user: { email: string; password: string }) {
    const res = await call(srv.baseUrl, '/auth/login', { json: { email: user.email, password: user.password } });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body as { idToken: string; accessToken: string; apiKey: string };
  }
  const useKey = async (key: string) => (await call(srv.baseUrl, '/items', { headers: { 'x-api-key': key } })).status;

  it('item 8: the apiKey expires with the refresh TTL (30 d), and an expired one is replaced at the next login', async () => {
    const user = await account();
    const first = await login(user);
    const keys = await call(srv.baseUrl, '/auth/api-keys', { headers: { Authorization: `Bearer ${first.idToken}` } });
    expect(keys.status).to.equal(200);
    const [record] = keys.body.apiKeys as Array<{ name: string; role: string; expiresAt: string | null }>;
    expect(record?.expiresAt).to.be.a('string');
    expect(Date.parse(record!.expiresAt!)).to.be.closeTo(now + 30 * DAY, 1000);
    expect(await useKey(first.apiKey)).to.equal(200);

    now += 30 * DAY + 1000;
    expect(await useKey(first.apiKey)).to.equal(401);
    const later = await login(user);
    expect(later.apiKey).not.to.equal(first.apiKey);
    expect(await useKey(later.apiKey)).to.equal(200);
  });

  it('item 8: logout revokes the apiKey; the next login returns a different, working key', async () => {
    const user = await account();
    const session = await login(user);
    expect(await useKey(session.apiKey)).to.equal(200);
    const out = await call(srv.baseUrl, '/auth/logout', { json: { accessToken: session.accessToken }, headers: { Authorization: `Bearer ${session.idToken}` } });
    expect(out.status).to.equal(200);
    // A retried logout (the answer got lost) answers the same.
    const retried = await call(srv.baseUrl, '/auth/logout', { json: { accessToken: session.accessToken }, headers: { Authorization: `Bearer ${session.idToken}` } });
    expect(retried.status, JSON.stringify(retried.body)).to.equal(200);

    const refused = await call(srv.baseUrl, '/items', { headers: { 'x-api-key': session.apiKey } });
    expect(refused.status).to.equal(401);
    expect(refused.body.code).to.equal('invalid_api_key');
    const next = await login(user);
    expect(next.apiKey).not.to.equal(session.apiKey);
    expect(await useKey(next.apiKey)).to.equal(200);
    expect(await useKey(session.apiKey)).to.equal(401);
  });

  it('item 8: turning MFA on revokes the apiKey', async () => {
    const user = await account();
    const session = await login(user);
    expect(await useKey(session.apiKey)).to.equal(200);
    const bearer = { Authorization: `Bearer ${session.idToken}` };
    const setup = await call(srv.baseUrl, '/auth/mfa/totp/setup', { method: 'POST', headers: bearer });
    expect(setup.status, JSON.stringify(setup.body)).to.equal(200);
    const code = await generate({ secret: setup.body.secret as string, epoch: Math.floor(now / 1000) });
    const enabled = await call(srv.baseUrl, '/auth/mfa/totp/enable', { json: { code }, headers: bearer });
    expect(enabled.status, JSON.stringify(enabled.body)).to.equal(200);
    expect(await useKey(session.apiKey)).to.equal(401);
  });
});
