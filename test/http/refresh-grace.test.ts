import { expect } from 'chai';
import type express from 'express';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { claimsOf, expectProblem, SECRET, signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';
import { tokenIdKey } from '../../src/tokens/token-ids.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const GRACE_MS = 10_000;

interface Setup {
  /** The routers the parallel requests are spread over (one, or two on one database). */
  apps: express.Express[];
  harnesses: Harness[];
  /** Moves the injected clock every router reads. */
  advance(ms: number): void;
}

type MakeSetup = (clock: { now: () => number }) => Promise<Harness[]>;

const refresh = (app: express.Express, token: string) => request(app).post('/auth/refresh').send({ refresh_token: token });

/** What makes an access token one of a session: who, where, as what, signed in when, which session. */
const sessionOf = (accessToken: string) => {
  const { sub, org, role, auth_time, sid, usefor } = claimsOf(accessToken);
  return { sub, org, role, auth_time, sid, usefor };
};

/** The retry-safe rotation rules, on whatever storage and number of instances `make` builds. */
function graceSuite(label: string, make: MakeSetup): void {
  describe(label, function () {
    this.timeout(60_000);
    let setup: Setup;
    let now: number;

    before(async () => {
      now = Date.now();
      const harnesses = await make({ now: () => now });
      setup = { harnesses, apps: harnesses.map((h) => h.app), advance: (ms) => void (now += ms) };
    });
    after(async () => {
      for (const h of setup?.harnesses ?? []) await h.close();
    });

    const app = (i: number) => setup.apps[i % setup.apps.length] as express.Express;

    it('10 parallel refreshes of one token: 10 × 200 with one and the same successor, and the session lives on', async () => {
      const u = await signupWithOrg(app(0));
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => refresh(app(i), u.refresh)));
      expect(
        results.map((r) => r.status),
        JSON.stringify(results.map((r) => r.body)),
      ).to.deep.equal(Array(10).fill(200));
      const [first] = results;
      // One refresh token for all; each access token is one of that same session, and works.
      for (const r of results) {
        expect(r.body.refresh_token).to.equal(first!.body.refresh_token);
        expect(sessionOf(r.body.access_token)).to.deep.equal(sessionOf(first!.body.access_token));
        expect((await request(app(1)).get('/api/hello').set(bearer(r.body.access_token))).status).to.equal(200);
      }
      expect(sessionOf(first!.body.access_token)).to.include({ sub: u.userId, org: u.orgId, role: 'owner', sid: claimsOf(u.access).sid });
      expect(first!.body.refresh_token).not.to.equal(u.refresh);
      for (let i = 0; i < setup.apps.length; i++) {
        expect((await request(app(i)).get('/api/hello').set(bearer(first!.body.access_token))).status).to.equal(200);
      }
      // The successor rotates as any live token does, and its own successor works.
      setup.advance(60_000);
      const next = await refresh(app(1), first!.body.refresh_token);
      expect(next.status, JSON.stringify(next.body)).to.equal(200);
      expect(next.body.refresh_token).not.to.equal(first!.body.refresh_token);
      expect((await request(app(0)).get('/api/hello').set(bearer(next.body.access_token))).status).to.equal(200);
      // The session list shows one session, not one per racing request.
      const sessions = await request(app(0)).get('/auth/sessions').set(bearer(next.body.access_token));
      expect(sessions.status).to.equal(200);
      expect(sessions.body.sessions).to.have.length(1);
    });

    it('a retry within the grace gets the same pair; a replay after it is refresh_token_reused and revokes the family, successor included', async () => {
      const u = await signupWithOrg(app(0));
      const rotated = await refresh(app(0), u.refresh);
      expect(rotated.status).to.equal(200);
      setup.advance(GRACE_MS - 1000);
      const retry = await refresh(app(1), u.refresh);
      expect(retry.status).to.equal(200);
      expect(retry.body.refresh_token).to.equal(rotated.body.refresh_token);
      expect(sessionOf(retry.body.access_token)).to.deep.equal(sessionOf(rotated.body.access_token));
      expect(Object.keys(retry.body).sort()).to.deep.equal(Object.keys(rotated.body).sort());
      expect((await request(app(0)).get('/api/hello').set(bearer(retry.body.access_token))).status).to.equal(200);

      setup.advance(2000);
      const replay = await refresh(app(1), u.refresh);
      expectProblem(replay, 401, 'refresh_token_reused');
      expectProblem(await refresh(app(0), rotated.body.refresh_token), 401, 'token_revoked');
      for (const h of setup.harnesses) await h.auth.services.sessions.pollRevocations();
      for (let i = 0; i < setup.apps.length; i++) {
        expectProblem(await request(app(i)).get('/api/hello').set(bearer(rotated.body.access_token)), 401, 'token_revoked');
        expectProblem(await request(app(i)).get('/api/hello').set(bearer(retry.body.access_token)), 401, 'token_revoked');
      }
      // And the stored successor is not handed out any more, even "within" a later look.
      expectProblem(await refresh(app(0), u.refresh), 401, 'refresh_token_reused');
    });

    it("a stored successor moved into another consumed token's row opens for neither: that token is reuse", async () => {
      const victim = await signupWithOrg(app(0));
      const other = await signupWithOrg(app(0));
      const victimRotated = await refresh(app(0), victim.refresh);
      expect((await refresh(app(0), other.refresh)).status).to.equal(200);
      const { knex } = setup.harnesses[0]!.storage;
      const idHash = (token: string) => tokenIdKey(String(claimsOf(token).jti));
      const [stolen] = await knex('auth_refresh_tokens').where({ id_hash: idHash(victim.refresh) }).select('successor');
      expect(stolen?.successor, 'the rotation stored a successor').to.be.a('string');
      expect(stolen.successor).not.to.contain(victimRotated.body.refresh_token.split('.')[1]);
      await knex('auth_refresh_tokens').where({ id_hash: idHash(other.refresh) }).update({ successor: stolen.successor });
      const retry = await refresh(app(1), other.refresh);
      expectProblem(retry, 401, 'refresh_token_reused');
      expect(retry.text).not.to.contain(victimRotated.body.refresh_token);
      // The victim's own retry still gets its successor.
      expect((await refresh(app(0), victim.refresh)).body.refresh_token).to.equal(victimRotated.body.refresh_token);
    });

    it('a revoked family never hands out its stored successor, even within the grace', async () => {
      const u = await signupWithOrg(app(0));
      const rotated = await refresh(app(0), u.refresh);
      expect(rotated.status).to.equal(200);
      const logout = await request(app(1)).post('/auth/logout').set(bearer(rotated.body.access_token)).send({});
      expect(logout.status).to.be.oneOf([200, 204]);
      const retry = await refresh(app(0), u.refresh);
      expect(retry.status).to.equal(401);
      expect(retry.body).not.to.have.property('refresh_token');
      expect(retry.text).not.to.contain(rotated.body.refresh_token);
    });
  });
}

