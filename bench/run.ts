/**
 * `npm run bench`: starts the example server (bench/server.ts) in a child process and
 * measures gatehouse against a bare Express route of the same server, then checks
 * the targets of the performance issue. See docs/benchmarks.md.
 *
 * Environment (all optional): BENCH_DURATION (s per scenario, default 10),
 * BENCH_WARMUP (s, default 2), BENCH_ROUNDS (rounds of each ratio scenario, each paired with a bare one, default 6),
 * BENCH_ROUND_SECONDS (s per round, default BENCH_DURATION / 5, at least 1), BENCH_CONNECTIONS (default 50),
 * BENCH_SIGNIN_CONNECTIONS (default 20), BENCH_BCRYPT_SECONDS (default 3),
 * BENCH_ONLY (comma-separated scenario and section keys; the bare reference always runs),
 * BENCH_SERVER_FLAGS (Node flags of the server; default none, see DEFAULT_SERVER_FLAGS),
 * BENCH_SECTION_TIMEOUT (s each section may take, default 900),
 * BENCH_STRICT=1 (exit 1 when a target fails).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import bcrypt from 'bcryptjs';
import type autocannon from 'autocannon';
import { runLoad, startLoad, type LoadOptions, type LoadSummary } from './load.js';
import { EXAMPLE_APP_FILES, removeBuild, transpileToDist } from './build-server.js';
import { call, cpuSeconds, num, stopChild } from './process.js';
import { benchHashers } from './hashers.js';
import { benchOutside } from './outside.js';
import { benchRevocationLatency } from './revocation-latency.js';
import { benchScale } from './scale.js';
import { bareFirst, median, pairRatios, pairUp, roundSettings, type RatioSummary } from './rounds.js';
import { figure, targetLine, type BenchSection, type Target } from './section.js';

const here = import.meta.dirname;

const config = {
  duration: num('BENCH_DURATION', 10),
  warmup: num('BENCH_WARMUP', 2),
  connections: num('BENCH_CONNECTIONS', 50),
  signinConnections: num('BENCH_SIGNIN_CONNECTIONS', 20),
  bcryptSeconds: num('BENCH_BCRYPT_SECONDS', 3),
  bcryptCost: 10,
  // The ratio scenarios are measured in rounds paired with rounds of the bare route (bench/rounds.ts says why).
  ...roundSettings(num('BENCH_DURATION', 10), 6),
};
/** The Bearer scenario runs as two halves (for the memory check between them), each of this many rounds. */
const bearerHalf = Math.ceil(config.rounds / 2);
/**
 * Node flags of the server process: none, so memory is measured as a host running Node
 * with its defaults sees it. The memory target is what gatehouse adds over the bare route
 * of the same server (peak RSS guarded minus bare), which does not depend on how the host
 * tunes the heap. BENCH_SERVER_FLAGS sets others, for example
 * '--heap-growing-percent=20 --max-semi-space-size=8' to keep the heap near its live size.
 * (`--expose-gc` is always added: the after-GC readings need it; it changes no heap sizing.)
 */
const DEFAULT_SERVER_FLAGS = '';
const serverFlags = (process.env.BENCH_SERVER_FLAGS ?? DEFAULT_SERVER_FLAGS).split(/\s+/).filter(Boolean);
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
const wanted = (key: string) => !only || only.has(key);

// Nothing here may run unbounded: a hung server or client ends the run.
// Single runs: bare (start, end), signin, mixed; rounds: a bare one per scenario one.
const SINGLE_RUNS = 4;
const BLOCKS = 5;
const ROUND_RUNS = 2 * (2 * bearerHalf) + 3 * (2 * config.rounds);
const budgetSeconds =
  SINGLE_RUNS * (config.warmup + config.duration + 6) +
  2 * config.warmup +
  BLOCKS * (config.warmup + 6) +
  ROUND_RUNS * (config.roundSeconds + 4) +
  30 +
  config.bcryptSeconds +
  90;
const watchdog = setTimeout(() => {
  console.error(`bench: still running after ${budgetSeconds} s; giving up`);
  server?.kill('SIGKILL');
  process.exit(2);
}, budgetSeconds * 1000);
watchdog.unref();

/**
 * Benchmarks beside this file (bench/<name>.ts, each `async function bench…(): Promise<BenchSection>`),
 * run one after another once the server scenarios are done and their server has stopped.
 * Each prints its title and lines; its targets join the PASS/FAIL list and its data goes
 * into latest.json under its title. `key` is what BENCH_ONLY selects it by.
 */
const sections: Array<{ key: string; run: () => Promise<BenchSection> }> = [
  { key: 'revocation', run: benchRevocationLatency },
  { key: 'hashers', run: benchHashers },
  { key: 'outside', run: benchOutside },
  // Seeds a million rows on two databases: minutes, so only when asked for.
  ...(process.env.BENCH_SCALE === '1' ? [{ key: 'scale', run: benchScale }] : []),
];
const sectionTimeoutSeconds = num('BENCH_SECTION_TIMEOUT', 900);

