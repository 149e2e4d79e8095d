import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { addMember, queriesDuring, SECRET, signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';

describe('requireAuth() on host routes', () => {
  let h: Harness;
  let now: number;
  beforeEach(async () => {
    now = Date.now();
    h = await startHarness({ clock: { now: () => now } });
  });
  afterEach(async () => {
    await h.close();
  });

  it('sets req.auth from a valid access token', async () => {
    const u = await signupWithOrg(h.app);
    const res = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${u.access}`);
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ userId: u.userId, orgId: u.orgId, role: 'owner', via: 'jwt' });
  });

  it('answers 401 with WWW-Authenticate: Bearer when the token is missing or malformed', async () => {
    const missing = await request(h.app).get('/api/hello');
    expect(missing.status).to.equal(401);
    expect(missing.body.code).to.equal('missing_token');
    expect(missing.headers['www-authenticate']).to.equal('Bearer realm="gatehouse"');
    for (const header of ['Bearer', 'Bearer not-a-jwt', 'Basic dXNlcjpwYXNz', 'Bearer a.b.c']) {
      const res = await request(h.app).get('/api/hello').set('Authorization', header);
      expect(res.status, header).to.equal(401);
      expect(res.headers['www-authenticate'], header).to.match(/^Bearer realm="gatehouse"/);
      expect(res.headers['content-type']).to.match(/application\/problem\+json/);
    }
  });

  it('refuses an expired access token with token_expired', async () => {
    const u = await signupWithOrg(h.app);
    now += 16 * 60 * 1000;
    const res = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${u.access}`);
    expect(res.status).to.equal(401);
    expect(res.body.code).to.equal('token_expired');
    expect(res.headers['www-authenticate']).to.contain('error="invalid_token"');
  });

  it('refuses tokens with another algorithm, issuer or audience, without usefor, or not typed at+jwt', async () => {
    const u = await signupWithOrg(h.app);
    const iat = Math.floor(now / 1000);
    const base = { sub: u.userId, org: u.orgId, role: 'owner', usefor: 'access', jti: 'x1', iat, exp: iat + 600, exi: 600, iss: 'gatehouse', aud: 'gatehouse' };
    // Typed as access tokens (`at+jwt`), so each one differs from a good token by one thing only.
    const typed = (algorithm: 'HS256' | 'HS512') => ({ algorithm, header: { alg: algorithm, typ: 'at+jwt' } });
    const forged = [
      jwt.sign(base, SECRET, typed('HS512')),
      jwt.sign({ ...base, iss: 'someone-else' }, SECRET, typed('HS256')),
      jwt.sign({ ...base, aud: 'another-api' }, SECRET, typed('HS256')),
      jwt.sign({ ...base, usefor: undefined }, SECRET, typed('HS256')),
      jwt.sign({ ...base, usefor: 'realtime' }, SECRET, typed('HS256')),
      jwt.sign(base, SECRET, { algorithm: 'HS256' }),
      `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify(base)).toString('base64url')}.`,
    ];
    for (const token of forged) {
      const res = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${token}`);
      expect(res.status, token).to.equal(401);
      expect(res.body.code, token).to.equal('invalid_token');
    }
    // The same claims signed properly pass: the refusals above are about the differences.
    const good = jwt.sign(base, SECRET, typed('HS256'));
    expect((await request(h.app).get('/api/hello').set('Authorization', `Bearer ${good}`)).status).to.equal(200);
  });

  it('answers 403 forbidden when the role is not allowed', async () => {
    const owner = await signupWithOrg(h.app);
    const member = await addMember(h.app, owner);
    expect((await request(h.app).get('/api/admin').set('Authorization', `Bearer ${owner.access}`)).status).to.equal(200);
    const res = await request(h.app).get('/api/admin').set('Authorization', `Bearer ${member.access}`);
    expect(res.status).to.equal(403);
    expect(res.body.code).to.equal('forbidden');
  });

  it('needs no database round trip per request', async () => {
    const u = await signupWithOrg(h.app);
    const queries = await queriesDuring(h.storage, async () => {
      for (let i = 0; i < 5; i += 1) {
        expect((await request(h.app).get('/api/hello').set('Authorization', `Bearer ${u.access}`)).status).to.equal(200);
      }
    });
    expect(queries).to.deep.equal([]);
  });

  it('answers the host’s error handler nothing: failures are written by the guard itself', async () => {
    const res = await request(h.app).get('/api/admin');
    expect(res.status).to.equal(401);
    expect(res.body).to.include({ status: 401, code: 'missing_token' });
  });
});
