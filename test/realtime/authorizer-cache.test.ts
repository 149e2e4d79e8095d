import { expect } from 'chai';
import request from 'supertest';
import { createJwtTokenIssuer, createRealtimeAuthorizer, type RealtimeAuthorizer } from 'gatehouse-auth';
import { SECRET, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { codeOf } from './fixtures.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * The router's realtime authorizer keeps realtime tokens it verified (by their exact
 * string), so a reconnect skips the signature check. Each refusal below comes on a
 * CONNECT after the same token was accepted once, so it is judged from the cache:
 * revocation, the clock, the client id and the password must still be checked there.
 * Credentials come from GET /auth/iot-credentials on a real SQLite harness.
 */
describe('realtime authorizer: the cache of verified realtime tokens', () => {
  let h: Harness;
  let now: number;
  let owner: SignedUp;
  let authorizer: RealtimeAuthorizer;
  beforeEach(async () => {
    now = Date.now();
    h = await startHarness({ clock: { now: () => now }, realtime: { url: 'ws://127.0.0.1:8083/mqtt', ttl: '10m' } });
    owner = await signupWithOrg(h.app);
    authorizer = h.auth.realtimeAuthorizer();
  });
  afterEach(async () => {
    await h.close();
  });

  const credentials = async (headers: Record<string, string>) => {
    const res = await request(h.app).get('/auth/iot-credentials').set(headers);
    expect(res.status, res.text).to.equal(200);
    return { clientId: String(res.body.clientId), token: String(res.body.authToken) };
  };

  it('accepts a token again on reconnect, and refuses it after its session is logged out', async () => {
    const c = await credentials(bearer(owner.access));
    const first = authorizer.authenticate(c.clientId, c.token, '');
    expect(authorizer.authenticate(c.clientId, c.token, '')).to.deep.equal(first);
    expect((await request(h.app).post('/auth/logout').set(bearer(owner.access)).send({})).status).to.equal(204);
    expect(codeOf(() => authorizer.authenticate(c.clientId, c.token, ''))).to.equal('revoked');
  });

  it('refuses a cached token once the API key it was minted with is revoked', async () => {
    const key = await request(h.app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'device' });
    expect(key.status, key.text).to.equal(201);
    const c = await credentials({ 'X-API-Key': key.body.key, 'X-Tenant-Id': owner.orgId });
    authorizer.authenticate(c.clientId, c.token, '');
    expect((await request(h.app).delete(`/auth/api-keys/${key.body.id}`).set(bearer(owner.access))).status).to.equal(204);
    expect(codeOf(() => authorizer.authenticate(c.clientId, c.token, ''))).to.equal('revoked');
  });

  it('refuses a cached token expired by the clock (token_expired)', async () => {
    const c = await credentials(bearer(owner.access));
    authorizer.authenticate(c.clientId, c.token, '');
    now += 10 * 60 * 1000 - 1000;
    authorizer.authenticate(c.clientId, c.token, '');
    now += 1000;
    expect(codeOf(() => authorizer.authenticate(c.clientId, c.token, ''))).to.equal('token_expired');
    expect(codeOf(() => authorizer.authenticate(c.clientId, c.token, ''))).to.equal('token_expired');
  });

  it('still checks the client id and the password of every CONNECT, and types other tokens in full', async () => {
    const c = await credentials(bearer(owner.access));
    authorizer.authenticate(c.clientId, c.token, '');
    expect(codeOf(() => authorizer.authenticate(`${c.clientId}x`, c.token, ''))).to.equal('client_id_mismatch');
    expect(codeOf(() => authorizer.authenticate(c.clientId, c.token, 'secret'))).to.equal('bad_credentials');
    // An access token with the realtime token's claims: refused by its type, every time.
    const issuer = createJwtTokenIssuer({ secret: SECRET, clock: { now: () => now } });
    const access = (await issuer.sign({ usefor: 'access', sub: owner.userId, ttl: 300, claims: { org: owner.orgId, tp: `axonpush/${owner.orgId}`, cid: c.clientId } })).token;
    for (let i = 0; i < 2; i += 1) expect(codeOf(() => authorizer.authenticate(c.clientId, access, ''))).to.equal('bad_credentials');
    expect(authorizer.authenticate(c.clientId, c.token, '').clientId).to.equal(c.clientId);
  });

  it('validates tokenCache, and works without a cache', async () => {
    const tokens = createJwtTokenIssuer({ secret: SECRET });
    for (const bad of [{ max: -1 }, { max: 0.5 }, 'x']) {
      expect(() => createRealtimeAuthorizer({ tokens, tokenCache: bad as never }), JSON.stringify(bad)).to.throw(TypeError, /tokenCache/);
    }
    const uncached = createRealtimeAuthorizer({ tokens, tokenCache: { max: 0 }, clock: { now: () => now } });
    const c = await credentials(bearer(owner.access));
    expect(uncached.authenticate(c.clientId, c.token, '').clientId).to.equal(c.clientId);
    expect(uncached.authenticate(c.clientId, c.token, '').clientId).to.equal(c.clientId);
    now += 10 * 60 * 1000;
    expect(codeOf(() => uncached.authenticate(c.clientId, c.token, ''))).to.equal('token_expired');
  });
});
