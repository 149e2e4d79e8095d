import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { generateKeyPair } from 'jose';
import { generate } from 'otplib';
import request from 'supertest';
import type { AuthRouterOptions } from 'gatehouse-auth';
import { claimsOf, PASSWORD, signupWithOrg, startHarness, expectProblem, unique, type Harness } from '../helpers/harness.js';
import { AUDIENCE, KID, startLocalIssuer, type LocalIssuer } from '../helpers/local-issuer.js';

type IssuerOptions = NonNullable<AuthRouterOptions['externalIssuers']>[number];

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('external issuers: POST /auth/signin with an Auth0-style Bearer token', () => {
  let idp: LocalIssuer;
  let h: Harness;
  let mapped: string[];

  const issuerOptions = (extra: Partial<IssuerOptions> = {}): IssuerOptions => ({
    issuer: idp.issuer,
    audience: AUDIENCE,
    allowInsecureRequests: true,
    mapUser: (claims) => {
      mapped.push(claims.sub);
      return { email: `${claims.sub.replace(/[^a-z0-9]/gi, '_')}@auth0.test`, firstName: 'Ext' };
    },
    ...extra,
  });

  const harness = (extra: Partial<IssuerOptions> = {}) => startHarness({ externalIssuers: [issuerOptions(extra)] });
  const exchange = (app: Harness['app'], token: string) => request(app).post('/auth/signin').set(bearer(token));

  before(async () => {
    idp = await startLocalIssuer();
  });
  after(async () => {
    await idp.close();
  });
  beforeEach(async () => {
    mapped = [];
    h = await harness();
  });
  afterEach(async () => {
    idp.down = false;
    await h.close();
  });

  it('exchanges a valid token for our pair, creating the user once through mapUser', async () => {
    const sub = `auth0|${unique()}`;
    const res = await exchange(h.app, await idp.sign({ sub }));
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.have.all.keys('access_token', 'refresh_token');
    const userId = claimsOf(res.body.access_token).sub as string;
    const user = await h.storage.users.findById(userId);
    expect(user).to.include({ email: `${sub.replace(/[^a-z0-9]/gi, '_')}@auth0.test`, firstName: 'Ext', passwordHash: null });
    expect((await h.storage.identities.listForUser(userId)).map((i) => [i.provider, i.subject])).to.deep.equal([[idp.issuer, sub]]);

    // A later token of the same subject (also with an empty JSON body) is the same user; mapUser is not asked again.
    const again = await request(h.app).post('/auth/signin').set(bearer(await idp.sign({ sub }))).send({});
    expect(again.status, again.text).to.equal(200);
    expect(claimsOf(again.body.access_token).sub).to.equal(userId);
    expect(mapped).to.deep.equal([sub]);

    // Our own tokens work like any other session's.
    expect((await request(h.app).get('/api/hello').set(bearer(again.body.access_token))).body).to.include({ userId });
    expect((await request(h.app).post('/auth/refresh').send({ refresh_token: again.body.refresh_token })).status).to.equal(200);
  });

  it('creates one user when the first exchanges of a subject race', async () => {
    const sub = `auth0|${unique()}`;
    const tokens = await Promise.all(Array.from({ length: 5 }, () => idp.sign({ sub })));
    const results = await Promise.all(tokens.map((token) => exchange(h.app, token)));
    expect(results.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
    expect(new Set(results.map((r) => claimsOf(r.body.access_token).sub)).size).to.equal(1);
    expect(await h.storage.knex('auth_users').where({ email: `${sub.replace(/[^a-z0-9]/gi, '_')}@auth0.test` })).to.have.length(1);
  });

  it('fetches the key set once and caches it', async () => {
    const fresh = await harness();
    try {
      const before = idp.requests.length;
      for (let i = 0; i < 3; i += 1) expect((await exchange(fresh.app, await idp.sign())).status).to.equal(200);
      expect(idp.requests.slice(before)).to.deep.equal(['/.well-known/jwks.json']);
    } finally {
      await fresh.close();
    }
  });

  it('refuses a wrong audience, an expired token, an unknown or missing kid, a bad signature and a garbage token, each with its reason', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { privateKey: otherKey } = await generateKeyPair('RS256');
    const cases: Array<[string, Promise<string> | string, string]> = [
      ['wrong audience', idp.sign({ aud: 'https://another-api.test' }), 'audience'],
      ['expired', idp.sign({ iat: now - 7200, exp: now - 3600 }), 'expired'],
      ['not yet valid', idp.sign({ nbf: now + 3600 }), 'not_yet_valid'],
      ['unknown kid', idp.sign({}, { kid: 'rotated-away' }), 'unknown_kid'],
      ['no kid', idp.sign({}, { kid: null }), 'unknown_kid'],
      ['bad signature', idp.sign({}, { key: otherKey }), 'signature'],
      ['garbage', 'not-a-jwt', 'malformed'],
    ];
    for (const [label, token, reason] of cases) {
      const res = await exchange(h.app, await token);
      expect(res.status, `${label}: ${res.text}`).to.equal(401);
      expect(res.body.code, label).to.equal('invalid_external_token');
      expect(res.body.reason, label).to.equal(reason);
    }
    expect(mapped).to.deep.equal([]);
  });

  it('refuses alg none and HS256 before fetching any key', async () => {
    const fresh = await harness();
    try {
      const before = idp.requests.length;
      const sub = `auth0|${unique()}`;
      const now = Math.floor(Date.now() / 1000);
      const none = `${b64({ alg: 'none', typ: 'JWT', kid: KID })}.${b64({ iss: idp.issuer, aud: AUDIENCE, sub, iat: now, exp: now + 600 })}.`;
      // A symmetric algorithm: the family of key-confusion attacks.
      const hs256 = await idp.sign({ sub }, { alg: 'HS256', key: new TextEncoder().encode('x'.repeat(64)) });
      for (const token of [none, hs256]) expectProblem(await exchange(fresh.app, token), 401, 'invalid_external_token', 'algorithm');
      expect(idp.requests.length).to.equal(before);
    } finally {
      await fresh.close();
    }
  });

  it('refuses a token of an unconfigured issuer without any request, even when its key set would be served', async () => {
    const fresh = await harness();
    try {
      const before = idp.requests.length;
      // Its JWKS would be <origin>/evil/.well-known/jwks.json, on the same server, serving our own key.
      const foreign = await idp.sign({ iss: `${idp.origin}/evil/` });
      expectProblem(await exchange(fresh.app, foreign), 401, 'invalid_external_token', 'unknown_issuer');
      const lookalike = await idp.sign({ iss: idp.origin });
      expectProblem(await exchange(fresh.app, lookalike), 401, 'invalid_external_token', 'unknown_issuer');
      const none = await idp.sign({ iss: '' });
      expectProblem(await exchange(fresh.app, none), 401, 'invalid_external_token', 'unknown_issuer');
      // Our own access tokens are not external tokens either.
      const own = await signupWithOrg(fresh.app);
      expectProblem(await exchange(fresh.app, own.access), 401, 'invalid_external_token', 'unknown_issuer');
      expect(idp.requests.length, `requests: ${idp.requests.slice(before).join(', ')}`).to.equal(before);
    } finally {
      await fresh.close();
    }
  });

  it('refuses a subject that is not in allowedSubjects with 403 subject_not_allowed', async () => {
    const allowed = `auth0|${unique()}`;
    const restricted = await harness({ allowedSubjects: [allowed] });
    try {
      expect((await exchange(restricted.app, await idp.sign({ sub: allowed }))).status).to.equal(200);
      expectProblem(await exchange(restricted.app, await idp.sign({ sub: `auth0|${unique()}` })), 403, 'subject_not_allowed');
    } finally {
      await restricted.close();
    }
  });

  it('takes the password path when the body has credentials, whatever the Bearer header says', async () => {
    const owner = await signupWithOrg(h.app);
    for (const token of [await idp.sign(), 'garbage']) {
      const res = await request(h.app).post('/auth/signin').set(bearer(token)).send({ email: owner.email, password: PASSWORD });
      expect(res.status, res.text).to.equal(200);
      expect(claimsOf(res.body.access_token)).to.include({ sub: owner.userId, org: owner.orgId });
    }
    expectProblem(await request(h.app).post('/auth/signin').set(bearer(await idp.sign())).send({ email: owner.email, password: 'wrong password!' }), 401, 'invalid_credentials');
    expect(mapped).to.deep.equal([]);
  });

  it('answers 400 naming the fields without credentials or a Bearer token, and for half a body', async () => {
    for (const res of [await request(h.app).post('/auth/signin'), await request(h.app).post('/auth/signin').send({})]) {
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.have.members(['email', 'password']);
    }
    const half = await request(h.app).post('/auth/signin').set(bearer(await idp.sign())).send({ email: 'a@example.com' });
    expectProblem(half, 400, 'invalid_request');
    expect(half.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['password']);
    expectProblem(await request(h.app).post('/auth/signin').set('Authorization', 'Basic dXNlcjpwYXNz'), 400, 'invalid_request');
  });

  it('without externalIssuers a Bearer token and no body is still a 400', async () => {
    const plain = await startHarness();
    try {
      expectProblem(await exchange(plain.app, await idp.sign()), 400, 'invalid_request');
    } finally {
      await plain.close();
    }
  });

  describe('the default mapping (no mapUser)', () => {
    let d: Harness;
    beforeEach(async () => {
      d = await harness({ mapUser: undefined });
    });
    afterEach(async () => {
      await d.close();
    });

    it('creates the user from a verified email claim', async () => {
      const email = `Ext-${unique()}@Example.com`;
      const res = await exchange(d.app, await idp.sign({ email, email_verified: true }));
      expect(res.status, res.text).to.equal(200);
      expect((await d.storage.users.findById(claimsOf(res.body.access_token).sub as string))?.email).to.equal(email.toLowerCase());
    });

    it('refuses a token without an email (external_email_missing) or with an unverified one (email_not_verified)', async () => {
      const missing = await exchange(d.app, await idp.sign());
      expectProblem(missing, 403, 'external_email_missing');
      expect(missing.body.detail).to.contain('mapUser');
      expectProblem(await exchange(d.app, await idp.sign({ email: `u-${unique()}@example.com` })), 403, 'email_not_verified');
      expectProblem(await exchange(d.app, await idp.sign({ email: `u-${unique()}@example.com`, email_verified: false })), 403, 'email_not_verified');
    });

    it('refuses an existing account’s email with 409 account_exists, and links it with linkVerifiedEmails only when that account’s email was verified', async () => {
      const owner = await signupWithOrg(d.app);
      expectProblem(await exchange(d.app, await idp.sign({ email: owner.email, email_verified: true })), 409, 'account_exists');
      const email = `verified-${unique()}@example.com`;
      const made = await exchange(d.app, await idp.sign({ email, email_verified: true }));
      expect(made.status, made.text).to.equal(200);
      expectProblem(await exchange(d.app, await idp.sign({ email, email_verified: true })), 409, 'account_exists');
      const linking = await startHarness({ storage: d.storage, externalIssuers: [issuerOptions({ mapUser: undefined, linkVerifiedEmails: true })] });
      try {
        const res = await exchange(linking.app, await idp.sign({ email, email_verified: true }));
        expect(res.status, res.text).to.equal(200);
        expect(claimsOf(res.body.access_token).sub).to.equal(claimsOf(made.body.access_token).sub);
        // A password sign-up's email is unverified: never linked, so its first owner keeps no foothold.
        expectProblem(await exchange(linking.app, await idp.sign({ email: owner.email, email_verified: true })), 409, 'account_exists', 'unverified_account');
      } finally {
        // Its storage is d's, closed by d; only the harness's own unused store goes.
        linking.auth.close();
        await linking.storage.close();
        rmSync(linking.dir, { recursive: true, force: true });
      }
    });
  });

  it('answers 403 mfa_required for a user with a second factor', async () => {
    const sub = `auth0|${unique()}`;
    const first = await exchange(h.app, await idp.sign({ sub }));
    const setup = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(first.body.access_token));
    const enable = await request(h.app).post('/auth/mfa/totp/enable').set(bearer(first.body.access_token)).send({ code: await generate({ secret: setup.body.secret }) });
    expect(enable.status, enable.text).to.equal(200);
    const res = await exchange(h.app, await idp.sign({ sub }));
    expectProblem(res, 403, 'mfa_required');
    expect(res.body.mfa_token).to.be.a('string');
  });

  it('answers 503 identity_provider_unavailable when the key set cannot be fetched', async () => {
    const fresh = await harness();
    try {
      idp.down = true;
      expectProblem(await exchange(fresh.app, await idp.sign()), 503, 'identity_provider_unavailable');
      idp.down = false;
      expect((await exchange(fresh.app, await idp.sign())).status).to.equal(200);
    } finally {
      await fresh.close();
    }
  });

  it('refuses bad externalIssuers options at startup', async () => {
    const base = { issuer: 'https://tenant.auth0.com/', audience: AUDIENCE };
    const bad: Array<[unknown, RegExp]> = [
      [[{ ...base, issuer: 'http://tenant.auth0.com/' }], /https/],
      [[{ ...base, audience: [] }], /audience/],
      [[{ ...base, algorithms: ['HS256'] }], /algorithms/],
      [[base, base], /twice/],
      [[{ ...base, mapUser: 'nope' }], /mapUser/],
      [{}, /array/],
    ];
    for (const [externalIssuers, message] of bad) {
      let error: unknown;
      try {
        await (await startHarness({ externalIssuers } as never)).close();
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(externalIssuers)).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.match(message);
    }
  });
});
