import { expect } from 'chai';
import { claimsOf } from '../helpers/harness.js';
import { AUDIENCE, startLocalIssuer, type LocalIssuer } from '../helpers/local-issuer.js';
import { call, startPresetServer, type PresetServer } from '../helpers/server.js';

/**
 * Replays seed 003 (datarhei Core API login) against a listening server: the curl
 * examples, the body and response field lists, the token claims and the failures.
 */
describe('preset datarhei (seed 003)', () => {
  let srv: PresetServer;
  const username = 'admin';
  const password = 'YOUR_PASSWORD-1';

  before(async () => {
    srv = await startPresetServer({ preset: 'datarhei' });
    await srv.auth.services.accounts.signup(
      { email: 'admin@example.com', password, username },
      { action: 'create', org: { name: 'Core', slug: 'core' } },
    );
  });
  after(async () => {
    await srv.close();
  });

  const login = () => call(srv.baseUrl, '/api/login', { json: { username, password }, headers: { accept: 'application/json' } });

  it('GET /api tells clients how to log in', async () => {
    const res = await call(srv.baseUrl, '/api');
    expect(res.status).to.equal(200);
    expect(res.body).to.have.all.keys('app', 'auths', 'version');
    expect(res.body.auths).to.deep.equal(['localjwt']);
    expect(res.body.version).to.have.property('number').that.is.a('string');
  });

  it('POST /api/login with username and password → {access_token, refresh_token}', async () => {
    const res = await login();
    expect(res.status).to.equal(200);
    expect(res.body).to.have.all.keys('access_token', 'refresh_token');
  });

  it('issues exactly the claims of the seed: iss, sub (username), iat, exp, jti, exi, usefor', async () => {
    const { body } = await login();
    const access = claimsOf(body.access_token as string);
    const refresh = claimsOf(body.refresh_token as string);
    expect(Object.keys(access).sort()).to.deep.equal(['exi', 'exp', 'iat', 'iss', 'jti', 'sub', 'usefor']);
    expect(Object.keys(refresh).sort()).to.deep.equal(['exi', 'exp', 'iat', 'iss', 'jti', 'sub', 'usefor']);
    expect(access).to.include({ iss: 'datarhei-core', sub: username, usefor: 'access', exi: 600 });
    expect(refresh).to.include({ iss: 'datarhei-core', sub: username, usefor: 'refresh', exi: 86400 });
    expect(access.exp).to.equal((access.iat as number) + 600);
    const header = JSON.parse(Buffer.from((body.access_token as string).split('.')[0]!, 'base64url').toString());
    expect(header.alg).to.equal('HS256');
  });

  it('uses the access token on /api/v3/ routes', async () => {
    const { body } = await login();
    const res = await call(srv.baseUrl, '/api/v3/widgets', { headers: { Authorization: `Bearer ${body.access_token}` } });
    expect(res.status).to.equal(200);
    const user = await srv.storage.users.findByUsername(username);
    expect(res.body.userId).to.equal(user?.id);
  });

  it('GET /api/login/refresh with the refresh token as Bearer → {access_token}, without rotating it', async () => {
    const { body } = await login();
    const first = await call(srv.baseUrl, '/api/login/refresh', { headers: { Authorization: `Bearer ${body.refresh_token}` } });
    expect(first.status).to.equal(200);
    expect(first.body).to.have.all.keys('access_token');
    expect(claimsOf(first.body.access_token as string)).to.include({ usefor: 'access', sub: username });
    const again = await call(srv.baseUrl, '/api/login/refresh', { headers: { Authorization: `Bearer ${body.refresh_token}` } });
    expect(again.status).to.equal(200);
    const guarded = await call(srv.baseUrl, '/api/v3/widgets', { headers: { Authorization: `Bearer ${again.body.access_token}` } });
    expect(guarded.status).to.equal(200);
  });

  it('answers 401 for a refresh token on a guarded route and an access token on the refresh route', async () => {
    const { body } = await login();
    const refreshAsAccess = await call(srv.baseUrl, '/api/v3/widgets', { headers: { Authorization: `Bearer ${body.refresh_token}` } });
    expect(refreshAsAccess.status).to.equal(401);
    const accessAsRefresh = await call(srv.baseUrl, '/api/login/refresh', { headers: { Authorization: `Bearer ${body.access_token}` } });
    expect(accessAsRefresh.status).to.equal(401);
  });

  it('answers every bad, expired or missing token with 401 and a {code, message, details} body', async () => {
    const cases: Array<{ path: string; headers: Record<string, string> }> = [
      { path: '/api/v3/widgets', headers: {} },
      { path: '/api/v3/widgets', headers: { Authorization: 'Bearer nonsense' } },
      { path: '/api/login/refresh', headers: {} },
      { path: '/api/login/refresh', headers: { Authorization: 'Bearer a.b.c' } },
    ];
    for (const c of cases) {
      const res = await call(srv.baseUrl, c.path, { headers: c.headers });
      expect(res.status, c.path).to.equal(401);
      expect(res.body).to.have.all.keys('code', 'message', 'details');
      expect(res.body.code).to.equal(401);
      expect(res.body.details).to.be.an('array');
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
    }
  });

  it('refuses an expired access token with 401', async () => {
    const { createAuthRouter } = await import('gatehouse-auth');
    const past = createAuthRouter({ storage: srv.storage, preset: 'datarhei', passwords: { cost: 4 }, tokens: { secret: (await import('../helpers/harness.js')).SECRET }, clock: { now: () => Date.now() - 3_600_000 } });
    const old = await past.services.accounts.signinWithUsername(username, password);
    await past.close();
    if (old.kind !== 'tokens') throw new Error('expected tokens');
    const res = await call(srv.baseUrl, '/api/v3/widgets', { headers: { Authorization: `Bearer ${old.tokens.accessToken}` } });
    expect(res.status).to.equal(401);
    expect(res.body.details).to.include('token_expired');
  });

  it('answers wrong credentials with 401 and missing fields with 400, in the same body shape', async () => {
    const wrong = await call(srv.baseUrl, '/api/login', { json: { username, password: 'nope' } });
    expect(wrong.status).to.equal(401);
    expect(wrong.body).to.include({ code: 401 });
    const unknown = await call(srv.baseUrl, '/api/login', { json: { username: 'ghost', password: 'nope' } });
    expect(unknown.body).to.deep.equal(wrong.body);
    const missing = await call(srv.baseUrl, '/api/login', { json: { username } });
    expect(missing.status).to.equal(400);
    expect(missing.body.details).to.include('password: is required');
    const malformed = await call(srv.baseUrl, '/api/login', { body: '{"username":', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).to.equal(400);
    expect(malformed.body).to.include({ code: 400 });
  });

  it('leaves the host app’s own routes and bodies alone when mounted at the root', async () => {
    srv.app.post('/host/echo', (await import('express')).default.json({ limit: '1mb' }), (req, res) => void res.json({ size: JSON.stringify(req.body).length }));
    const big = { blob: 'x'.repeat(100_000) };
    const res = await call(srv.baseUrl, '/host/echo', { json: big });
    expect(res.status).to.equal(200);
    const unknown = await call(srv.baseUrl, '/host/nothing-here');
    expect(unknown.status).to.equal(404);
    expect(unknown.headers.get('content-type')).not.to.match(/json/);
  });

  describe('Auth0 login (Bearer token, no body)', () => {
    let idp: LocalIssuer;
    let auth0: PresetServer;
    before(async () => {
      idp = await startLocalIssuer();
      auth0 = await startPresetServer({
        preset: 'datarhei',
        externalIssuers: [
          {
            issuer: idp.issuer,
            audience: AUDIENCE,
            allowInsecureRequests: true,
            allowedSubjects: ['auth0|allowed'],
            mapUser: (claims) => ({ email: `${String(claims.sub).replace('|', '-')}@example.com`, username: 'auth0-admin' }),
          },
        ],
      });
    });
    after(async () => {
      await auth0.close();
      await idp.close();
    });

    it('lists auth0 among the ways to log in', async () => {
      expect((await call(auth0.baseUrl, '/api')).body.auths).to.deep.equal(['localjwt', 'auth0']);
    });

    it('exchanges a valid Auth0 access token for {access_token, refresh_token}', async () => {
      const token = await idp.sign({ sub: 'auth0|allowed' });
      const res = await call(auth0.baseUrl, '/api/login', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).to.equal(200);
      expect(res.body).to.have.all.keys('access_token', 'refresh_token');
      expect(claimsOf(res.body.access_token as string)).to.include({ iss: 'datarhei-core', sub: 'auth0-admin', usefor: 'access' });
      const guarded = await call(auth0.baseUrl, '/api/v3/widgets', { headers: { Authorization: `Bearer ${res.body.access_token}` } });
      expect(guarded.status).to.equal(200);
    });

    it('refuses a user not in the allowed list, a wrong audience and an expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const refused = [
        await idp.sign({ sub: 'auth0|someone-else' }),
        await idp.sign({ sub: 'auth0|allowed', aud: 'https://other.api' }),
        await idp.sign({ sub: 'auth0|allowed', iat: now - 7200, exp: now - 3600 }),
      ];
      for (const token of refused) {
        const res = await call(auth0.baseUrl, '/api/login', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
        expect(res.status).to.be.oneOf([401, 403]);
        expect(res.body).to.have.all.keys('code', 'message', 'details');
      }
    });
  });
});

