/**
 * Sign-ins per second for each password hasher that is installed: bcryptjs on worker
 * threads, `@node-rs/bcrypt` (native, libuv thread pool) at the same cost, and argon2id
 * (`@node-rs/argon2`) with its defaults. Each runs in its own bench/server.ts process
 * (BENCH_HASHER=js|native|argon2id) on the built package, loaded over real HTTP with
 * POST /auth/signin; the reference is bcryptjs compares per second on one core, in this
 * process. Target: native bcrypt ≥ 3 × one core of bcryptjs.
 *
 * Run alone after `npm run build`: `npx tsx bench/hashers.ts`. Environment (optional):
 * BENCH_HASHER_DURATION (s per hasher, default 5), BENCH_WARMUP (s, default 1),
 * BENCH_SIGNIN_CONNECTIONS (default 20), BENCH_BCRYPT_SECONDS (default 3),
 * BENCH_HASHERS (comma-separated subset of js,native,argon2id).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { EXAMPLE_APP_FILES, removeBuild, root, transpileToDist } from './build-server.js';
import { runLoad, type LoadSummary } from './load.js';
import { call, cpuSeconds, num, stopChild } from './process.js';
import { figure, runAlone, type BenchSection, type Target } from './section.js';

const BCRYPT_COST = 10;
const TARGET_FACTOR = 3;
const OUT_DIR = '.bench-hashers';

type HasherName = 'js' | 'native' | 'argon2id';
const HASHERS: Array<{ name: HasherName; label: string; needs?: string }> = [
  { name: 'js', label: `bcryptjs, worker threads (cost ${BCRYPT_COST})` },
  { name: 'native', label: `@node-rs/bcrypt, native (cost ${BCRYPT_COST})`, needs: '@node-rs/bcrypt' },
  { name: 'argon2id', label: 'argon2id, @node-rs/argon2 (m=19456 KiB, t=2, p=1)', needs: '@node-rs/argon2' },
];

const installed = (name: string) => {
  try {
    createRequire(join(root, 'package.json')).resolve(name);
    return true;
  } catch {
    return false;
  }
};

/** Rejects after `ms`: nothing here may hang the bench. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench/hashers: ${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** bcryptjs compares per second on one core, sequential and synchronous (as bench/run.ts measures it). */
export function bcryptjsOneCore(seconds: number, cost = BCRYPT_COST): { perSecond: number; compares: number } {
  const password = 'correct horse battery staple';
  const hash = bcrypt.hashSync(password, cost);
  bcrypt.compareSync(password, hash); // warm up the JIT
  const started = performance.now();
  let compares = 0;
  while (performance.now() - started < seconds * 1000 || compares < 3) {
    if (!bcrypt.compareSync(password, hash)) throw new Error('bcrypt reference: compare failed');
    compares += 1;
  }
  return { perSecond: compares / ((performance.now() - started) / 1000), compares };
}

/**
 * CPU milliseconds per compare at `cost`, sequential on this thread, for bcryptjs and (when
 * installed) the native binding: a figure that does not depend on what else the machine
 * runs, unlike the sign-ins per second.
 */
async function cpuPerCompare(seconds: number, cost = BCRYPT_COST): Promise<{ js: number; native: number | null }> {
  const password = 'correct horse battery staple';
  const hash = bcrypt.hashSync(password, cost);
  const measure = (compare: () => boolean) => {
    compare();
    const cpu = process.cpuUsage();
    const started = performance.now();
    let n = 0;
    while (performance.now() - started < seconds * 1000 || n < 3) {
      if (!compare()) throw new Error('bench/hashers: a reference compare failed');
      n += 1;
    }
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / 1000 / n;
  };
  const js = measure(() => bcrypt.compareSync(password, hash));
  let native: number | null = null;
  if (installed('@node-rs/bcrypt')) {
    const binding = createRequire(join(root, 'package.json'))('@node-rs/bcrypt') as { verifySync(password: string, hash: string): boolean };
    native = measure(() => binding.verifySync(password, hash));
  }
  return { js, native };
}

interface Started {
  child: ChildProcess;
  port: number;
  hasher: { algorithm: string; implementation: string } | undefined;
}