interface Row {
  key: string;
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** rps / bare reference rps; for a scenario measured in rounds, the median of its pairs' ratios. */
  ratio: number | null;
  /** Peak VmRSS of the server process during the measured part, MB. */
  peakRssMb: number | null;
  /** CPU time the server process (all its threads) spent per response, µs: a load-independent view of cost. */
  cpuPerRequestUs: number | null;
  note?: string;
  /** A scenario measured in rounds paired with rounds of the bare route: the pairs and their ratios. */
  alternating?: Alternating;
}

/** One measured run: a single one, or one round of a scenario or of the bare route beside it. */
interface Run {
  key: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Responses, 2xx and others: what CPU time is divided by. */
  responses: number;
  cpuSeconds: number | null;
  /** CPU time of this process (autocannon, the client) during the run. */
  clientCpuSeconds: number;
  peakRssMb: number | null;
  /** For a round: the number of its pair (a scenario round and a bare round), counted over the scenario. */
  pair?: number;
}

interface Alternating extends RatioSummary {
  rounds: number;
  roundSeconds: number;
  /** The bare rounds paired with the scenario's, taken together. */
  bare: { rps: number; cpuPerRequestUs: number | null; meanPeakRssMb: number | null };
  /** Mean of the scenario rounds' peak RSS, MB (the row's peakRssMb is the highest). */
  meanPeakRssMb: number | null;
  /** The rounds in pairs of alternating order (bare X, X bare, …), as they ran. */
  runs: Run[];
}

// ---------------------------------------------------------------- machine

function machine() {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // Not Linux: os.cpus() it is.
  }
  return {
    cores: availableParallelism(),
    cpuModel,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
}

// ---------------------------------------------------------------- bcrypt reference

/** bcryptjs compares per second on one core, sequential and synchronous: the baseline for sign-ins per second. */
function bcryptSingleCore(): { perSecond: number; compares: number; seconds: number } {
  const password = 'correct horse battery staple';
  const hash = bcrypt.hashSync(password, config.bcryptCost);
  bcrypt.compareSync(password, hash); // warm up the JIT
  const started = performance.now();
  let compares = 0;
  while (performance.now() - started < config.bcryptSeconds * 1000 || compares < 3) {
    if (!bcrypt.compareSync(password, hash)) throw new Error('bcrypt reference: compare failed');
    compares += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: compares / seconds, compares, seconds };
}

// ---------------------------------------------------------------- server process

let server: ChildProcess | undefined;

/**
 * The server runs as plain JavaScript on the built package (dist/), as it would in
 * production (bench/build-server.ts says why): bench/server.ts and example-app/app.ts
 * are transpiled into dist/.bench/.
 */
const BUILD_OUT = '.bench';

function transpileServer(): string {
  return join(transpileToDist({ files: ['bench/server.ts', ...EXAMPLE_APP_FILES], outDir: BUILD_OUT }), 'bench', 'server.js');
}

