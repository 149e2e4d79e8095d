import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import request from 'supertest';
import type { Knex } from 'knex';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { addMember, signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

/**
 * The statements of the paths whose cost must stay flat as tables grow (sign-in,
 * refresh, a guarded GET by API key, list members, the revocation list's load and
 * poll, the purge) are captured as they run, and each is explained: none may read a
 * whole table. On SQLite the planner's choice does not depend on row counts (no
 * ANALYZE), on PostgreSQL sequential scans are disabled for the EXPLAIN, so a
 * `Seq Scan` there means no index can serve the statement.
 *
 * `PRINT_PLANS=1` prints statement → plan (the table in docs/storage.md).
 */

const PATHS = ['sign-in', 'refresh', 'guarded GET (API key)', 'logout', 'list members', 'revocations: load', 'revocations: poll', 'purge'] as const;
type Path = (typeof PATHS)[number];
type Captured = Map<Path, Map<string, unknown[]>>;
/** No mail worker and no scheduled purge running in the background: only the paths' own statements are captured. */
const QUIET = { mail: { worker: { autoStart: false } }, purge: { enabled: false } };

/** Runs each path once on a harness, recording every statement issued while it runs. */
async function runPaths(h: Harness, captured: Captured, recording: { path: Path | null }): Promise<void> {
  const owner = await signupWithOrg(h.app);
  await addMember(h.app, owner);
  const key = await request(h.app).post('/auth/api-keys').set('Authorization', `Bearer ${owner.access}`).send({ name: 'plans', role: 'member' });
  expect(key.status).to.equal(201);
  const at = async (path: Path, run: () => Promise<unknown>) => {
    captured.set(path, new Map());
    recording.path = path;
    try {
      await run();
    } finally {
      recording.path = null;
    }
  };
  let refresh = '';
  let access = '';
  await at('sign-in', async () => {
    const res = await request(h.app).post('/auth/signin').send({ email: owner.email, password: 'correct horse battery' });
    expect(res.status).to.equal(200);
    refresh = res.body.refresh_token;
  });
  await at('refresh', async () => {
    const res = await request(h.app).post('/auth/refresh').send({ refresh_token: refresh });
    expect(res.status).to.equal(200);
    refresh = res.body.refresh_token;
    access = res.body.access_token;
  });
  await at('guarded GET (API key)', async () =>
    expect((await request(h.app).get('/api/hello').set('x-api-key', key.body.key).set('x-tenant-id', owner.orgId)).status).to.equal(200),
  );
  await at('logout', async () => {
    const res = await request(h.app).post('/auth/logout').set('Authorization', `Bearer ${access}`).send({ refresh_token: refresh });
    expect(res.status).to.be.oneOf([200, 204]);
  });
  await at('list members', async () => expect((await request(h.app).get(`/auth/orgs/${owner.orgId}/members`).set('Authorization', `Bearer ${owner.access}`)).status).to.equal(200));
  await h.storage.revocations.add({ kind: 'token', key: 'jti', expiresAt: Date.now() + 60_000, createdAt: Date.now() });
  await at('revocations: load', () => h.storage.revocations.listActive(Date.now()));
  await at('revocations: poll', () => h.storage.revocations.listSince('0'));
  await at('purge', async () => {
    const now = Date.now();
    await h.storage.jobs.claim('plans', 'me', now, now + 1000);
    for (const repo of [h.storage.revocations, h.storage.refreshTokens, h.storage.usedTokens, h.storage.mailTokens, h.storage.rateLimits]) await repo.purgeExpired(now, 5000);
  });
}

/** Statements whose plan matters: reads, updates and deletes (not plain inserts, transaction control or pragmas). */
function explainable(sql: string): boolean {
  return /^\s*(select|update|delete|with)\b/i.test(sql) || /^\s*insert\b[\s\S]*\bselect\b/i.test(sql);
}

function printPlans(db: string, plans: Array<{ path: Path; sql: string; plan: string }>): void {
  if (!process.env.PRINT_PLANS) return;
  for (const { path, sql, plan } of plans) process.stdout.write(`${db} | ${path} | ${sql.replace(/\s+/g, ' ')} | ${plan}\n`);
}

describe('query plans of the paths that must stay flat as data grows', function () {
  this.timeout(60_000);

  it('SQLite: every statement searches an index (no SCAN of a gatehouse table)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-plans-'));
    const captured: Captured = new Map();
    const recording: { path: Path | null } = { path: null };
    // Every statement on better-sqlite3 (knex's and the adapter's prepared ones) goes through prepare().
    const config: Knex.Config = {
      client: 'better-sqlite3',
      connection: { filename: join(dir, 'auth.sqlite') },
      useNullAsDefault: true,
      pool: {
        afterCreate(conn: { prepare(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          // Recorded when run, not when prepared: the adapter prepares its hot statements once per connection.
          const prepare = conn.prepare.bind(conn);
          conn.prepare = (sql: string) => {
            const statement = prepare(sql) as Record<string, unknown>;
            for (const method of ['get', 'all', 'run', 'iterate']) {
              const original = statement[method];
              if (typeof original !== 'function') continue;
              statement[method] = (...args: unknown[]) => {
                if (recording.path) captured.get(recording.path)!.set(sql, []);
                return (original as (...a: unknown[]) => unknown).apply(statement, args);
              };
            }
            return statement;
          };
          done(null, conn);
        },
      },
    };
    const h = await startHarness(QUIET, { storage: createKnexStorage(config) });
    try {
      await runPaths(h, captured, recording);
      const plans: Array<{ path: Path; sql: string; plan: string }> = [];
      const db = (h.storage.knex.client as { acquireConnection(): Promise<{ prepare(sql: string): { all(...p: unknown[]): Array<{ detail: string }> } }>; releaseConnection(c: unknown): Promise<void> });
      const conn = await db.acquireConnection();
      try {
        for (const path of PATHS) {
          expect(captured.get(path)?.size, `statements of ${path}`).to.be.greaterThan(0);
          for (const sql of captured.get(path)!.keys()) {
            if (!explainable(sql)) continue;
            const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => null);
            const plan = conn.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((row) => row.detail).join('; ');
            plans.push({ path, sql, plan });
          }
        }
      } finally {
        await db.releaseConnection(conn);
      }
      printPlans('sqlite', plans);
      const scans = plans.filter(({ plan }) => /(^|; )SCAN auth_/.test(plan));
      expect(scans, JSON.stringify(scans, null, 2)).to.deep.equal([]);
      expect(plans.length).to.be.greaterThan(10);
    } finally {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: every statement can use an index (no Seq Scan with sequential scans disabled)', async () => {
    const url = await createTestDatabase('query_plans');
    const captured: Captured = new Map();
    const recording: { path: Path | null } = { path: null };
    const storage: KnexStorage = createKnexStorage(pgConfig(url));
    storage.knex.on('query', (query: { sql: string; bindings?: unknown[] }) => {
      if (recording.path) captured.get(recording.path)!.set(query.sql, query.bindings ?? []);
    });
    const h = await startHarness(QUIET, { storage });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await runPaths(h, captured, recording);
      await client.query('SET enable_seqscan = off');
      const plans: Array<{ path: Path; sql: string; plan: string }> = [];
      for (const path of PATHS) {
        for (const [sql, bindings] of captured.get(path)!) {
          if (!explainable(sql)) continue;
          // knex's placeholders are `?`; pg wants $1, $2, …
          let n = 0;
          const text = sql.replace(/\?/g, () => `$${++n}`);
          const rows = (await client.query(`EXPLAIN ${text}`, bindings)).rows as Array<{ 'QUERY PLAN': string }>;
          plans.push({ path, sql, plan: rows.map((r) => r['QUERY PLAN'].trim()).join('; ') });
        }
      }
      printPlans('postgres', plans);
      const scans = plans.filter(({ plan }) => /Seq Scan on auth_/.test(plan));
      expect(scans, JSON.stringify(scans, null, 2)).to.deep.equal([]);
    } finally {
      await client.end();
      await h.close();
    }
  });
});