function startServer(script: string, dir: string, hasher: HasherName): Promise<Started> {
  const child = fork(script, [], {
    // Plain Node on dist/: no TypeScript loader or source conditions inherited from this process.
    execArgv: [],
    env: { ...process.env, BENCH_DATABASE: join(dir, 'bench.sqlite'), AUTH_SECRET: randomBytes(48).toString('base64'), BCRYPT_COST: String(BCRYPT_COST), BENCH_HASHER: hasher },
    // stdout carries the log mailer's sign-up mails: dropped. Warnings and errors (stderr) show.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const started = new Promise<Started>((done, fail) => {
    child.once('exit', (code) => fail(new Error(`bench server (${hasher}) exited with code ${code} before listening; is dist/ built from this tree (npm run build)?`)));
    child.on('message', (message: { type: string; port?: number; hasher?: Started['hasher'] }) => {
      if (message.type === 'listening' && message.port) done({ child, port: message.port, hasher: message.hasher });
    });
  });
  return within(started, 60_000, `starting the ${hasher} server`).catch(async (err: unknown) => {
    await stopChild(child);
    throw err;
  });
}

interface Credentials {
  email: string;
  password: string;
}

/** Signs up `count` accounts (one org each) and checks each can sign in. */
async function seedAccounts(base: string, count: number): Promise<Credentials[]> {
  const accounts: Credentials[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = randomBytes(4).toString('hex');
    const credentials = { email: `bench-${id}@example.com`, password: 'correct horse battery staple' };
    await call(base, 'POST', '/auth/signup', { ...credentials, action: 'create', orgCreateProps: { name: `Bench ${id}`, slug: `bench-${id}` } });
    await call(base, 'POST', '/auth/signin', credentials);
    accounts.push(credentials);
  }
  return accounts;
}

interface Measured {
  name: HasherName;
  label: string;
  implementation: string;
  load: LoadSummary;
  cpuPerSigninMs: number | null;
}