function startServer(dir: string, secret: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(transpileServer(), [], {
    execArgv: ['--expose-gc', ...serverFlags],
    env: { ...process.env, BENCH_DATABASE: join(dir, 'bench.sqlite'), AUTH_SECRET: secret, BCRYPT_COST: String(config.bcryptCost), BENCH_HASHER: 'js' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  server = child;
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error('bench server did not start within 60 s')), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench server exited with code ${code} before listening`));
    });
    child.on('message', (message: { type: string; port?: number }) => {
      if (message.type === 'listening' && message.port) {
        clearTimeout(timer);
        resolveStart({ child, port: message.port });
      }
    });
  });
}

/** The server's process.memoryUsage() right after a full GC. */
function serverMemory(child: ChildProcess): Promise<NodeJS.MemoryUsage> {
  return new Promise((resolveUsage, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error('bench server did not report its memory'));
    }, 10_000);
    const onMessage = (message: { type: string; usage?: NodeJS.MemoryUsage }) => {
      if (message.type !== 'memory' || !message.usage) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolveUsage(message.usage);
    };
    child.on('message', onMessage);
    child.send({ type: 'memory' });
  });
}

/**
 * The server's memory once it has settled: with Node's default flags RSS right after a
 * full GC still holds pages V8 and the allocator give back only later (readings moved by
 * 50 MB with a flat heap). Of a few readings, after GCs 0.5 s apart, the one with the
 * least RSS: a leak keeps even that one up.
 */
async function settledMemory(child: ChildProcess): Promise<NodeJS.MemoryUsage> {
  let least = await serverMemory(child);
  for (let i = 0; i < 4; i += 1) {
    await new Promise((done) => setTimeout(done, 500));
    const usage = await serverMemory(child);
    if (usage.rss < least.rss) least = usage;
  }
  return least;
}

/**
 * Samples VmRSS of the server from /proc while load runs, and the CPU time it used
 * (Linux; elsewhere these columns stay empty).
 */
class RssSampler {
  private peakKb = 0;
  private cpuStart: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pid: number) {}

  static field(pid: number, name: 'VmRSS' | 'VmHWM'): number | null {
    try {
      const match = new RegExp(`^${name}:\\s*(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return match?.[1] ? Number(match[1]) : null;
    } catch {
      return null;
    }
  }

  start(): void {
    this.peakKb = 0;
    this.cpuStart = cpuSeconds(this.pid);
    const sample = () => {
      const kb = RssSampler.field(this.pid, 'VmRSS');
      if (kb !== null && kb > this.peakKb) this.peakKb = kb;
    };
    sample();
    this.timer = setInterval(sample, 200);
  }

  stop(): { peakRssMb: number | null; cpuSeconds: number | null } {
    if (this.timer) clearInterval(this.timer);
    const kb = RssSampler.field(this.pid, 'VmRSS');
    if (kb !== null && kb > this.peakKb) this.peakKb = kb;
    const cpuEnd = cpuSeconds(this.pid);
    return {
      peakRssMb: this.peakKb > 0 ? this.peakKb / 1024 : null,
      cpuSeconds: cpuEnd !== null && this.cpuStart !== null ? cpuEnd - this.cpuStart : null,
    };
  }
}

// ---------------------------------------------------------------- HTTP fixtures

interface Fixtures {
  email: string;
  password: string;
  userId: string;
  orgId: string;
  access: string;
  apiKey: string;
}

async function seed(base: string): Promise<Fixtures> {
  const id = randomBytes(4).toString('hex');
  const email = `bench-${id}@example.com`;
  const password = 'correct horse battery staple';
  const user = await call(base, 'POST', '/auth/signup', { email, password, action: 'create', orgCreateProps: { name: `Bench ${id}`, slug: `bench-${id}` } });
  const pair = await call(base, 'POST', '/auth/signin', { email, password });
  const access = String(pair.access_token);
  const key = await call(base, 'POST', '/auth/api-keys', { name: 'bench' }, { authorization: `Bearer ${access}` });
  const fixtures = { email, password, userId: String(user.id), orgId: String(user.organizationId), access, apiKey: String(key.key) };
  // Every credential works before any load is put on it.
  await call(base, 'GET', '/api/hello', undefined, { authorization: `Bearer ${access}` });
  await call(base, 'GET', '/api/hello', undefined, { 'x-api-key': fixtures.apiKey, 'x-tenant-id': fixtures.orgId });
  await call(base, 'GET', '/auth/iot-credentials', undefined, { 'x-api-key': fixtures.apiKey, 'x-tenant-id': fixtures.orgId });
  return fixtures;
}

/** Signs up `count` accounts for the sign-in load; returns their sign-in bodies. */
async function signinAccounts(base: string, count: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = randomBytes(4).toString('hex');
    const credentials = { email: `bench-signin-${id}@example.com`, password: 'correct horse battery staple' };
    await call(base, 'POST', '/auth/signup', { ...credentials, action: 'create', orgCreateProps: { name: `Bench ${id}`, slug: `bench-${id}` } });
    bodies.push(JSON.stringify(credentials));
  }
  return bodies;
}

async function mintRefreshTokens(base: string, userId: string, count: number): Promise<string[]> {
  const body = await call(base, 'GET', `/bench/sessions?user=${encodeURIComponent(userId)}&count=${count}`);
  return body.refresh_tokens as string[];
}

// A JWT is base64url segments and dots: nothing in it needs JSON escaping.
const REFRESH_TOKEN_FIELD = /"refresh_token":"([A-Za-z0-9_.-]+)"/;

/**
 * Each connection rotates its own refresh family: the next request carries the token
 * the last 200 returned. The client runs in this process, beside the server on the
 * same machine, so it does as little as it can: a regular expression, not JSON.parse.
 */
function refreshChain(tokens: string[]): (client: autocannon.Client) => void {
  return (client) => {
    const state = { token: tokens.pop() ?? 'none-left' };
    client.setRequests([
      {
        method: 'POST',
        path: '/auth/refresh',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: `{"refresh_token":"${state.token}"}` }),
        onResponse: (status, body) => {
          const next = status === 200 ? REFRESH_TOKEN_FIELD.exec(body)?.[1] : undefined;
          if (next) state.token = next;
        },
      },
    ]);
  };
}

// ---------------------------------------------------------------- main

