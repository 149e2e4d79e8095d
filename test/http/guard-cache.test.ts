import { expect } from 'chai';
import request from 'supertest';
import { createAuthRouter, createJwtTokenIssuer, type AuthRouterOptions } from 'gatehouse-auth';
import { VerifiedTokenCache } from '../../src/tokens/verified-token-cache.js';
import { addMember, claimsOf, expectProblem, PASSWORD, SECRET, secondInstance, signin, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const withKey = (key: string, tenant: string) => ({ 'X-API-Key': key, 'X-Tenant-Id': tenant });

/**
 * The guard keeps access tokens it verified (by their exact string) and answers their
 * next requests without verifying the signature again. Every request below that expects
 * a refusal comes after the same credential passed the guard at least once, so it is
 * answered from the cache: what can change over a token's life (revocation, the clock)
 * must still be checked there, and nothing unverified may ever be served from it.
 */
describe('requireAuth(): the cache of verified tokens', () => {
  let h: Harness;
  let now: number;
  let u: SignedUp;
  beforeEach(async () => {
    now = Date.now();
    h = await startHarness({ clock: { now: () => now } });
    // A host route that needs a recent sign-in, next to the harness's own.
    h.app.get('/api/sensitive', h.auth.requireAuth({ stepUp: true }), (req, res) => void res.json({ authTime: req.auth?.authTime }));
    u = await signupWithOrg(h.app);
  });
  afterEach(async () => {
    await h.close();
  });

  /** 200 when the token passes the guarded host route, else the problem's code. */
  const guardSays = async (token: string, path = '/api/hello') => {
    const res = await request(h.app).get(path).set(bearer(token));
    return res.status === 200 ? 200 : (res.body.code as string);
  };

  it('serves a cached token with the same req.auth as the first, verified, request', async () => {
    const first = await request(h.app).get('/api/hello').set(bearer(u.access));
    const second = await request(h.app).get('/api/hello').set(bearer(u.access));
    expect(first.status).to.equal(200);
    expect(second.body).to.deep.equal(first.body);
    expect(second.body).to.deep.equal({ userId: u.userId, orgId: u.orgId, role: 'owner', via: 'jwt' });
  });

  it('refuses a cached token once it is logged out (token_revoked)', async () => {
    expect(await guardSays(u.access)).to.equal(200);
    expect(await guardSays(u.access)).to.equal(200);
    expect((await request(h.app).post('/auth/logout').set(bearer(u.access)).send({})).status).to.equal(204);
    expect(await guardSays(u.access)).to.equal('token_revoked');
    // The route that ends a session still accepts it, so a retried logout answers as the first did.
    expect((await request(h.app).post('/auth/logout').set(bearer(u.access)).send({})).status).to.equal(204);
    expect(await guardSays(u.access)).to.equal('token_revoked');
  });

  it('refuses a cached token whose session was ended from another one (DELETE /sessions/:id)', async () => {
    const other = await signin(h.app, u.email);
    expect(await guardSays(u.access)).to.equal(200);
    const sid = String(claimsOf(u.access).sid);
    expect((await request(h.app).delete(`/auth/sessions/${sid}`).set(bearer(other.access))).status).to.equal(204);
    expect(await guardSays(u.access)).to.equal('token_revoked');
    expect(await guardSays(other.access)).to.equal(200);
  });

  it('refuses a cached token revoked on another instance once that instance has polled', async () => {
    const other = await secondInstance(h);
    try {
      expect((await request(other.app).get('/api/hello').set(bearer(u.access))).status).to.equal(200);
      expect((await request(h.app).post('/auth/logout').set(bearer(u.access)).send({})).status).to.equal(204);
      await other.auth.services.sessions.pollRevocations();
      expectProblem(await request(other.app).get('/api/hello').set(bearer(u.access)), 401, 'token_revoked');
    } finally {
      await other.auth.close();
    }
  });

  it('refuses a cached token expired by the configured clock (token_expired), though not yet by the real one', async () => {
    expect(await guardSays(u.access)).to.equal(200);
    now += 15 * 60 * 1000 - 1000;
    expect(await guardSays(u.access)).to.equal(200);
    now += 1000;
    const res = await request(h.app).get('/api/hello').set(bearer(u.access));
    expectProblem(res, 401, 'token_expired');
    expect(res.headers['www-authenticate']).to.contain('error="invalid_token"');
    // And stays refused: an expired entry does not come back.
    expect(await guardSays(u.access)).to.equal('token_expired');
  });

  it('refuses refresh, MFA and realtime tokens of the same user after their access token was cached', async () => {
    expect(await guardSays(u.access)).to.equal(200);
    // Signed with the router's own key and claims like the access token's: only the type differs.
    const issuer = createJwtTokenIssuer({ secret: SECRET, clock: { now: () => now } });
    const { jti: _jti, iat: _iat, exp: _exp, exi: _exi, iss: _iss, aud: _aud, usefor: _usefor, sub, ...claims } = claimsOf(u.access);
    const others = {
      refresh: u.refresh,
      mfa: (await issuer.sign({ usefor: 'mfa', sub: String(sub), ttl: 300, claims })).token,
      realtime: (await issuer.sign({ usefor: 'realtime', sub: String(sub), ttl: 300, claims: { ...claims, tp: `axonpush/${u.orgId}`, cid: 'c1' } })).token,
    };
    for (const [use, token] of Object.entries(others)) {
      for (let i = 0; i < 2; i += 1) expect(await guardSays(token), use).to.equal('invalid_token');
    }
    // A cached token with anything appended or changed is another string, verified in full.
    const [head, payload, signature] = u.access.split('.') as [string, string, string];
    const flipped = `${head}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await guardSays(flipped)).to.equal('invalid_token');
    expect(await guardSays(`${u.access}x`)).to.equal('invalid_token');
    expect(await guardSays(u.access)).to.equal(200);
  });

  it('refuses a cached token inside a malformed Authorization header, and serves it in every well-formed one', async () => {
    expect(await request(h.app).get('/api/hello').set(bearer(u.access)).then((r) => r.status)).to.equal(200);
    const header = async (value: string) => {
      const res = await request(h.app).get('/api/hello').set('Authorization', value);
      return res.status === 200 ? 200 : (res.body.code as string);
    };
    // Each of these ends with the cached token, or starts with `Bearer ` and the token.
    for (const value of [`Bearer ${u.access} ${u.access}`, `Bearer ${u.access} junk`, `Bearer ${u.access},${u.access}`, `Bearer x${u.access}`, `Bearer "${u.access}"`, `Bearer ${u.access}\t${u.access}`]) {
      expect(await header(value), value.slice(0, 12)).to.equal('invalid_token');
    }
    for (const value of [`bearer ${u.access}`, `Bearer  ${u.access}`, `Bearer ${u.access} `, `BEARER\t${u.access}`]) {
      expect(await header(value), value.slice(0, 9)).to.equal(200);
    }
    expect(await header(`Basic ${u.access}`)).to.equal('missing_token');
  });

  it('applies roles, step-up (auth_time) and application limits to cached tokens', async () => {
    const member = await addMember(h.app, u);
    expect(await guardSays(member.access)).to.equal(200);
    expect(await guardSays(member.access, '/api/admin')).to.equal('forbidden');
    expect(await guardSays(u.access, '/api/admin')).to.equal(200);

    const fresh = await request(h.app).get('/api/sensitive').set(bearer(u.access));
    expect(fresh.status).to.equal(200);
    expect(fresh.body.authTime).to.equal(claimsOf(u.access).auth_time);
    now += 6 * 60 * 1000; // past stepUp.maxAge (5 minutes), within the access token's 15
    expect(await guardSays(u.access)).to.equal(200);
    expect(await guardSays(u.access, '/api/sensitive')).to.equal('reauthentication_required');

    // An application's token keeps its application when served from the cache.
    h.app.get('/api/app-only', h.auth.requireAuth({ application: true }), (req, res) => void res.json({ appId: req.auth?.appId }));
    const { applications } = h.auth.services;
    const registered = await applications.register(u.userId, u.orgId, { name: 'Dash', url: `https://dash-${u.userId}.example.com` });
    await applications.grant(u.userId, u.orgId, registered.id, u.userId);
    const signed = await applications.signin(u.email, PASSWORD, { appId: registered.id });
    if (signed.kind !== 'tokens') throw new Error('expected tokens from the application sign-in');
    for (let i = 0; i < 2; i += 1) {
      const res = await request(h.app).get('/api/app-only').set(bearer(signed.access.token));
      expect(res.status, res.text).to.equal(200);
      expect(res.body.appId).to.equal(registered.id);
    }
    expect(await guardSays(u.access, '/api/app-only')).to.equal('forbidden');
  });

  it('refuses a cached API key once it is revoked, and once it expires by the clock', async () => {
    const created = await request(h.app).post('/auth/api-keys').set(bearer(u.access)).send({ name: 'ci' });
    expect(created.status, created.text).to.equal(201);
    const keyFor = (key: string) => request(h.app).get('/api/hello').set(withKey(key, u.orgId));
    expect((await keyFor(created.body.key)).status).to.equal(200);
    expect((await keyFor(created.body.key)).status).to.equal(200);
    // Another tenant id is refused even for a cached key.
    expectProblem(await request(h.app).get('/api/hello').set(withKey(created.body.key, `${u.orgId}0`)), 401, 'invalid_api_key');
    expect((await request(h.app).delete(`/auth/api-keys/${created.body.id}`).set(bearer(u.access))).status).to.equal(204);
    expectProblem(await keyFor(created.body.key), 401, 'invalid_api_key');

    const expiring = await request(h.app).post('/auth/api-keys').set(bearer(u.access)).send({ name: 'short', expiresAt: new Date(now + 30_000).toISOString() });
    expect(expiring.status, expiring.text).to.equal(201);
    expect((await keyFor(expiring.body.key)).status).to.equal(200);
    now += 30_000; // within the key cache's 60 s
    expectProblem(await keyFor(expiring.body.key), 401, 'invalid_api_key');
  });
});

describe('the tokenCache option', () => {
  it('works with the cache off ({ max: 0 }) and with a cache of one token', async () => {
    for (const max of [0, 1]) {
      const h = await startHarness({ tokenCache: { max } });
      try {
        const a = await signupWithOrg(h.app);
        const b = await signupWithOrg(h.app);
        // Alternating users evict each other from a one-token cache; every answer stays right.
        for (let i = 0; i < 3; i += 1) {
          for (const user of [a, b]) {
            const res = await request(h.app).get('/api/hello').set(bearer(user.access));
            expect(res.body.userId, `max ${max}`).to.equal(user.userId);
          }
        }
        expect((await request(h.app).post('/auth/logout').set(bearer(a.access)).send({})).status).to.equal(204);
        expect((await request(h.app).get('/api/hello').set(bearer(a.access))).body.code).to.equal('token_revoked');
        expect((await request(h.app).get('/api/hello').set(bearer(b.access))).status).to.equal(200);
      } finally {
        await h.close();
      }
    }
  });

  it('is validated at startup', async () => {
    const h = await startHarness();
    try {
      const base = { storage: h.storage, tokens: { secret: SECRET } } as AuthRouterOptions;
      for (const bad of [{ max: -1 }, { max: 1.5 }, { max: '10' }, { max: Number.POSITIVE_INFINITY }, 'big', null]) {
        expect(() => createAuthRouter({ ...base, tokenCache: bad } as unknown as AuthRouterOptions), JSON.stringify(bad)).to.throw(TypeError, /tokenCache/);
      }
      for (const good of [{ max: 0 }, {}, { max: 50_000 }]) await createAuthRouter({ ...base, tokenCache: good }).close();
    } finally {
      await h.close();
    }
  });
});

describe('VerifiedTokenCache', () => {
  const entry = (expiresAt: number) => ({ expiresAt });

  it('holds at most max entries, dropping the least recently used', () => {
    const cache = new VerifiedTokenCache<{ expiresAt: number }>(3);
    for (const token of ['a', 'b', 'c']) cache.set(token, entry(1000));
    expect(cache.get('a', 0)).to.deep.equal(entry(1000)); // a is now the most recent
    cache.set('d', entry(1000));
    expect(cache.size).to.equal(3);
    expect(cache.get('b', 0)).to.equal(undefined);
    for (const token of ['a', 'c', 'd']) expect(cache.get(token, 0), token).to.deep.equal(entry(1000));
    for (let i = 0; i < 100; i += 1) cache.set(`t${i}`, entry(1000));
    expect(cache.size).to.equal(3);
    expect(cache.max).to.equal(3);
  });

  it('serves an entry only before its expiry at the time it is asked for, and drops it after', () => {
    const cache = new VerifiedTokenCache<{ expiresAt: number }>(10);
    cache.set('t', entry(1000));
    expect(cache.get('t', 999)).to.deep.equal(entry(1000));
    expect(cache.get('t', 1000)).to.equal(undefined);
    expect(cache.size).to.equal(0);
    expect(cache.get('t', 0)).to.equal(undefined);
  });

  it('finds a long token by its last characters but serves only the exact string; tokens ending alike replace each other', () => {
    const cache = new VerifiedTokenCache<{ expiresAt: number }>(10);
    const tail = 's'.repeat(40);
    const first = `header.first.${tail}`;
    const second = `header.second.${tail}`;
    cache.set(first, entry(1000));
    for (const other of [second, `x${first}`, first.slice(1), `${first} `, tail]) expect(cache.get(other, 0), other).to.equal(undefined);
    expect(cache.get(first, 0)).to.deep.equal(entry(1000));
    cache.set(second, entry(2000));
    expect(cache.get(second, 0)).to.deep.equal(entry(2000));
    // The earlier one is a miss now (verified again by the caller), never the other's entry.
    expect(cache.get(first, 0)).to.equal(undefined);
    expect(cache.size).to.equal(1);
  });

  it('matches the exact string only, and holds nothing with max 0', () => {
    const cache = new VerifiedTokenCache<{ expiresAt: number }>(10);
    cache.set('abc', entry(1000));
    for (const other of ['abc ', 'ab', 'ABC', 'abc=']) expect(cache.get(other, 0), other).to.equal(undefined);
    const off = new VerifiedTokenCache<{ expiresAt: number }>(0);
    off.set('abc', entry(1000));
    expect(off.get('abc', 0)).to.equal(undefined);
    expect(off.size).to.equal(0);
    expect(off.max).to.equal(0);
  });
});
