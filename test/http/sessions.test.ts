import { expect } from 'chai';
import request from 'supertest';
import { createAuthRouter } from 'gatehouse-auth';
import { addMember, claimsOf, PASSWORD, SECRET, secondInstance, signin, signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('sessions: refresh and logout', () => {
  let h: Harness;
  let now: number;
  beforeEach(async () => {
    now = Date.now();
    h = await startHarness({ clock: { now: () => now }, tokens: { secret: SECRET, accessTtl: '5m', refreshTtl: '1h', sessionMaxAge: '3h' } });
  });
  afterEach(async () => {
    await h.close();
  });

  describe('POST /auth/refresh', () => {
    it('rotates: a new pair in the same family, and the old refresh token is dead', async () => {
      const u = await signupWithOrg(h.app);
      const res = await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh });
      expect(res.status).to.equal(200);
      expect(res.body).to.have.all.keys('access_token', 'refresh_token');
      expect(res.body.refresh_token).not.to.equal(u.refresh);
      expect(claimsOf(res.body.refresh_token).sid).to.equal(claimsOf(u.refresh).sid);
      expect(claimsOf(res.body.access_token)).to.include({ sub: u.userId, org: u.orgId, role: 'owner' });
      expect((await request(h.app).get('/api/hello').set(bearer(res.body.access_token))).status).to.equal(200);
    });

    it('revokes the whole family when a rotated token is presented again after the reuse grace', async () => {
      const u = await signupWithOrg(h.app);
      const first = await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh });
      now += 11_000; // past rotation.reuseGrace (10 s): no longer a retry
      const reuse = await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh });
      expect(reuse.status).to.equal(401);
      expect(reuse.body.code).to.equal('refresh_token_reused');
      // The legitimate successor and every access token of the family are dead too.
      const successor = await request(h.app).post('/auth/refresh').send({ refresh_token: first.body.refresh_token });
      expect(successor.status).to.equal(401);
      expect(successor.body.code).to.equal('token_revoked');
      const hello = await request(h.app).get('/api/hello').set(bearer(first.body.access_token));
      expect(hello.status).to.equal(401);
      expect(hello.body.code).to.equal('token_revoked');
      expect((await request(h.app).get('/api/hello').set(bearer(u.access))).status).to.equal(401);
    });

    it('leaves the user’s other sessions alone when one family is revoked', async () => {
      const u = await signupWithOrg(h.app);
      const other = await signin(h.app, u.email);
      await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh });
      now += 11_000;
      expect((await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh })).body.code).to.equal('refresh_token_reused');
      expect((await request(h.app).get('/api/hello').set(bearer(other.access))).status).to.equal(200);
      expect((await request(h.app).post('/auth/refresh').send({ refresh_token: other.refresh })).status).to.equal(200);
    });

    it('with rotation.reuseGrace 0 (strict), of 10 parallel refreshes of one token exactly one wins, and the family is revoked', async () => {
      // The default grace hands the losers the winner's pair instead: see refresh-grace.test.ts.
      const strict = await startHarness({ tokens: { secret: SECRET }, rotation: { reuseGrace: 0 } });
      try {
        const u = await signupWithOrg(strict.app);
        const results = await Promise.all(Array.from({ length: 10 }, () => request(strict.app).post('/auth/refresh').send({ refresh_token: u.refresh })));
        const ok = results.filter((r) => r.status === 200);
        expect(ok).to.have.length(1);
        expect(results.filter((r) => r.status === 401 && r.body.code === 'refresh_token_reused')).to.have.length(9);
        const winner = ok[0]!.body;
        expect((await request(strict.app).post('/auth/refresh').send({ refresh_token: winner.refresh_token })).status).to.equal(401);
        expect((await request(strict.app).get('/api/hello').set(bearer(winner.access_token))).status).to.equal(401);
      } finally {
        await strict.close();
      }
    });

    it('refuses an access token as a refresh token, and a refresh token as an access token', async () => {
      const u = await signupWithOrg(h.app);
      const asRefresh = await request(h.app).post('/auth/refresh').send({ refresh_token: u.access });
      expect(asRefresh.status).to.equal(401);
      expect(asRefresh.body.code).to.equal('invalid_token');
      const asAccess = await request(h.app).get('/api/hello').set(bearer(u.refresh));
      expect(asAccess.status).to.equal(401);
      expect(asAccess.body.code).to.equal('invalid_token');
    });

    it('refuses garbage, a token signed with another secret, and an expired refresh token', async () => {
      const u = await signupWithOrg(h.app);
      const garbage = await request(h.app).post('/auth/refresh').send({ refresh_token: 'not.a.jwt' });
      expect(garbage.status).to.equal(401);
      expect(garbage.body.code).to.equal('invalid_token');

      const other = createAuthRouter({ storage: h.storage, tokens: { secret: 'another-secret-that-is-also-long-enough!!' }, passwords: { cost: 4 } });
      const forged = await other.services.sessions.issuePair({ userId: u.userId, orgId: u.orgId, role: 'owner' });
      other.close();
      const foreign = await request(h.app).post('/auth/refresh').send({ refresh_token: forged.refreshToken });
      expect(foreign.status).to.equal(401);
      expect(foreign.body.code).to.equal('invalid_token');

      now += 61 * 60 * 1000;
      const expired = await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh });
      expect(expired.status).to.equal(401);
      expect(expired.body.code).to.equal('token_expired');
    });

    it('never extends a session past its absolute lifetime', async () => {
      const u = await signupWithOrg(h.app);
      let refresh = u.refresh;
      const started = now;
      // Refresh every 50 minutes: each refresh token lives 1 h, the session 3 h.
      for (let i = 0; i < 3; i += 1) {
        now += 50 * 60 * 1000;
        const res = await request(h.app).post('/auth/refresh').send({ refresh_token: refresh });
        expect(res.status, `refresh ${i}`).to.equal(200);
        refresh = res.body.refresh_token;
        expect((claimsOf(refresh).exp as number) * 1000).to.be.at.most(started + 3 * 3600 * 1000 + 1000);
      }
      now = started + 3 * 3600 * 1000 + 1000;
      const late = await request(h.app).post('/auth/refresh').send({ refresh_token: refresh });
      expect(late.status).to.equal(401);
      expect(late.body.code).to.equal('token_expired');
    });

    it('carries a changed role into the next pair', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      const patch = await request(h.app).patch(`/auth/orgs/${owner.orgId}/members/${member.userId}`).set(bearer(owner.access)).send({ role: 'admin' });
      expect(patch.status).to.equal(200);
      const res = await request(h.app).post('/auth/refresh').send({ refresh_token: member.refresh });
      expect(claimsOf(res.body.access_token).role).to.equal('admin');
    });

    it('validates its body', async () => {
      for (const body of [{}, { refresh_token: 5 }, { refresh_token: null }, { refresh_token: '' }, { refresh_token: 'x', extra: 1 }]) {
        const res = await request(h.app).post('/auth/refresh').send(body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.code).to.equal('invalid_request');
      }
    });
  });

  describe('POST /auth/logout', () => {
    it('answers 204; the access token and its refresh family stop working at once', async () => {
      const u = await signupWithOrg(h.app);
      const res = await request(h.app).post('/auth/logout').set(bearer(u.access));
      expect(res.status).to.equal(204);
      const hello = await request(h.app).get('/api/hello').set(bearer(u.access));
      expect(hello.status).to.equal(401);
      expect(hello.body.code).to.equal('token_revoked');
      const refresh = await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh });
      expect(refresh.status).to.equal(401);
      expect(refresh.body.code).to.equal('token_revoked');
    });

    it('also revokes the family of a refresh token of the same user passed in the body', async () => {
      const u = await signupWithOrg(h.app);
      const second = await signin(h.app, u.email);
      const res = await request(h.app).post('/auth/logout').set(bearer(u.access)).send({ refresh_token: second.refresh });
      expect(res.status).to.equal(204);
      expect((await request(h.app).get('/api/hello').set(bearer(second.access))).status).to.equal(401);
      expect((await request(h.app).post('/auth/refresh').send({ refresh_token: second.refresh })).status).to.equal(401);
    });

    it('ignores a refresh token of another user in the body', async () => {
      const a = await signupWithOrg(h.app);
      const b = await signupWithOrg(h.app);
      expect((await request(h.app).post('/auth/logout').set(bearer(a.access)).send({ refresh_token: b.refresh })).status).to.equal(204);
      expect((await request(h.app).post('/auth/refresh').send({ refresh_token: b.refresh })).status).to.equal(200);
    });

    it('keeps other sessions of the user working', async () => {
      const u = await signupWithOrg(h.app);
      const other = await signin(h.app, u.email);
      await request(h.app).post('/auth/logout').set(bearer(u.access));
      expect((await request(h.app).get('/api/hello').set(bearer(other.access))).status).to.equal(200);
    });

    it('reaches another instance on the same storage within the poll interval', async () => {
      const u = await signupWithOrg(h.app);
      const other = await secondInstance(h);
      try {
        expect((await request(other.app).get('/api/hello').set(bearer(u.access))).status).to.equal(200);
        await request(h.app).post('/auth/logout').set(bearer(u.access));
        // Other instance: the refresh family is refused at once (storage), the access token after its next poll.
        expect((await request(other.app).post('/auth/refresh').send({ refresh_token: u.refresh })).status).to.equal(401);
        await other.auth.services.sessions.pollRevocations();
        const hello = await request(other.app).get('/api/hello').set(bearer(u.access));
        expect(hello.status).to.equal(401);
        expect(hello.body.code).to.equal('token_revoked');
      } finally {
        other.auth.close();
      }
    });

    it('needs a bearer token; repeating it with the revoked token answers 204 again (idempotent)', async () => {
      const none = await request(h.app).post('/auth/logout');
      expect(none.status).to.equal(401);
      expect(none.body.code).to.equal('missing_token');
      const u = await signupWithOrg(h.app);
      await request(h.app).post('/auth/logout').set(bearer(u.access));
      expect((await request(h.app).post('/auth/logout').set(bearer(u.access))).status).to.equal(204);
      expect((await request(h.app).get('/api/hello').set(bearer(u.access))).status).to.equal(401);
    });

    it('validates its optional body', async () => {
      const u = await signupWithOrg(h.app);
      const res = await request(h.app).post('/auth/logout').set(bearer(u.access)).send({ refresh_token: 42 });
      expect(res.status).to.equal(400);
      expect(res.body.errors[0].path).to.equal('refresh_token');
      expect((await request(h.app).get('/api/hello').set(bearer(u.access))).status).to.equal(200);
    });
  });

  it('signs in again after logout', async () => {
    const u = await signupWithOrg(h.app);
    await request(h.app).post('/auth/logout').set(bearer(u.access));
    const res = await request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD });
    expect(res.status).to.equal(200);
    expect((await request(h.app).get('/api/hello').set(bearer(res.body.access_token))).status).to.equal(200);
  });
});