describe('retry-safe rotation (rotation.reuseGrace)', () => {
  graceSuite('on SQLite', async (clock) => [await startHarness({ clock })]);

  // An adapter written before the optional `refreshTokens.replace`: rotation inserts, then consumes.
  graceSuite('on SQLite, with storage that has no refreshTokens.replace', async (clock) => {
    const storage = createKnexStorage(':memory:');
    delete (storage.refreshTokens as { replace?: unknown }).replace;
    return [await startHarness({ clock }, { storage })];
  });

  graceSuite('on PostgreSQL, two router instances on one database', async (clock) => {
    const url = await createTestDatabase('refresh_grace');
    const a = await startHarness({ clock }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
    const b = await startHarness({ clock }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
    return [a, b];
  });

  describe('with reuseGrace 0 (strict)', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ tokens: { secret: SECRET }, rotation: { reuseGrace: 0 } });
    });
    after(async () => {
      await h.close();
    });

    it('any second presentation is refresh_token_reused and revokes the family', async () => {
      const u = await signupWithOrg(h.app);
      const rotated = await refresh(h.app, u.refresh);
      expect(rotated.status).to.equal(200);
      expectProblem(await refresh(h.app, u.refresh), 401, 'refresh_token_reused');
      expectProblem(await refresh(h.app, rotated.body.refresh_token), 401, 'token_revoked');
    });
  });

  it('refuses an impossible reuseGrace at startup', async () => {
    let error: unknown;
    try {
      await startHarness({ tokens: { secret: SECRET, refreshTtl: '1h' }, rotation: { reuseGrace: '2h' } });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/rotation\.reuseGrace/);
  });
});
