import { expect } from 'chai';
import { generate } from 'otplib';
import type express from 'express';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { addMember, PASSWORD, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * Single use under real concurrency: two instances (two routers, two connection
 * pools) on one PostgreSQL database, with the racing requests split across them.
 * Every request runs its own transaction on its own connection, at READ COMMITTED.
 */
describe('races on PostgreSQL, across two instances', function () {
  this.timeout(60_000);
  let a: Harness;
  let b: Harness;
  let url: string;

  before(async () => {
    url = await createTestDatabase('http_races');
    // Strict rotation, as the refresh race below tests it; nothing else here refreshes.
    a = await startHarness({ rotation: { reuseGrace: 0 } }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
    b = await startHarness({ rotation: { reuseGrace: 0 } }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  /** Instance A for even indexes, B for odd ones. */
  const app = (i: number) => (i % 2 === 0 ? a.app : b.app);

  it('10 parallel refreshes of one token, strict (reuseGrace 0): exactly one 200, nine refresh_token_reused, the family revoked', async () => {
    // With the default grace the losers get the winner's pair instead: see refresh-grace.test.ts.
    const u = await signupWithOrg(a.app);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => request(app(i)).post('/auth/refresh').send({ refresh_token: u.refresh })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200), JSON.stringify(statuses)).to.have.length(1);
    expect(results.filter((r) => r.status === 401 && r.body.code === 'refresh_token_reused')).to.have.length(9);
    const winner = results.find((r) => r.status === 200)!.body;
    const next = await request(b.app).post('/auth/refresh').send({ refresh_token: winner.refresh_token });
    expect(next.status).to.equal(401);
    expect(next.body.code).to.equal('token_revoked');
    // Whichever instance revoked the family knows at once; the other after its next poll.
    await a.auth.services.sessions.pollRevocations();
    await b.auth.services.sessions.pollRevocations();
    for (const h of [a, b]) {
      const hello = await request(h.app).get('/api/hello').set(bearer(winner.access_token));
      expect(hello.status).to.equal(401);
      expect(hello.body.code).to.equal('token_revoked');
    }
  });

  it('6 parallel signups with one invitation code: exactly one 201, five invitation_used, no stray accounts', async () => {
    const owner = await signupWithOrg(a.app);
    const inv = await request(a.app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).send({ role: 'member' });
    expect(inv.status).to.equal(201);
    const emails = Array.from({ length: 6 }, () => `joiner-${unique()}@example.com`);
    const results = await Promise.all(
      emails.map((email, i) => request(app(i)).post('/auth/signup').send({ email, password: PASSWORD, action: 'join', invitationCode: inv.body.code })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201), JSON.stringify(statuses)).to.have.length(1);
    expect(results.filter((r) => r.status === 409 && r.body.code === 'invitation_used')).to.have.length(5);
    const members = await a.storage.memberships.listForOrg(owner.orgId);
    expect(members.map((m) => m.userId).sort()).to.deep.equal([owner.userId, results.find((r) => r.status === 201)!.body.id].sort());
    const users = await Promise.all(emails.map((e) => a.storage.users.findByEmail(e)));
    expect(users.filter((u) => u !== null)).to.have.length(1);
  });

  it('10 parallel uses of one recovery code: exactly one session, nine codes left', async () => {
    const user = await signupWithOrg(a.app);
    const setup = await request(a.app).post('/auth/mfa/totp/setup').set(bearer(user.access));
    expect(setup.status).to.equal(200);
    const code = await generate({ secret: setup.body.secret, epoch: Math.floor(Date.now() / 1000) });
    const enable = await request(a.app).post('/auth/mfa/totp/enable').set(bearer(user.access)).send({ code });
    expect(enable.status).to.equal(200);
    const recoveryCode: string = enable.body.recoveryCodes[0];
    const signin = await request(b.app).post('/auth/signin').send({ email: user.email, password: PASSWORD });
    expect(signin.status).to.equal(403);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => request(app(i)).post('/auth/mfa/verify').send({ mfa_token: signin.body.mfa_token, recoveryCode })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200), JSON.stringify(statuses)).to.have.length(1);
    // The losers are wrong codes now; after five of them the per-user MFA throttle answers instead.
    for (const r of results.filter((x) => x.status !== 200)) expect(r.body.code).to.be.oneOf(['invalid_mfa_code', 'too_many_attempts']);
    expect(await a.storage.mfa.countUnusedRecoveryCodes(user.userId)).to.equal(9);
  });

  it('50 sign-ins of members without a second factor while the owner requires one: none keeps a session in the org', async () => {
    const owner = await signupWithOrg(a.app);
    const setup = await request(a.app).post('/auth/mfa/totp/setup').set(bearer(owner.access));
    const enabled = await request(a.app).post('/auth/mfa/totp/enable').set(bearer(owner.access)).send({ code: await generate({ secret: setup.body.secret }) });
    expect(enabled.status, enabled.text).to.equal(200);
    const members: SignedUp[] = [];
    for (let i = 0; i < 50; i++) members.push(await addMember(a.app, owner));
    // A third instance whose clock stands still: the policy it caches (no second factor needed) stays cached.
    const frozen = Date.now();
    const c = await startHarness({ clock: { now: () => frozen } }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
    try {
      const on = (i: number) => (i % 2 === 0 ? a.app : c.app);
      expect((await request(c.app).post('/auth/signin').send({ email: members[0]!.email, password: PASSWORD })).status).to.equal(200);
      const signIn = (m: SignedUp, i: number) => request(on(i)).post('/auth/signin').send({ email: m.email, password: PASSWORD });
      // Half at the moment of the change, half right after it.
      const during = members.slice(0, 25).map(signIn);
      const changed = await request(a.app).patch(`/auth/orgs/${owner.orgId}/policy`).set(bearer(owner.access)).send({ requireMfa: true });
      expect(changed.status, changed.text).to.equal(200);
      const results = await Promise.all([...during, ...members.slice(25).map(signIn)]);
      // Each one signed in: in the org when stored before the change (which ended it), else in none.
      for (const r of results) expect(r.status, r.text).to.equal(200);
      const live = await a.storage.knex('auth_refresh_tokens').where({ org_id: owner.orgId }).whereIn('user_id', members.map((m) => m.userId)).whereNull('revoked_at');
      expect(live, `${live.length} sessions kept`).to.have.length(0);
    } finally {
      await c.close();
    }
  });

  it('50 members signing in while each is removed: none keeps a session in the org', async () => {
    const owner = await signupWithOrg(a.app);
    const members: SignedUp[] = [];
    for (let i = 0; i < 50; i++) members.push(await addMember(a.app, owner));
    const results = await Promise.all(
      members.flatMap((m, i) => [
        request(app(i)).post('/auth/signin').send({ email: m.email, password: PASSWORD }),
        request(app(i + 1)).delete(`/auth/orgs/${owner.orgId}/members/${m.userId}`).set(bearer(owner.access)),
      ]),
    );
    for (const r of results) expect(r.status, r.text).to.be.oneOf([200, 204]);
    const live = await a.storage.knex('auth_refresh_tokens').where({ org_id: owner.orgId }).whereIn('user_id', members.map((m) => m.userId)).whereNull('revoked_at');
    expect(live, `${live.length} sessions kept`).to.have.length(0);
  });

  it('50 API keys made by an admin while the owner removes them: none is left live', async () => {
    const owner = await signupWithOrg(a.app);
    const admin = await addMember(a.app, owner, 'admin');
    const makes = Array.from({ length: 50 }, (_, i) => request(app(i)).post('/auth/api-keys').set(bearer(admin.access)).send({ name: `key-${i}` }));
    const removal = request(a.app).delete(`/auth/orgs/${owner.orgId}/members/${admin.userId}`).set(bearer(owner.access));
    const [removed, ...results] = await Promise.all([removal, ...makes]);
    expect(removed!.status, removed!.text).to.equal(204);
    // Made before the removal (and revoked by it), or refused once the admin was gone.
    for (const r of results) expect(r.status, r.text).to.be.oneOf([201, 401, 403, 404]);
    const live = await a.storage.knex('auth_api_keys').where({ org_id: owner.orgId, created_by: admin.userId }).whereNull('revoked_at');
    expect(live, `${live.length} keys left live`).to.have.length(0);
  });

  it('50 invitations made by an admin while the owner removes them: none is left pending, and none is mailed', async () => {
    const owner = await signupWithOrg(a.app);
    const admin = await addMember(a.app, owner, 'admin');
    const emails = Array.from({ length: 50 }, (_, i) => `invitee-${i}-${unique()}@example.com`);
    const invites = emails.map((email, i) => request(app(i)).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(admin.access)).send({ email }));
    const removal = request(a.app).delete(`/auth/orgs/${owner.orgId}/members/${admin.userId}`).set(bearer(owner.access));
    const [removed, ...results] = await Promise.all([removal, ...invites]);
    expect(removed!.status, removed!.text).to.equal(204);
    // Made before the removal (and revoked by it), or refused once the admin was gone.
    for (const r of results) expect(r.status, r.text).to.be.oneOf([201, 401, 403, 404]);
    const pending = await a.storage.knex('auth_invitations').where({ org_id: owner.orgId, created_by: admin.userId }).whereNull('revoked_at').whereNull('used_at');
    expect(pending, `${pending.length} invitations left pending`).to.have.length(0);
    // A refused invitation queued no mail: one per invitation answered 201.
    const mailed = await a.storage.knex('auth_mail_outbox').whereIn('to', emails);
    expect(mailed).to.have.length(results.filter((r) => r.status === 201).length);
  });

  describe('application sign-ins (the axonize preset, on two more instances of the database)', () => {
    interface AppRace {
      owner: SignedUp;
      app: { id: string };
      members: SignedUp[];
      on: (i: number) => express.Express;
    }

    /** An org with an application and 50 members (given access to it unless `granted` is false), served by two axonize instances. */
    async function withAppMembers(run: (race: AppRace) => Promise<void>, granted = true): Promise<void> {
      const pg = () => ({ storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
      const x = await startHarness({ preset: 'axonize' }, pg());
      const y = await startHarness({ preset: 'axonize' }, pg());
      try {
        const owner = await signupWithOrg(a.app);
        const app = await x.auth.services.applications.register(owner.userId, owner.orgId, { name: 'Races', url: `https://races-${unique()}.example.com` });
        const members: SignedUp[] = [];
        for (let i = 0; i < 50; i++) {
          members.push(await addMember(a.app, owner));
          if (granted) await x.auth.services.applications.grant(owner.userId, owner.orgId, app.id, members[i]!.userId);
        }
        await run({ owner, app, members, on: (i) => (i % 2 === 0 ? x.app : y.app) });
      } finally {
        await x.close();
        await y.close();
      }
    }

    const login = (race: AppRace, i: number) =>
      request(race.on(i)).post('/auth/api/auth/login').set('appId', race.app.id).send({ email: race.members[i]!.email, password: PASSWORD }).then((r) => r);
    const later = <T>(ms: number, fn: () => PromiseLike<T>) => new Promise((resolve) => setTimeout(resolve, ms)).then(fn);

    /** No session of the members in the application is left, and the log has one entry per session handed out, each committed before `endedAt(entry)`. */
    async function expectNoneOutlived(race: AppRace, signIns: request.Response[], endedAt: (userId: string, log: Array<Record<string, unknown>>) => number): Promise<void> {
      // A sign-in before the change (ended by it) or after it (refused as any no-access is).
      for (const r of signIns) expect(r.status, r.text).to.be.oneOf([200, 401]);
      const ids = race.members.map((m) => m.userId);
      const live = await a.storage.knex('auth_refresh_tokens').where({ app_id: race.app.id }).whereIn('user_id', ids).whereNull('revoked_at');
      expect(live, `${live.length} sessions kept`).to.have.length(0);
      // The org's log is in commit order: each session was stored while access held.
      const log = await a.storage.knex('auth_audit_log').where({ org_id: race.owner.orgId }).orderBy('seq');
      const appSignIns = log.filter((e) => e.action === 'signin.succeeded' && JSON.parse(e.data).applicationId === race.app.id);
      expect(appSignIns).to.have.length(signIns.filter((r) => r.status === 200).length);
      const late = appSignIns.filter((e) => Number(e.seq) > endedAt(e.actor_id, log));
      expect(late, `${late.length} of ${appSignIns.length} sign-ins recorded after the change`).to.have.length(0);
    }

    it("50 sign-ins while each user's access is revoked: no session outlives its revocation, and none is on the log after it", async () => {
      await withAppMembers(async (race) => {
        // All sign-ins at once (they take a few hundred ms here); member i's revocation
        // i × 10 ms later, so the revocations land before, during and after their checks.
        const results = await Promise.all(
          race.members.flatMap((m, i) => [
            login(race, i),
            later(i * 10, () => request(race.on(i + 1)).delete(`/auth/api/applications/${race.app.id}/users/${m.userId}`).set(bearer(race.owner.access))),
          ]),
        );
        for (const r of results.filter((_, k) => k % 2 === 1)) expect(r.status, r.text).to.equal(204);
        await expectNoneOutlived(race, results.filter((_, k) => k % 2 === 0), (userId, log) =>
          Number(log.find((e) => e.action === 'application.access_revoked' && e.target_id === userId)!.seq),
        );
      });
    });

    it('50 members given access while each is removed: no access is left to a removed member', async () => {
      await withAppMembers(async (race) => {
        const results = await Promise.all(
          race.members.flatMap((m, i) => [
            request(race.on(i)).put(`/auth/api/applications/${race.app.id}/users/${m.userId}`).set(bearer(race.owner.access)),
            request(app(i + 1)).delete(`/auth/orgs/${race.owner.orgId}/members/${m.userId}`).set(bearer(race.owner.access)),
          ]),
        );
        for (const [k, r] of results.entries()) {
          if (k % 2 === 1) expect(r.status, r.text).to.equal(204);
          // Given before the removal (and taken away by it), or refused once the member was gone.
          else if (r.status !== 204) expect([r.status, r.body.code], r.text).to.deep.equal([404, 'member_not_found']);
        }
        const left = await a.storage.knex('auth_application_grants').where({ app_id: race.app.id });
        expect(left, `${left.length} grants left`).to.have.length(0);
      }, false);
    });

    it('50 sign-ins while the application is deleted: no session outlives it, and none is on the log after it', async () => {
      await withAppMembers(async (race) => {
        // Sign-ins every 2 ms, the deletion among them: those under way when it commits race it.
        const deleting = later(60, () => request(race.on(1)).delete(`/auth/api/applications/${race.app.id}`).set(bearer(race.owner.access)));
        const signIns = await Promise.all(race.members.map((_, i) => later(i * 2, () => login(race, i))));
        const deleted = await deleting;
        expect(deleted.status, deleted.text).to.equal(204);
        await expectNoneOutlived(race, signIns, (_, log) => Number(log.find((e) => e.action === 'application.deleted')!.seq));
      });
    });
  });

  describe('the last owner, with owners acting at the same moment on both instances', () => {
    const patch = (h: Harness, actor: SignedUp, orgId: string, userId: string, role: string) =>
      request(h.app).patch(`/auth/orgs/${orgId}/members/${userId}`).set(bearer(actor.access)).send({ role });
    const remove = (h: Harness, actor: SignedUp, orgId: string, userId: string) =>
      request(h.app).delete(`/auth/orgs/${orgId}/members/${userId}`).set(bearer(actor.access));

    it('two owners demoting each other: one 200, the other refused, one owner left (5 rounds)', async () => {
      for (let round = 0; round < 5; round += 1) {
        const x = await signupWithOrg(a.app);
        const y = await addMember(a.app, x, 'owner');
        const results = await Promise.all([patch(a, x, x.orgId, y.userId, 'member'), patch(b, y, x.orgId, x.userId, 'member')]);
        const statuses = results.map((r) => r.status);
        expect(statuses.filter((s) => s === 200), JSON.stringify(results.map((r) => r.body))).to.have.length(1);
        // Refused as no longer an owner (the other demotion committed first) or as the last owner.
        expect(results.find((r) => r.status !== 200)?.body.code).to.be.oneOf(['forbidden', 'last_owner']);
        expect(await a.storage.memberships.countOwners(x.orgId)).to.equal(1);
      }
    });

    it('two owners leaving: one 204, the other 409 last_owner, one owner left (5 rounds)', async () => {
      for (let round = 0; round < 5; round += 1) {
        const x = await signupWithOrg(a.app);
        const y = await addMember(a.app, x, 'owner');
        const results = await Promise.all([remove(a, x, x.orgId, x.userId), remove(b, y, x.orgId, y.userId)]);
        expect(results.map((r) => r.status).sort()).to.deep.equal([204, 409]);
        expect(results.find((r) => r.status === 409)?.body.code).to.equal('last_owner');
        expect(await a.storage.memberships.countOwners(x.orgId)).to.equal(1);
      }
    });
  });
});
