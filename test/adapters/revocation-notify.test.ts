import { expect } from 'chai';
import pg from 'pg';
import request from 'supertest';
import type { Knex } from 'knex';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { signin, signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';
import { eventually } from '../helpers/eventually.js';
import { createTestDatabase, freePort, pgConfig } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const withKey = (key: string, tenant: string) => ({ 'X-API-Key': key, 'X-Tenant-Id': tenant });

/** What the LISTEN connection calls itself (adapters/knex/revocation-notify.ts). */
const LISTEN_APP = 'gatehouse-revocations';

/** "Well under the poll interval": the one timing assertion the suite makes (issue 16). */
const FAST_MS = 1_000;

/** Asks `check` every 5 ms until it holds; resolves with the milliseconds it took, or fails after `ms`. */
async function timeUntil(check: () => Promise<boolean>, ms: number, what: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const refusedWith = (h: Harness, headers: Record<string, string>) => async () => {
  const res = await request(h.app).get('/api/hello').set(headers);
  if (res.status === 200) return false;
  expect(res.status, res.text).to.equal(401);
  return true;
};

/** Revocations made on A, watched from B on the same PostgreSQL database, with B's poll interval far away. */
describe('revocations pushed across instances (PostgreSQL LISTEN/NOTIFY)', function () {
  this.timeout(60_000);
  let url: string;
  let admin: pg.Client;

  /** Backends of `LISTEN gatehouse_revocations` on this suite's database. */
  async function listeners(): Promise<number[]> {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND query ILIKE 'LISTEN%'`,
      [LISTEN_APP],
    );
    return rows.map((r) => r.pid);
  }

  before(async () => {
    url = await createTestDatabase('revocation_notify');
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });
  after(async () => {
    await admin?.end();
  });

  describe('with the poll interval at 30 s', () => {
    let a: Harness;
    let b: Harness;

    before(async () => {
      const revocation = { pollInterval: '30s', maxStaleness: '90s' } as const;
      // A does not listen: its own revocations apply to it at once, and B's LISTEN is then the only one.
      a = await startHarness({ revocation }, { storage: createKnexStorage(pgConfig(url), { revocationNotify: false }) });
      // Not waiting for B's LISTEN to be up: once it is, B polls to catch up on anything before.
      b = await startHarness({ revocation }, { storage: createKnexStorage(pgConfig(url)) });
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    it('a logout on A (its token and session) is refused on B well under the poll interval', async () => {
      const user = await signupWithOrg(a.app);
      expect((await request(b.app).get('/api/hello').set(bearer(user.access))).status).to.equal(200);
      const logout = await request(a.app).post('/auth/logout').set(bearer(user.access)).send({ refresh_token: user.refresh });
      expect(logout.status).to.equal(204);
      const ms = await timeUntil(refusedWith(b, bearer(user.access)), 5_000, 'B to refuse the logged-out token');
      expect(ms).to.be.below(FAST_MS);
      const res = await request(b.app).get('/api/hello').set(bearer(user.access));
      expect(res.body.code).to.equal('token_revoked');
    });

    it('a session ended from another session on A (a family) is refused on B well under the poll interval', async () => {
      const user = await signupWithOrg(a.app);
      const other = await signin(a.app, user.email);
      expect((await request(b.app).get('/api/hello').set(bearer(other.access))).status).to.equal(200);
      const list = await request(a.app).get('/auth/sessions').set(bearer(user.access));
      const target = (list.body.sessions as Array<{ id: string; current: boolean }>).find((s) => !s.current);
      expect(target, JSON.stringify(list.body)).to.not.equal(undefined);
      expect((await request(a.app).delete(`/auth/sessions/${target!.id}`).set(bearer(user.access))).status).to.equal(204);
      const ms = await timeUntil(refusedWith(b, bearer(other.access)), 5_000, 'B to refuse the ended session');
      expect(ms).to.be.below(FAST_MS);
      // The session that ended the other one still works on B.
      expect((await request(b.app).get('/api/hello').set(bearer(user.access))).status).to.equal(200);
    });

    it('an API key revoked on A is refused on B well under the poll interval', async () => {
      const owner = await signupWithOrg(a.app);
      const created = await request(a.app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'ci' });
      expect(created.status, created.text).to.equal(201);
      const headers = withKey(created.body.key, owner.orgId);
      // B verifies (and caches) the key first, so only the revocation can end it there.
      expect((await request(b.app).get('/api/hello').set(headers)).status).to.equal(200);
      expect((await request(a.app).delete(`/auth/api-keys/${created.body.id}`).set(bearer(owner.access))).status).to.equal(204);
      const ms = await timeUntil(refusedWith(b, headers), 5_000, 'B to refuse the revoked API key');
      expect(ms).to.be.below(FAST_MS);
    });
  });

  describe('when B loses its LISTEN connection', () => {
    let a: Harness;
    let b: Harness;
    let refusing = false;
    let deadPort: number;
    const logs: string[] = [];

    before(async () => {
      deadPort = await freePort();
      // A knex connection provider: knex's pool calls it once and keeps the settings, the
      // LISTEN connection calls it on every reconnect. While `refusing`, it names a port
      // nothing listens on, so B's LISTEN stays down until the test lets it back.
      const settings = pgConfig(url).connection as Knex.PgConnectionConfig;
      const provider = async (): Promise<Knex.PgConnectionConfig> => (refusing ? { ...settings, connectionString: `postgres://127.0.0.1:${deadPort}/none` } : settings);
      a = await startHarness({ revocation: { pollInterval: '30s', maxStaleness: '90s' } }, { storage: createKnexStorage(pgConfig(url), { revocationNotify: false }) });
      b = await startHarness(
        {
          revocation: { pollInterval: '1s', maxStaleness: '60s' },
          logger: { warn: (m) => void logs.push(m), error: (m) => void logs.push(m), info: (m) => void logs.push(m) },
        },
        { storage: createKnexStorage(pgConfig(url, { connection: provider })) },
      );
      await eventually(async () => (await listeners()).length === 1, 10_000, "B's LISTEN connection");
    });
    after(async () => {
      refusing = false;
      await a?.close();
      await b?.close();
    });

    it('keeps up by polling meanwhile, reconnects, and is fast again', async () => {
      const before = await signupWithOrg(a.app);
      const during = await signin(a.app, before.email);
      const afterwards = await Promise.all([signin(a.app, before.email), signin(a.app, before.email), signin(a.app, before.email)]);
      for (const t of [before.access, during.access, ...afterwards.map((s) => s.access)]) {
        expect((await request(b.app).get('/api/hello').set(bearer(t))).status).to.equal(200);
      }

      refusing = true;
      const [pid] = await listeners();
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await eventually(() => logs.some((m) => m.includes('notifications lost')), 5_000, 'B to log the lost LISTEN connection');

      // Made while nobody listens: B's 1 s poll brings it.
      expect((await request(a.app).post('/auth/logout').set(bearer(during.access)).send({})).status).to.equal(204);
      await timeUntil(refusedWith(b, bearer(during.access)), 5_000, 'B to refuse, by polling, a token logged out while LISTEN was down');
      expect(await listeners()).to.deep.equal([]);

      // Let it back: the reconnect (at most 5 s of backoff away) catches up and listens again.
      refusing = false;
      await eventually(async () => (await listeners()).length === 1, 10_000, 'B to LISTEN again');
      await eventually(() => logs.some((m) => m.includes('notifications are back')), 5_000, 'B to log the recovery');
      for (const next of afterwards) {
        expect((await request(a.app).post('/auth/logout').set(bearer(next.access)).send({})).status).to.equal(204);
        const ms = await timeUntil(refusedWith(b, bearer(next.access)), 5_000, 'B to refuse a token logged out after the reconnect');
        expect(ms).to.be.below(300);
      }
      // Once each, however many reconnect attempts failed in between.
      expect(logs.filter((m) => m.includes('notifications lost'))).to.have.length(1);
      expect(logs.filter((m) => m.includes('notifications are back'))).to.have.length(1);
      expect((await request(b.app).get('/api/hello').set(bearer(before.access))).status).to.equal(200);
    });

    it('auth.close() ends the LISTEN connection', async () => {
      expect(await listeners()).to.have.length(1);
      await b.auth.close();
      await eventually(async () => (await listeners()).length === 0, 5_000, 'the LISTEN backend to go away');
    });
  });

  it('a router closed right after it is ready closes at once, its LISTEN connection still opening', async () => {
    for (let i = 0; i < 5; i++) {
      const h = await startHarness({}, { storage: createKnexStorage(pgConfig(url)) });
      const started = Date.now();
      await h.close();
      expect(Date.now() - started, `close took ${Date.now() - started} ms`).to.be.below(3_000);
    }
    await eventually(async () => (await listeners()).length === 0, 5_000, 'no LISTEN backend left');
  });

  describe('the knex adapter', () => {
    it('offers revocation notifications on PostgreSQL only, unless turned off', async () => {
      const onPg = createKnexStorage(pgConfig(url));
      const off = createKnexStorage(pgConfig(url), { revocationNotify: false });
      const sqlite = createKnexStorage({ filename: ':memory:' });
      try {
        expect(onPg.watchRevocations).to.be.a('function');
        expect(off.watchRevocations).to.equal(undefined);
        expect(sqlite.watchRevocations).to.equal(undefined);
      } finally {
        await Promise.all([onPg.close(), off.close(), sqlite.close()]);
      }
    });

    it('rejects a revocationNotify that is not a boolean', () => {
      expect(() => createKnexStorage(pgConfig(url), { revocationNotify: 'yes' as unknown as boolean })).to.throw(TypeError, /revocationNotify must be true or false/);
    });

    it('announces only committed revocations, to the listeners of its own table prefix', async () => {
      const storage = createKnexStorage(pgConfig(url));
      const other = createKnexStorage(pgConfig(url), { tablePrefix: 'other_' });
      const seen: string[] = [];
      let listening = 0;
      const stop = storage.watchRevocations!({ onChange: () => seen.push('auth_'), onState: (s) => void (s === 'listening' && (listening += 1)) });
      const stopOther = other.watchRevocations!({ onChange: () => seen.push('other_') });
      try {
        await storage.init();
        await other.init();
        await eventually(() => listening === 1, 10_000, 'the listener to be listening');
        const entry = { kind: 'token', key: 'rolled-back', expiresAt: Date.now() + 60_000, createdAt: Date.now() } as const;
        await storage
          .transaction(async (tx) => {
            await tx.revocations.add(entry);
            throw new Error('roll back');
          })
          .catch(() => {});
        await storage.revocations.add({ ...entry, key: 'committed' });
        await eventually(() => seen.length > 0, 5_000, 'a notification');
        // A notification for the rolled-back insert would have arrived first (NOTIFY is delivered in commit order).
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(seen).to.deep.equal(['auth_']);
      } finally {
        await stop();
        await stopOther();
        await storage.close();
        await other.close();
      }
    });
  });
});