async function measureHasher(script: string, name: HasherName, label: string, opts: { duration: number; warmup: number; connections: number }): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-hashers-'));
  const { child, port, hasher } = await startServer(script, dir, name);
  try {
    const expected = name === 'argon2id' ? { algorithm: 'argon2id', implementation: 'native' } : { algorithm: 'bcrypt', implementation: name };
    if (hasher?.algorithm !== expected.algorithm || hasher.implementation !== expected.implementation) {
      throw new Error(`bench server for ${name} hashes with ${JSON.stringify(hasher)}; rebuild dist/ (npm run build)`);
    }
    const base = `http://127.0.0.1:${port}`;
    // One account per connection, as many users signing in would: each (account, IP) pair has
    // one sign-in in flight at a time, well inside its throttle (5 reserved points), and
    // a separate account for draining.
    const accounts = await seedAccounts(base, opts.connections + 1);
    const drainer = accounts.pop() as Credentials;
    let next = 0;
    const load = (duration: number) =>
      runLoad({
        url: `${base}/auth/signin`,
        method: 'POST',
        connections: opts.connections,
        duration,
        headers: { 'content-type': 'application/json' },
        setupClient: (client) => client.setBody(JSON.stringify(accounts[next++ % accounts.length])),
      });
    // The server keeps hashing what was queued when autocannon stops; one more sign-in returns once that has drained.
    const drain = () => within(call(base, 'POST', '/auth/signin', drainer), 60_000, 'draining queued sign-ins');
    if (opts.warmup > 0) {
      await within(load(opts.warmup), (opts.warmup + 30) * 1000, `${name} warm-up`);
      await drain();
    }
    const cpuBefore = child.pid ? cpuSeconds(child.pid) : null;
    const result = await within(load(opts.duration), (opts.duration + 30) * 1000, `${name} load`);
    const cpuAfter = child.pid ? cpuSeconds(child.pid) : null;
    await drain();
    // The other pool thread may still finish one queued hash for a closed connection.
    await new Promise((done) => setTimeout(done, 1000));
    const cpuPerSigninMs = cpuBefore !== null && cpuAfter !== null && result.ok > 0 ? ((cpuAfter - cpuBefore) * 1000) / result.ok : null;
    return { name, label, implementation: hasher.implementation, load: result, cpuPerSigninMs };
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sign-ins per second for each installed hasher, against one core of bcryptjs at the same cost. */
export async function benchHashers(): Promise<BenchSection> {
  const opts = {
    duration: num('BENCH_HASHER_DURATION', 5),
    warmup: num('BENCH_WARMUP', 1),
    connections: num('BENCH_SIGNIN_CONNECTIONS', 20),
  };
  const only = process.env.BENCH_HASHERS ? new Set(process.env.BENCH_HASHERS.split(',').map((s) => s.trim())) : undefined;
  const lines: string[] = [];
  const targets: Target[] = [];

  const referenceSeconds = num('BENCH_BCRYPT_SECONDS', 3);
  const reference = bcryptjsOneCore(referenceSeconds);
  lines.push(`bcryptjs on one core, in process (cost ${BCRYPT_COST}): ${reference.perSecond.toFixed(2)} compares/s`);
  const cpu = await cpuPerCompare(referenceSeconds);
  const cores = availableParallelism();
  if (cpu.native !== null) {
    // With every core hashing and nothing else running, native sign-ins/s can reach at most
    // cores × (bcryptjs CPU per compare / native CPU per compare) × one core of bcryptjs.
    lines.push(
      `CPU per compare at cost ${BCRYPT_COST}, in process: bcryptjs ${cpu.js.toFixed(1)} ms, native ${cpu.native.toFixed(1)} ms ` +
        `(native is ${(cpu.js / cpu.native).toFixed(2)} x as fast per core; ceiling on ${cores} cores: ${((cores * cpu.js) / cpu.native).toFixed(2)} x one core of bcryptjs)`,
    );
  } else {
    lines.push(`CPU per compare at cost ${BCRYPT_COST}, in process: bcryptjs ${cpu.js.toFixed(1)} ms`);
  }

  const dist = transpileToDist({ files: ['bench/server.ts', ...EXAMPLE_APP_FILES], outDir: OUT_DIR });
  const script = join(dist, 'bench', 'server.js');
  const results: Measured[] = [];
  try {
    for (const { name, label, needs } of HASHERS) {
      if (only && !only.has(name)) continue;
      if (needs && !installed(needs)) {
        lines.push(`${label}: skipped, ${needs} is not installed`);
        continue;
      }
      const m = await measureHasher(script, name, label, opts);
      results.push(m);
      const factor = m.load.rps / reference.perSecond;
      const cpu = m.cpuPerSigninMs === null ? '' : `, ${m.cpuPerSigninMs.toFixed(1)} ms CPU per sign-in`;
      lines.push(
        `${label}: ${m.load.rps.toFixed(1)} sign-ins/s = ${factor.toFixed(2)} x one core of bcryptjs; p50 ${m.load.p50} ms, p99 ${m.load.p99} ms, ${m.load.errors} errors${cpu}`,
      );
    }
  } finally {
    removeBuild(OUT_DIR);
  }

  const native = results.find((r) => r.name === 'native');
  if (native) {
    const factor = native.load.rps / reference.perSecond;
    targets.push({
      name: `native bcrypt sign-ins/s vs one core of bcryptjs (cost ${BCRYPT_COST})`,
      measured: `${native.load.rps.toFixed(1)}/s = ${figure(factor, TARGET_FACTOR)} x ${reference.perSecond.toFixed(2)}/s`,
      goal: `>= ${TARGET_FACTOR.toFixed(2)} x`,
      pass: factor >= TARGET_FACTOR && native.load.errors === 0,
    });
  } else if (!only || only.has('native')) {
    targets.push({ name: 'native bcrypt sign-ins/s vs one core of bcryptjs', measured: '@node-rs/bcrypt not installed', goal: `>= ${TARGET_FACTOR.toFixed(2)} x`, pass: false });
  }

  return {
    title: 'password hashers: sign-ins per second over HTTP',
    lines,
    targets,
    data: {
      cost: BCRYPT_COST,
      durationSeconds: opts.duration,
      connections: opts.connections,
      bcryptjsOneCorePerSecond: reference.perSecond,
      cpuMsPerCompare: cpu,
      cores,
      hashers: results.map((r) => ({ name: r.name, implementation: r.implementation, ...r.load, cpuPerSigninMs: r.cpuPerSigninMs })),
    },
  };
}

await runAlone(import.meta.filename, benchHashers);