/** Server CPU µs per response (successes and failures alike: both cost work). */
function perRequest(cpuSeconds: number | null, result: LoadSummary): number | null {
  const responses = result.ok + result.non2xx;
  return cpuSeconds === null || responses === 0 ? null : (cpuSeconds * 1e6) / responses;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  const info = machine();
  console.log(`gatehouse bench: ${info.cores} cores, ${info.cpuModel}, Node ${info.node}, ${info.date}`);
  console.log(
    `  ${config.duration} s per scenario after ${config.warmup} s warm-up; bearer, api-key, iot, refresh: ${config.rounds} rounds of ${config.roundSeconds} s, each paired with a bare one (Bearer: 2 x ${bearerHalf}); ${config.connections} connections (${config.signinConnections} for sign-in), bcrypt cost ${config.bcryptCost}`,
  );
  console.log(`  server: node ${serverFlags.join(' ') || '(default flags)'}, on dist/ (the built package)`);

  console.log(`- bcryptjs compare on one core, in process (${config.bcryptSeconds} s)…`);
  const reference = bcryptSingleCore();
  console.log(`  ${fmt(reference.perSecond, 2)} compares/s`);

  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const secret = randomBytes(48).toString('base64');
  const { child, port } = await startServer(dir, secret);
  const base = `http://127.0.0.1:${port}`;
  const pid = child.pid as number;
  const sampler = new RssSampler(pid);
  const rows: Row[] = [];
  const memory: Record<string, NodeJS.MemoryUsage> = {};
  const targets: Target[] = [];
  let results: Record<string, unknown> = {};

  try {
    const fx = await seed(base);
    const bearer = { authorization: `Bearer ${fx.access}` };
    const byKey = { 'x-api-key': fx.apiKey, 'x-tenant-id': fx.orgId };
    const load = (path: string, extra: Partial<LoadOptions> = {}): LoadOptions => ({
      url: base + path,
      connections: config.connections,
      duration: config.duration,
      ...extra,
    });

    /**
     * Every measured run in order, singles and rounds alike: a single run's ratio is
     * against the bare runs nearest to it in time.
     */
    const timeline: Run[] = [];
    const singleAt = new Map<Row, number>();

    /** One measured run with RSS and CPU sampled; `make` builds fresh options per run. */
    async function run(key: string, make: () => Promise<LoadOptions> | LoadOptions, duration: number, pair?: number): Promise<{ run: Run; result: LoadSummary }> {
      const options = await make();
      sampler.start();
      const client = process.cpuUsage();
      const result = await runLoad({ ...options, duration });
      const clientUsed = process.cpuUsage(client);
      const { peakRssMb, cpuSeconds } = sampler.stop();
      const measured: Run = {
        key,
        rps: result.rps,
        p50: result.p50,
        p99: result.p99,
        errors: result.errors,
        responses: result.ok + result.non2xx,
        cpuSeconds,
        clientCpuSeconds: (clientUsed.user + clientUsed.system) / 1e6,
        peakRssMb,
        ...(pair === undefined ? {} : { pair }),
      };
      timeline.push(measured);
      return { run: measured, result };
    }

    /** Warm-up (discarded), then one measured run of `config.duration`. */
    async function measure(
      key: string,
      name: string,
      make: () => Promise<LoadOptions> | LoadOptions,
      settle: () => Promise<unknown> = async () => {},
    ): Promise<LoadSummary> {
      process.stdout.write(`- ${name}…`);
      // The first run of the fresh server also warms the JIT and grows the heap to its working size: three warm-ups.
      const warmup = rows.length === 0 ? 3 * config.warmup : config.warmup;
      if (warmup > 0) {
        await runLoad({ ...(await make()), duration: warmup });
        await settle();
      }
      const { run: measured, result } = await run(key, make, config.duration);
      await settle();
      const row: Row = {
        key,
        name,
        rps: result.rps,
        p50: result.p50,
        p99: result.p99,
        errors: result.errors,
        ratio: null,
        peakRssMb: measured.peakRssMb,
        cpuPerRequestUs: perRequest(measured.cpuSeconds, result),
      };
      rows.push(row);
      singleAt.set(row, timeline.length - 1);
      console.log(` ${fmt(result.rps)} req/s, p99 ${result.p99} ms, ${result.errors} errors`);
      return result;
    }

    const bareLoad = () => load('/bench/bare');
    /**
     * Warm-up of the scenario (discarded), then `rounds` pairs of a round of it and a round
     * of the bare route on the same server, the order flipping from pair to pair: bare X,
     * X bare, bare X, … (bench/rounds.ts says why). `firstPair` continues the order of an
     * earlier block of the same scenario.
     */
    async function alternate(key: string, name: string, make: () => Promise<LoadOptions> | LoadOptions, rounds: number, firstPair = 0): Promise<Row> {
      process.stdout.write(`- ${name}, ${rounds} rounds of ${config.roundSeconds} s paired with bare ones…`);
      if (config.warmup > 0) await runLoad({ ...(await make()), duration: config.warmup });
      const runs: Run[] = [];
      for (let pair = firstPair; pair < firstPair + rounds; pair += 1) {
        const bare = async () => runs.push((await run('bare', bareLoad, config.roundSeconds, pair)).run);
        const scenario = async () => runs.push((await run(key, make, config.roundSeconds, pair)).run);
        if (bareFirst(pair)) {
          await bare();
          await scenario();
        } else {
          await scenario();
          await bare();
        }
      }
      const own = runs.filter((r) => r.key === key);
      const bare = runs.filter((r) => r.key === 'bare');
      const ratios = pairRatios(pairsOf(runs), (r) => r.rps);
      const row: Row = {
        key,
        name,
        rps: meanOf(own.map((r) => r.rps)),
        p50: median(own.map((r) => r.p50)),
        p99: median(own.map((r) => r.p99)),
        errors: own.reduce((n, r) => n + r.errors, 0),
        ratio: ratios.median,
        peakRssMb: maxOrNull(own.map((r) => r.peakRssMb)),
        cpuPerRequestUs: cpuPerResponse(own),
        alternating: {
          ...ratios,
          rounds,
          roundSeconds: config.roundSeconds,
          bare: { rps: meanOf(bare.map((r) => r.rps)), cpuPerRequestUs: cpuPerResponse(bare), meanPeakRssMb: meanOrNull(bare.map((r) => r.peakRssMb)) },
          meanPeakRssMb: meanOrNull(own.map((r) => r.peakRssMb)),
          runs,
        },
      };
      rows.push(row);
      console.log(` ${fmt(row.rps)} req/s, ${ratios.median.toFixed(2)} (${ratios.min.toFixed(2)}-${ratios.max.toFixed(2)}) of bare, ${row.errors} errors`);
      return row;
    }

    const bareStart = await measure('bare', 'bare Express route (reference, start)', bareLoad);

    let guardedIdleRps: number | undefined;
    if (wanted('bearer')) {
      // Two halves, with the server's settled memory before, between and after them: the RSS-growth check.
      memory.beforeGuarded = await settledMemory(child);
      const first = await alternate('bearer', 'guarded GET, Bearer token', () => load('/api/hello', { headers: bearer }), bearerHalf);
      memory.afterGuarded1 = await settledMemory(child);
      const second = await alternate('bearer-repeat', 'guarded GET, Bearer token (repeat)', () => load('/api/hello', { headers: bearer }), bearerHalf, bearerHalf);
      memory.afterGuarded2 = await settledMemory(child);
      // The mixed scenario's idle reference: the mean of the Bearer rounds.
      guardedIdleRps = (first.rps + second.rps) / 2;
    }
    if (wanted('api-key')) await alternate('api-key', 'guarded GET, API key + X-Tenant-Id', () => load('/api/hello', { headers: byKey }), config.rounds);
    if (wanted('iot')) await alternate('iot', 'GET /auth/iot-credentials, API key', () => load('/auth/iot-credentials', { headers: byKey }), config.rounds);
    if (wanted('refresh')) {
      // Fresh refresh families for every round: a round ends with rotations in flight, whose successors the client never sees.
      await alternate(
        'refresh',
        'POST /auth/refresh (rotation)',
        async () => load('/auth/refresh', { method: 'POST', setupClient: refreshChain(await mintRefreshTokens(base, fx.userId, config.connections)) }),
        config.rounds,
      );
    }
    // One account per connection: the throttle lets one (account, IP) pair have only 5
    // sign-ins in flight, and the rest would measure 429s.
    const signinBodies = wanted('signin') || wanted('mixed') ? await signinAccounts(base, config.signinConnections) : [];
    const signinLoad = (duration: number): LoadOptions => {
      let next = 0;
      return load('/auth/signin', {
        method: 'POST',
        connections: config.signinConnections,
        duration,
        headers: { 'content-type': 'application/json' },
        setupClient: (client) => client.setBody(signinBodies[next++ % signinBodies.length] as string),
      });
    };
    // autocannon drops its connections at the end of a run, but the server still hashes
    // the sign-ins it had queued; one more sign-in (by an account outside the load) returns
    // once that queue has drained.
    const drainSignins = () => call(base, 'POST', '/auth/signin', { email: fx.email, password: fx.password });
    let signin: LoadSummary | undefined;
    if (wanted('signin')) signin = await measure('signin', `POST /auth/signin (cost ${config.bcryptCost})`, () => signinLoad(config.duration), drainSignins);

    let mixed: LoadSummary | undefined;
    if (wanted('mixed')) {
      process.stdout.write(`- guarded GET while ${config.signinConnections} connections hammer /auth/signin…`);
      // Sign-ins first, long enough to be saturated before and after the measured window.
      const lead = Math.max(1, Math.min(2, config.warmup));
      const hammer = startLoad(signinLoad(lead + config.duration + 5));
      await new Promise((done) => setTimeout(done, lead * 1000));
      const measured = await run('mixed', () => load('/api/hello', { headers: bearer }), config.duration);
      mixed = measured.result;
      const { peakRssMb } = measured.run;
      hammer.stop();
      const background = await hammer.done;
      await drainSignins();
      const row: Row = {
        key: 'mixed',
        name: 'guarded GET during sign-in saturation',
        rps: mixed.rps,
        p50: mixed.p50,
        p99: mixed.p99,
        errors: mixed.errors,
        ratio: null,
        peakRssMb,
        // Shared with the sign-ins running meanwhile: not a cost of the guarded GET alone.
        cpuPerRequestUs: null,
        note: `meanwhile ${fmt(background.rps, 1)} sign-ins/s, ${background.errors} sign-in errors`,
      };
      rows.push(row);
      singleAt.set(row, timeline.length - 1);
      console.log(` ${fmt(mixed.rps)} req/s, p99 ${mixed.p99} ms (sign-ins meanwhile: ${fmt(background.rps, 1)}/s)`);
    }

    const bareEnd = await measure('bare-end', 'bare Express route (reference, end)', bareLoad);
    const bareRps = (bareStart.rps + bareEnd.rps) / 2;
    // A single run against the bare runs (rounds included) just before and just after it:
    // the machine's and the process's speed drift over a run (a larger heap after the
    // sign-ins, other load), and a reference measured minutes away would carry that drift
    // into the ratio. The scenarios in rounds have their median ratio already.
    for (const [row, at] of singleAt) {
      const isBare = (r: Run) => r.key.startsWith('bare');
      const before = timeline.slice(0, at).reverse().find(isBare);
      const after = timeline.slice(at + 1).find(isBare);
      const around = [before, after].filter((r): r is Run => r !== undefined);
      row.ratio = isBare(timeline[at] as Run) ? row.rps / bareRps : row.rps / meanOf(around.map((r) => r.rps));
    }
    const hwmMb = (RssSampler.field(pid, 'VmHWM') ?? 0) / 1024 || null;
    memory.end = await settledMemory(child);

    // ------------------------------------------------------------ targets
    /** The rounds of the scenario's rows (the Bearer scenario's two halves) with their bare partners. */
    const alternatingOf = (keys: string[]) => rows.filter((r) => keys.includes(r.key)).flatMap((r) => (r.alternating ? [r.alternating] : []));
    /** The median of the ratios of all the scenario's pairs (both halves of Bearer's), their lowest and highest, and all its rounds pooled. */
    const ratioTarget = (key: string | string[], name: string, goal: number) => {
      const runs = alternatingOf(typeof key === 'string' ? [key] : key).flatMap((a) => a.runs);
      if (runs.length === 0) return;
      const summary = pairRatios(pairsOf(runs), (r) => r.rps);
      targets.push({
        name,
        measured: `${figure(summary.median, goal)} of bare (median of ${summary.ratios.length} pairs of rounds; ${summary.min.toFixed(2)}-${summary.max.toFixed(2)}, pooled ${summary.pooled.toFixed(2)})`,
        goal: `>= ${goal.toFixed(2)}`,
        pass: summary.median >= goal,
      });
    };
    ratioTarget(['bearer', 'bearer-repeat'], 'guarded GET, Bearer token', 0.92);
    ratioTarget('api-key', 'guarded GET, API key', 0.92);
    ratioTarget('refresh', 'POST /refresh with rotation', 0.4);
    ratioTarget('iot', 'GET /iot-credentials by API key', 0.7);
    if (signin) {
      const factor = signin.rps / reference.perSecond;
      targets.push({
        name: 'sign-ins/s vs one core of bcryptjs',
        measured: `${fmt(signin.rps, 1)}/s = ${figure(factor, 1.7)} x ${fmt(reference.perSecond, 2)}/s`,
        goal: '>= 1.70 x',
        pass: factor >= 1.7,
      });
    }
    if (mixed && guardedIdleRps !== undefined) {
      const share = mixed.rps / guardedIdleRps;
      targets.push({
        name: 'guarded GET during sign-in saturation',
        measured: `${figure(share, 0.5)} of idle, p99 ${mixed.p99} ms`,
        goal: '>= 0.50 of idle, p99 < 100 ms',
        pass: share >= 0.5 && mixed.p99 < 100,
      });
    }
    // What gatehouse adds: the peak RSS of the guarded rounds over the bare route's, in the
    // same process: the mean of the rounds' peaks on each side, the bare rounds being the
    // ones paired with the guarded ones, so a drift of the process's RSS over time weighs
    // on both sides alike.
    const guardedRuns = alternatingOf(['bearer', 'bearer-repeat', 'api-key']).flatMap((a) => a.runs);
    const barePeak = meanOrNull(guardedRuns.filter((r) => r.key === 'bare').map((r) => r.peakRssMb));
    const guardedPeak = meanOrNull(guardedRuns.filter((r) => r.key !== 'bare').map((r) => r.peakRssMb));
    let addedMemory: { guardedPeakMb: number; barePeakMb: number; addedMb: number } | undefined;
    if (barePeak !== null && guardedPeak !== null) {
      addedMemory = { guardedPeakMb: guardedPeak, barePeakMb: barePeak, addedMb: guardedPeak - barePeak };
      const flags = serverFlags.length === 0 ? "Node's default flags" : serverFlags.join(' ');
      targets.push({
        name: `memory gatehouse adds (peak RSS guarded − bare, ${flags})`,
        measured: `${addedMemory.addedMb >= 0 ? '+' : ''}${addedMemory.addedMb.toFixed(1)} MB (guarded ${guardedPeak.toFixed(1)} − bare ${barePeak.toFixed(1)})`,
        goal: '< 30 MB',
        pass: addedMemory.addedMb < 30,
      });
    }
    let growth: { rssMb: number; heapUsedMb: number } | undefined;
    if (memory.afterGuarded1 && memory.afterGuarded2) {
      const mb = (n: number) => n / 1024 / 1024;
      growth = {
        rssMb: mb(memory.afterGuarded2.rss - memory.afterGuarded1.rss),
        heapUsedMb: mb(memory.afterGuarded2.heapUsed - memory.afterGuarded1.heapUsed),
      };
      // Allocator noise moves RSS by a few MB; a leak at these request counts moves it by far more.
      const rssOk = growth.rssMb <= Math.max(5, 0.05 * mb(memory.afterGuarded1.rss));
      const heapOk = growth.heapUsedMb <= 2;
      targets.push({
        name: 'RSS not growing across two halves of guarded-GET rounds',
        measured: `RSS ${growth.rssMb >= 0 ? '+' : ''}${growth.rssMb.toFixed(1)} MB, heap ${growth.heapUsedMb >= 0 ? '+' : ''}${growth.heapUsedMb.toFixed(1)} MB (after GC)`,
        goal: 'RSS <= +5 MB (or 5 %), heap <= +2 MB',
        pass: rssOk && heapOk,
      });
    }

    // ------------------------------------------------------------ report
    console.log('');
    const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'x bare', '(min-max)', 'CPU µs/req', 'bare CPU µs/req', 'peak RSS MB'];
    const table = rows.map((r) => [
      r.name,
      fmt(r.rps),
      String(r.p50),
      String(r.p99),
      String(r.errors),
      r.ratio === null ? '' : r.ratio.toFixed(2),
      r.alternating ? `(${r.alternating.min.toFixed(2)}-${r.alternating.max.toFixed(2)})` : '',
      r.cpuPerRequestUs === null ? '' : fmt(r.cpuPerRequestUs),
      r.alternating?.bare.cpuPerRequestUs == null ? '' : fmt(r.alternating.bare.cpuPerRequestUs),
      r.peakRssMb === null ? '' : r.peakRssMb.toFixed(1),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((cells) => (cells[i] as string).length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    table.forEach((cells) => console.log(line(cells)));
    rows.filter((r) => r.note).forEach((r) => console.log(`  ${r.name}: ${r.note}`));
    for (const r of rows) {
      if (!r.alternating) continue;
      const a = r.alternating;
      // Not a target: what the ratio would be if every round had got the same CPU time,
      // as a check on the ratios when other work on the machine took a varying share of it.
      const perCpu = a.runs.every((run) => run.cpuSeconds !== null)
        ? pairRatios(pairsOf(a.runs), (run) => run.responses / ((run.cpuSeconds as number) + run.clientCpuSeconds))
        : null;
      const cpuText = perCpu ? `; responses per CPU second of server and client, x bare: ${perCpu.median.toFixed(2)} (${perCpu.min.toFixed(2)}-${perCpu.max.toFixed(2)})` : '';
      console.log(`  ${r.name}: pairs ${a.ratios.map((x) => x.toFixed(2)).join(', ')} of bare, pooled ${a.pooled.toFixed(2)}${cpuText}`);
    }
    console.log(
      `  rows with rounds: ${config.roundSeconds} s rounds paired with bare ones on the same server, in alternating order (bare X, X bare, …); x bare is the median of the pairs' ratios, (min-max) their lowest and highest, pooled: all the rounds' req/s over all the bare rounds'; req/s the rounds' mean, p50 and p99 their medians, peak RSS their highest; CPU µs/req of the rounds, and of the bare rounds paired with them`,
    );
    console.log(
      `  other rows: x bare against the bare runs just before and after it; bare start and end: against their mean, ${fmt(bareRps)} req/s; bcryptjs one core: ${fmt(reference.perSecond, 2)} compares/s`,
    );
    const guardCost = guardCosts(rows);
    for (const cost of guardCost) {
      console.log(`  guard's own cost, ${cost.name}: ${fmt(cost.ownUs)} µs/request (guarded ${fmt(cost.guardedUs)} − bare ${fmt(cost.bareUs)})`);
    }
    if (addedMemory) {
      console.log(
        `  memory gatehouse adds: ${addedMemory.addedMb.toFixed(1)} MB (peak RSS, mean over the guarded rounds ${addedMemory.guardedPeakMb.toFixed(1)} MB − mean over the bare rounds paired with them ${addedMemory.barePeakMb.toFixed(1)} MB)`,
      );
    }
    if (hwmMb !== null) console.log(`  server peak RSS over the whole run (VmHWM): ${hwmMb.toFixed(1)} MB`);

    results = {
      machine: info,
      config: { ...config, serverFlags },
      bareReferenceRps: bareRps,
      bcryptSingleCore: reference,
      scenarios: rows,
      guardCost,
      server: { peakRssMb: hwmMb, addedMemory: addedMemory ?? null, memoryAfterGc: memory, growthAcrossGuardedRuns: growth ?? null },
    };
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
    removeBuild(BUILD_OUT);
  }

  const sectionData: Record<string, unknown> = {};
  for (const section of sections.filter((s) => wanted(s.key))) await runSection(section, targets, sectionData);

  console.log('');
  console.log('targets');
  for (const t of targets) console.log(`  ${targetLine(t)}`);
  const out = resolve(here, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'latest.json'), JSON.stringify({ ...results, sections: sectionData, targets }, null, 2) + '\n');
  console.log(`\nwritten to ${join('bench', 'results', 'latest.json')}`);
  if (process.env.BENCH_STRICT === '1' && targets.some((t) => !t.pass)) process.exitCode = 1;
}

/**
 * Runs one section under its own time bound (the scenarios' watchdog is over by then):
 * prints its title and lines, adds its targets, keeps its data. A section that fails is
 * a FAIL line of its own; the others still run.
 */
async function runSection(section: (typeof sections)[number], targets: Target[], data: Record<string, unknown>): Promise<void> {
  clearTimeout(watchdog);
  const bound = setTimeout(() => {
    console.error(`bench: section ${section.key} still running after ${sectionTimeoutSeconds} s; giving up`);
    process.exit(2);
  }, sectionTimeoutSeconds * 1000);
  bound.unref();
  console.log('');
  try {
    const result = await section.run();
    console.log(result.title);
    result.lines.forEach((l) => console.log(`  ${l}`));
    targets.push(...result.targets);
    data[result.title] = result.data ?? null;
  } catch (err) {
    console.log(`${section.key}: failed`);
    console.error(err);
    targets.push({ name: `section ${section.key}`, measured: `error: ${err instanceof Error ? err.message : String(err)}`, goal: 'runs', pass: false });
  } finally {
    clearTimeout(bound);
  }
}

/** CPU µs per request of the guarded rounds minus the bare rounds paired with them. */
function guardCosts(rows: Row[]): Array<{ name: string; guardedUs: number; bareUs: number; ownUs: number }> {
  const costs = [];
  for (const [keys, name] of [
    [['bearer', 'bearer-repeat'], 'Bearer'],
    [['api-key'], 'API key'],
  ] as const) {
    const runs = rows.filter((r) => (keys as readonly string[]).includes(r.key)).flatMap((r) => r.alternating?.runs ?? []);
    const guardedUs = cpuPerResponse(runs.filter((r) => r.key !== 'bare'));
    const bareUs = cpuPerResponse(runs.filter((r) => r.key === 'bare'));
    if (guardedUs !== null && bareUs !== null) costs.push({ name, guardedUs, bareUs, ownUs: guardedUs - bareUs });
  }
  return costs;
}

/** [scenario round, bare round] per pair of the rounds given. */
function pairsOf(runs: Run[]): Array<[Run, Run]> {
  return pairUp(
    runs,
    (r) => r.pair,
    (r) => r.key === 'bare',
  );
}

/** Server CPU µs per response over runs taken together: their CPU time over their responses. */
function cpuPerResponse(runs: Run[]): number | null {
  const responses = runs.reduce((n, r) => n + r.responses, 0);
  if (runs.length === 0 || responses === 0 || runs.some((r) => r.cpuSeconds === null)) return null;
  return (runs.reduce((sum, r) => sum + (r.cpuSeconds as number), 0) * 1e6) / responses;
}

const meanOf = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** The mean of the known values (null: not measured, off Linux), or null when there are none. */
function meanOrNull(values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : meanOf(known);
}

function maxOrNull(values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : Math.max(...known);
}

main().catch((err: unknown) => {
  console.error(err);
  if (server) server.kill('SIGKILL');
  removeBuild(BUILD_OUT);
  process.exit(1);
});
