import { expect } from 'chai';
import express from 'express';
import { generate } from 'otplib';
import request from 'supertest';
import { createAuthRouter, type AuthRouterOptions } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { claimsOf, expectProblem, PASSWORD, SECRET, signupWithOrg, startHarness, unique, type Harness } from '../helpers/harness.js';

const REFRESH_MAX_AGE = 14 * 24 * 3600;
const COOKIE = 'gatehouse_refresh';

/** The Set-Cookie headers of a response (none: []). */
function setCookies(res: request.Response): string[] {
  const header = res.headers['set-cookie'] as string[] | string | undefined;
  return header === undefined ? [] : Array.isArray(header) ? header : [header];
}

/** The one refresh cookie a response set: its value and the whole header. */
function refreshCookie(res: request.Response): { value: string; header: string } {
  const mine = setCookies(res).filter((c) => c.startsWith(`${COOKIE}=`));
  expect(mine, `one ${COOKIE} cookie in ${JSON.stringify(res.headers)}`).to.have.length(1);
  const header = mine[0] as string;
  return { value: header.slice(COOKIE.length + 1, header.indexOf(';')), header };
}

const cookieHeader = (value: string) => `${COOKIE}=${value}`;

describe('refresh cookies', () => {
  let h: Harness;
  // Moved forward to step past the reuse grace window of refresh rotation.
  let offset = 0;

  before(async () => {
    h = await startHarness({ cookies: true, clock: { now: () => Date.now() + offset } });
  });
  after(async () => {
    await h.close();
  });

  async function signInWithCookie(email: string, headers: Record<string, string> = {}) {
    let req = request(h.app).post('/auth/signin').set('X-Auth-Transport', 'cookie');
    for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
    const res = await req.send({ email, password: PASSWORD });
    expect(res.status, res.text).to.equal(200);
    return res;
  }

  it('a sign-in with X-Auth-Transport: cookie gets the refresh token as an HttpOnly cookie and no refresh_token in the body', async () => {
    const user = await signupWithOrg(h.app);
    const res = await signInWithCookie(user.email);
    const { value, header } = refreshCookie(res);
    // supertest talks to 127.0.0.1 over plain http: loopback development, so no Secure.
    expect(header).to.equal(`${COOKIE}=${value}; Max-Age=${REFRESH_MAX_AGE}; Path=/auth; HttpOnly; SameSite=Strict`);
    expect(claimsOf(value)).to.include({ usefor: 'refresh', sub: user.userId });
    expect(res.body).to.have.all.keys('access_token', 'expires_in');
    expect(res.body.expires_in).to.equal(900);
    expect(claimsOf(res.body.access_token as string)).to.include({ usefor: 'access', sid: claimsOf(value).sid });
  });

  it('body-token clients are unchanged on the same routes: no cookie, refresh_token in the body, refresh by body', async () => {
    const user = await signupWithOrg(h.app);
    const res = await request(h.app).post('/auth/signin').send({ email: user.email, password: PASSWORD });
    expect(res.status).to.equal(200);
    expect(setCookies(res)).to.deep.equal([]);
    expect(res.body).to.have.all.keys('access_token', 'refresh_token');
    const refreshed = await request(h.app).post('/auth/refresh').send({ refresh_token: res.body.refresh_token });
    expect(refreshed.status).to.equal(200);
    expect(refreshed.body).to.have.all.keys('access_token', 'refresh_token');
    expect(setCookies(refreshed)).to.deep.equal([]);
    // X-Auth-Transport: body is the same as no header.
    const explicit = await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'body').send({ refresh_token: refreshed.body.refresh_token });
    expect(explicit.status).to.equal(200);
    expect(explicit.body).to.have.all.keys('access_token', 'refresh_token');
  });

  it('refresh by cookie rotates the cookie, and the old cookie is then refused as reused', async () => {
    const user = await signupWithOrg(h.app);
    const first = refreshCookie(await signInWithCookie(user.email)).value;
    const res = await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Cookie', cookieHeader(first));
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.have.all.keys('access_token', 'expires_in');
    const second = refreshCookie(res);
    expect(second.value).to.not.equal(first);
    expect(second.header).to.equal(`${COOKIE}=${second.value}; Max-Age=${REFRESH_MAX_AGE}; Path=/auth; HttpOnly; SameSite=Strict`);
    expect(claimsOf(second.value).sid).to.equal(claimsOf(first).sid);

    offset += 60_000; // past any retry grace window
    const replay = await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Cookie', cookieHeader(first));
    expectProblem(replay, 401, 'refresh_token_reused');
    expect(setCookies(replay)).to.deep.equal([]);
    // Reuse ended the session: the successor is dead too.
    expectProblem(await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Cookie', cookieHeader(second.value)), 401, 'token_revoked');
  });

  it('without the header the cookie is not read: 400 invalid_request that names the header', async () => {
    const user = await signupWithOrg(h.app);
    const cookie = refreshCookie(await signInWithCookie(user.email)).value;
    const res = await request(h.app).post('/auth/refresh').set('Cookie', cookieHeader(cookie));
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors).to.deep.equal([{ path: 'refresh_token', message: 'is required (the refresh cookie is read only with X-Auth-Transport: cookie)' }]);
    // Nothing was consumed: with the header the same cookie still works.
    expect((await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Cookie', cookieHeader(cookie))).status).to.equal(200);
  });

  it('with the header but no cookie: 401 missing_token; an unknown transport: 400', async () => {
    expectProblem(await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie'), 401, 'missing_token');
    const bad = await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookies').send({ refresh_token: 'x' });
    expectProblem(bad, 400, 'invalid_request');
    expect(bad.body.errors).to.deep.equal([{ path: 'X-Auth-Transport', message: 'must be "cookie" or "body"' }]);
  });

  it('a foreign Origin gets 403 csrf_rejected on refresh, logout and sign-in, and the cookie stays valid', async () => {
    const user = await signupWithOrg(h.app);
    const cookie = refreshCookie(await signInWithCookie(user.email)).value;
    const refresh = await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Origin', 'https://evil.example').set('Cookie', cookieHeader(cookie));
    expectProblem(refresh, 403, 'csrf_rejected');
    expect(setCookies(refresh)).to.deep.equal([]);
    const logout = await request(h.app)
      .post('/auth/logout')
      .set('Authorization', `Bearer ${user.access}`)
      .set('X-Auth-Transport', 'cookie')
      .set('Origin', 'https://evil.example')
      .set('Cookie', cookieHeader(cookie));
    expectProblem(logout, 403, 'csrf_rejected');
    expectProblem(await request(h.app).post('/auth/signin').set('X-Auth-Transport', 'cookie').set('Origin', 'null').send({ email: user.email, password: PASSWORD }), 403, 'csrf_rejected');
    // The same host on another scheme or port is another origin.
    const host = 'auth.example.com';
    const otherScheme = await request(h.app).post('/auth/refresh').set('Host', host).set('X-Auth-Transport', 'cookie').set('Origin', `https://${host}`).set('Cookie', cookieHeader(cookie));
    expectProblem(otherScheme, 403, 'csrf_rejected');
    // None of it consumed the token or ended the session.
    expect((await request(h.app).get('/api/hello').set('Authorization', `Bearer ${user.access}`)).status).to.equal(200);
    expect((await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Cookie', cookieHeader(cookie))).status).to.equal(200);
  });

  it('the router’s own origin passes, and the cookie is Secure once the host is not loopback', async () => {
    const user = await signupWithOrg(h.app);
    const host = 'auth.example.com:8443';
    const signedIn = await signInWithCookie(user.email, { Host: host, Origin: `http://${host}` });
    const cookie = refreshCookie(signedIn);
    expect(cookie.header).to.equal(`${COOKIE}=${cookie.value}; Max-Age=${REFRESH_MAX_AGE}; Path=/auth; HttpOnly; Secure; SameSite=Strict`);
    const res = await request(h.app).post('/auth/refresh').set('Host', host).set('X-Auth-Transport', 'cookie').set('Origin', `http://${host}`).set('Cookie', cookieHeader(cookie.value));
    expect(res.status, res.text).to.equal(200);
    expect(refreshCookie(res).header).to.contain('; Secure;');
  });

  it('Secure follows the request: https through a trusted proxy, and plain http only to loopback names goes without', async () => {
    const user = await signupWithOrg(h.app);
    h.app.set('trust proxy', true);
    try {
      const proxied = refreshCookie(await signInWithCookie(user.email, { 'X-Forwarded-Proto': 'https' }));
      expect(proxied.header).to.equal(`${COOKIE}=${proxied.value}; Max-Age=${REFRESH_MAX_AGE}; Path=/auth; HttpOnly; Secure; SameSite=Strict`);
    } finally {
      h.app.set('trust proxy', false);
    }
    for (const host of ['localhost:3000', '127.0.0.1', '[::1]:8080']) {
      expect(refreshCookie(await signInWithCookie(user.email, { Host: host })).header, host).to.not.contain('Secure');
    }
    for (const host of ['192.168.1.20:3000', 'localhost.example.com']) {
      expect(refreshCookie(await signInWithCookie(user.email, { Host: host })).header, host).to.contain('; Secure;');
    }
  });

  it('logout with the cookie clears it and revokes the cookie’s session, not only the access token’s', async () => {
    const user = await signupWithOrg(h.app);
    const cookie = refreshCookie(await signInWithCookie(user.email)).value;
    // The access token of another session of the user: the cookie alone names the family to end.
    const res = await request(h.app).post('/auth/logout').set('Authorization', `Bearer ${user.access}`).set('X-Auth-Transport', 'cookie').set('Cookie', cookieHeader(cookie));
    expect(res.status, res.text).to.equal(204);
    expect(setCookies(res)).to.deep.equal([`${COOKIE}=; Max-Age=0; Path=/auth; HttpOnly; SameSite=Strict`]);
    expectProblem(await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Cookie', cookieHeader(cookie)), 401, 'token_revoked');
    expectProblem(await request(h.app).post('/auth/refresh').send({ refresh_token: user.refresh }), 401, 'token_revoked');
  });

  it('logout without the header leaves the cookie alone and ends only the access token’s session', async () => {
    const user = await signupWithOrg(h.app);
    const cookie = refreshCookie(await signInWithCookie(user.email)).value;
    const res = await request(h.app).post('/auth/logout').set('Authorization', `Bearer ${user.access}`).set('Cookie', cookieHeader(cookie));
    expect(res.status).to.equal(204);
    expect(setCookies(res)).to.deep.equal([]);
    expect((await request(h.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Cookie', cookieHeader(cookie))).status).to.equal(200);
  });

  it('setup-org, switch-org and mfa/verify answer with the cookie too', async () => {
    const user = await signupWithOrg(h.app);
    const bearer = { Authorization: `Bearer ${user.access}` };
    const setup = await request(h.app)
      .post('/auth/setup-org')
      .set(bearer)
      .set('X-Auth-Transport', 'cookie')
      .send({ action: 'create', orgCreateProps: { name: 'Second', slug: `second-${unique()}` } });
    expect(setup.status, setup.text).to.equal(200);
    expect(setup.body).to.have.all.keys('access_token', 'expires_in');
    expect(claimsOf(refreshCookie(setup).value).sub).to.equal(user.userId);
    const switched = await request(h.app).post('/auth/switch-org').set(bearer).set('X-Auth-Transport', 'cookie').send({ orgId: user.orgId });
    expect(switched.status, switched.text).to.equal(200);
    expect(switched.body).to.have.all.keys('access_token', 'expires_in');
    expect(claimsOf(switched.body.access_token as string).org).to.equal(user.orgId);
    refreshCookie(switched);

    const enrolment = await request(h.app).post('/auth/mfa/totp/setup').set(bearer);
    const now = Date.now() + offset;
    const enabled = await request(h.app)
      .post('/auth/mfa/totp/enable')
      .set(bearer)
      .send({ code: await generate({ secret: enrolment.body.secret as string, epoch: Math.floor(now / 1000) }) });
    expect(enabled.status, enabled.text).to.equal(200);
    const challenge = await request(h.app).post('/auth/signin').set('X-Auth-Transport', 'cookie').send({ email: user.email, password: PASSWORD });
    expectProblem(challenge, 403, 'mfa_required');
    expect(setCookies(challenge)).to.deep.equal([]);
    const verified = await request(h.app)
      .post('/auth/mfa/verify')
      .set('X-Auth-Transport', 'cookie')
      .send({ mfa_token: challenge.body.mfa_token, code: await generate({ secret: enrolment.body.secret as string, epoch: Math.floor(now / 1000) + 30 }) });
    expect(verified.status, verified.text).to.equal(200);
    expect(verified.body).to.have.all.keys('access_token', 'expires_in');
    expect(claimsOf(refreshCookie(verified).value).usefor).to.equal('refresh');
  });

  it('the cookie Path is the router’s mount path', async () => {
    const app = express().use('/api/v1/auth', h.auth);
    const user = await signupWithOrg(h.app);
    const res = await request(app).post('/api/v1/auth/signin').set('X-Auth-Transport', 'cookie').send({ email: user.email, password: PASSWORD });
    expect(res.status).to.equal(200);
    expect(refreshCookie(res).header).to.contain('; Path=/api/v1/auth;');
    const root = await request(express().use(h.auth)).post('/signin').set('X-Auth-Transport', 'cookie').send({ email: user.email, password: PASSWORD });
    expect(refreshCookie(root).header).to.contain('; Path=/;');
  });

  describe('with allowedOrigins and sameSite lax', () => {
    let h2: Harness;
    before(async () => {
      h2 = await startHarness({ cookies: { allowedOrigins: ['https://app.example.com'], sameSite: 'lax', name: 'my_refresh' } });
    });
    after(async () => {
      await h2.close();
    });

    it('an allowed origin passes, and the list replaces the same-origin default', async () => {
      const user = await signupWithOrg(h2.app);
      const res = await request(h2.app).post('/auth/signin').set('X-Auth-Transport', 'cookie').set('Origin', 'https://app.example.com').send({ email: user.email, password: PASSWORD });
      expect(res.status, res.text).to.equal(200);
      const header = setCookies(res)[0] as string;
      const value = header.slice('my_refresh='.length, header.indexOf(';'));
      expect(header).to.equal(`my_refresh=${value}; Max-Age=${REFRESH_MAX_AGE}; Path=/auth; HttpOnly; SameSite=Lax`);
      const refreshed = await request(h2.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Origin', 'https://app.example.com').set('Cookie', `my_refresh=${value}`);
      expect(refreshed.status, refreshed.text).to.equal(200);
      const host = 'auth.example.com';
      const sameOrigin = await request(h2.app).post('/auth/refresh').set('Host', host).set('X-Auth-Transport', 'cookie').set('Origin', `http://${host}`).set('Cookie', `my_refresh=${value}`);
      expectProblem(sameOrigin, 403, 'csrf_rejected');
    });
  });

  describe('with the option off', () => {
    let off: Harness;
    before(async () => {
      off = await startHarness();
    });
    after(async () => {
      await off.close();
    });

    it('the header is ignored: the pair stays in the body, no cookie is set or read', async () => {
      const user = await signupWithOrg(off.app);
      const res = await request(off.app).post('/auth/signin').set('X-Auth-Transport', 'cookie').send({ email: user.email, password: PASSWORD });
      expect(res.status).to.equal(200);
      expect(res.body).to.have.all.keys('access_token', 'refresh_token');
      expect(setCookies(res)).to.deep.equal([]);
      const byCookie = await request(off.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Cookie', cookieHeader(res.body.refresh_token as string));
      expectProblem(byCookie, 400, 'invalid_request');
      const byBody = await request(off.app).post('/auth/refresh').set('X-Auth-Transport', 'cookie').set('Origin', 'https://evil.example').send({ refresh_token: res.body.refresh_token });
      expect(byBody.status).to.equal(200);
      expect(byBody.body).to.have.all.keys('access_token', 'refresh_token');
    });
  });

  it('bad cookie options fail at startup, and presets with their own refresh routes refuse the option', () => {
    const storage = createKnexStorage({ filename: ':memory:' });
    const make = (extra: Partial<AuthRouterOptions>) => () => createAuthRouter({ storage, tokens: { secret: SECRET }, passwords: { cost: 4, threads: 0 }, ...extra } as AuthRouterOptions);
    try {
      expect(make({ cookies: { allowedOrigins: ['https://app.example.com/path'] } })).to.throw(TypeError, /allowedOrigins/);
      expect(make({ cookies: { allowedOrigins: ['app.example.com'] } })).to.throw(TypeError, /allowedOrigins/);
      expect(make({ cookies: { sameSite: 'none' as 'lax' } })).to.throw(TypeError, /sameSite/);
      expect(make({ cookies: { name: 'a b' } })).to.throw(TypeError, /cookies\.name/);
      for (const preset of ['cognito', 'axonize', 'datarhei'] as const) {
        expect(make({ cookies: true, preset }), preset).to.throw(TypeError, new RegExp(`"${preset}" preset`));
      }
    } finally {
      void storage.close();
    }
  });
});
