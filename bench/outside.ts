/**
 * gatehouse measured from outside, as a user would: the example app (example-app/server.ts,
 * as `npm run example` starts it, with its MQTT broker and demo page) runs as its own
 * process, and a separate bare Express process (bench/bare-server.ts) is the reference.
 * Both run as plain JavaScript on the built package (see build-server.ts) and listen on
 * 127.0.0.1 at random ports. autocannon loads them in turn, in short rounds paired with
 * a bare round in alternating order (bare hello, bare iot, hello bare, iot bare, …), so
 * drift of a shared machine falls on both sides: each guarded round is divided by the
 * bare round of its pair, and the figure is the median of those ratios (bench/rounds.ts).
 *
 * Figures: GET /api/hello with a Bearer token and GET /auth/iot-credentials with an API
 * key, as a share of the bare process's requests per second; rps, p99 and the CPU time
 * each process spent per response (from /proc/<pid>/stat, Linux).
 *
 * Environment (optional): BENCH_ROUND_SECONDS (s per round, default BENCH_DURATION / 5, at least 1;
 * BENCH_DURATION defaults to 10), BENCH_WARMUP (s, default 2), BENCH_CONNECTIONS (default 50),
 * BENCH_OUTSIDE_ROUNDS (guarded rounds per scenario, default 10),
 * BENCH_SERVER_FLAGS (Node flags of both processes; default none: Node's defaults, as a user runs it).
 * With `--trace-gc` among them, the report adds each process's garbage-collection time per
 * request and its heap after the last full collection (V8's own log lines on stdout).
 *
 * Alone: `npm run build && npx tsx bench/outside.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_APP_FILES, removeBuild, transpileToDist } from './build-server.js';
import { runLoad, type LoadOptions, type LoadSummary } from './load.js';
import { call, cpuSeconds, num, stopChild } from './process.js';
import { bareFirst, median, pairRatios, pairUp, roundSecondsOf } from './rounds.js';
import { figure, runAlone, type BenchSection, type Target } from './section.js';

const OUT_DIR = '.bench-outside';
const TARGETS = { hello: 0.85, iot: 0.65 } as const;

interface Started {
  child: ChildProcess;
  base: string;
  gc: GcLog;
}

/** Totals of the `--trace-gc` lines a process printed so far (all zero without that flag). */
interface GcLog {
  scavenges: number;
  scavengeMs: number;
  markCompacts: number;
  markCompactMs: number;
  /** Heap after the last full (mark-compact) collection, MB: about the live heap. */
  heapAfterFullMb: number | null;
}

// `[pid:0x…]  1234 ms: Scavenge 23.5 (58.2) -> 15.2 (58.2) MB, 6.22 / 0.37 ms  …`
const GC_LINE = /: (Scavenge|Mark-Compact|Mark-Sweep)[^,]* -> ([\d.]+) \([\d.]+\) MB, ([\d.]+) \/ [\d.]+ ms/;

function readGcLines(text: string, gc: GcLog): void {
  for (const line of text.split('\n')) {
    const match = GC_LINE.exec(line);
    if (!match) continue;
    const [, kind, after, ms] = match;
    if (kind === 'Scavenge') {
      gc.scavenges++;
      gc.scavengeMs += Number(ms);
    } else {
      gc.markCompacts++;
      gc.markCompactMs += Number(ms);
      gc.heapAfterFullMb = Number(after);
    }
  }
}

/** VmRSS of a process, MB; null off Linux. */
function rssMb(pid: number): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}

/** Starts `node <script>` and resolves with the URL it prints (`… listening on http://…`). */
function startProcess(name: string, script: string, env: Record<string, string>, flags: string[], timeoutMs: number, children: ChildProcess[]): Promise<Started> {
  const child = spawn(process.execPath, [...flags, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Known to the caller at once, so it is stopped even when the other process fails to start.
  children.push(child);
  // The last lines, for the error when it fails to start; the rest (mails the example logs) is dropped.
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 20));
  };
  child.stderr?.on('data', keep);
  const gc: GcLog = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, heapAfterFullMb: null };
  // A line can be split between chunks: only whole lines are read.
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const end = text.lastIndexOf('\n') + 1;
    partial = text.slice(end);
    readGcLines(text.slice(0, end), gc);
  });
  return new Promise((resolveStart, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${name}: ${why}\n${tail.join('\n')}`));
    };
    const timer = setTimeout(() => fail(`not listening within ${timeoutMs / 1000} s`), timeoutMs);
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before listening`));
    let buffered = '';
    let listening = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (listening) return;
      buffered += chunk.toString('utf8');
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(buffered);
      if (!match?.[1]) return;
      listening = true;
      buffered = '';
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolveStart({ child, base: match[1], gc });
    });
  });
}

/** An account with an org, an access token and an API key, made over HTTP as a client would. */
async function seed(base: string) {
  const id = randomBytes(4).toString('hex');
  const email = `outside-${id}@example.com`;
  const password = 'correct horse battery staple';
  const user = await call(base, 'POST', '/auth/signup', { email, password, action: 'create', orgCreateProps: { name: `Outside ${id}`, slug: `outside-${id}` } });
  const pair = await call(base, 'POST', '/auth/signin', { email, password });
  const bearer = { authorization: `Bearer ${String(pair.access_token)}` };
  const key = await call(base, 'POST', '/auth/api-keys', { name: 'outside bench' }, bearer);
  const byKey = { 'x-api-key': String(key.key), 'x-tenant-id': String(user.organizationId) };
  await call(base, 'GET', '/api/hello', undefined, bearer);
  await call(base, 'GET', '/auth/iot-credentials', undefined, byKey);
  return { bearer, byKey };
}

interface Run {
  scenario: string;
  rps: number;
  p99: number;
  errors: number;
  /** Responses, 2xx and others, and the CPU time the process spent on them (null off Linux). */
  responses: number;
  cpuSeconds: number | null;
  /** CPU time of this process (autocannon, the client) during the round. */
  clientCpuSeconds: number;
  cpuPerRequestUs: number | null;
  /** The number of the pair of rounds (one guarded, one bare) the round ran in. */
  pair: number;
  /** Garbage-collection time per response, µs (scavenges, mark-compacts); null without `--trace-gc`. */
  gcPerRequestUs: { scavenge: number; markCompact: number } | null;
}

interface Scenario {
  key: 'hello' | 'iot';
  name: string;
  target: { name: string; goal: number };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

export async function benchOutside(): Promise<BenchSection> {
  const duration = num('BENCH_DURATION', 10);
  const config = {
    roundSeconds: roundSecondsOf(duration),
    warmup: num('BENCH_WARMUP', 2),
    connections: num('BENCH_CONNECTIONS', 50),
    rounds: Math.max(1, Math.round(num('BENCH_OUTSIDE_ROUNDS', 10))),
  };
  const flags = (process.env.BENCH_SERVER_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const scenarios: Scenario[] = [
    { key: 'hello', name: 'example GET /api/hello, Bearer', target: { name: "outside: example's guarded GET /api/hello vs a bare Express process", goal: TARGETS.hello } },
    { key: 'iot', name: 'example GET /auth/iot-credentials, API key', target: { name: 'outside: GET /auth/iot-credentials by API key vs a bare Express process', goal: TARGETS.iot } },
  ];
  // A bare round per guarded round; each round with a margin, and the warm-ups.
  const runs = 2 * config.rounds * scenarios.length;
  const budgetMs = (runs * (config.roundSeconds + 4) + (scenarios.length + 1) * (config.warmup + 5) + 150) * 1000;

  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-outside-'));
  const children: ChildProcess[] = [];
  const killAll = () => children.forEach((c) => c.kill('SIGKILL'));
  process.once('exit', killAll);
  let watchdog: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_, reject) => {
    watchdog = setTimeout(() => {
      killAll();
      reject(new Error(`bench/outside: still running after ${Math.round(budgetMs / 1000)} s; gave up`));
    }, budgetMs);
    watchdog.unref();
  });

  const work = async (): Promise<BenchSection> => {
    const build = transpileToDist({
      files: [...EXAMPLE_APP_FILES, 'bench/bare-server.ts'],
      outDir: OUT_DIR,
      // The demo page bundles example-app/web at start.
      links: ['example-app/web'],
    });
    // Both at once: the example bundles its demo page (esbuild) while the bare one starts.
    const [example, bare] = await Promise.all([
      startProcess(
        'example app',
        join(build, 'example-app', 'server.js'),
        {
          HOST: '127.0.0.1',
          PORT: '0',
          MQTT_WS_PORT: '0',
          AUTH_DATABASE: join(dir, 'example.sqlite'),
          AUTH_SECRET: randomBytes(48).toString('base64'),
          NODE_ENV: 'production',
        },
        flags,
        90_000,
        children,
      ),
      startProcess('bare Express', join(build, 'bench', 'bare-server.js'), { PORT: '0', NODE_ENV: 'production' }, flags, 30_000, children),
    ]);
    const fx = await seed(example.base);
    const loads: Record<'bare' | Scenario['key'], LoadOptions> = {
      bare: { url: `${bare.base}/hello`, connections: config.connections, duration: config.roundSeconds },
      hello: { url: `${example.base}/api/hello`, connections: config.connections, duration: config.roundSeconds, headers: fx.bearer },
      iot: { url: `${example.base}/auth/iot-credentials`, connections: config.connections, duration: config.roundSeconds, headers: fx.byKey },
    };
    const pids = { bare: bare.child.pid as number, hello: example.child.pid as number, iot: example.child.pid as number };
    const gcLogs = { bare: bare.gc, hello: example.gc, iot: example.gc };
    // After start and the seeding requests, before any load.
    const rssAfterStart = { example: rssMb(example.child.pid as number), bare: rssMb(bare.child.pid as number) };

    const measure = async (key: keyof typeof loads, pair: number): Promise<Run> => {
      const pid = pids[key];
      const gc = gcLogs[key];
      const gcBefore = { ...gc };
      const before = cpuSeconds(pid);
      const client = process.cpuUsage();
      const result: LoadSummary = await runLoad(loads[key]);
      const clientUsed = process.cpuUsage(client);
      const after = cpuSeconds(pid);
      const responses = result.ok + result.non2xx;
      const cpu = before === null || after === null || responses === 0 ? null : ((after - before) * 1e6) / responses;
      const traced = gc.scavenges + gc.markCompacts > 0 && responses > 0;
      const gcPerRequestUs = traced
        ? { scavenge: ((gc.scavengeMs - gcBefore.scavengeMs) * 1000) / responses, markCompact: ((gc.markCompactMs - gcBefore.markCompactMs) * 1000) / responses }
        : null;
      const cpuUsed = before === null || after === null ? null : after - before;
      return {
        scenario: key,
        rps: result.rps,
        p99: result.p99,
        errors: result.errors,
        responses,
        cpuSeconds: cpuUsed,
        clientCpuSeconds: (clientUsed.user + clientUsed.system) / 1e6,
        cpuPerRequestUs: cpu,
        pair,
        gcPerRequestUs,
      };
    };

    if (config.warmup > 0) {
      for (const key of ['bare', ...scenarios.map((s) => s.key)] as const) await runLoad({ ...loads[key], duration: config.warmup });
    }
    // Pairs: bare hello, bare iot, hello bare, iot bare, bare hello, …
    const sequence: Run[] = [];
    for (let round = 0; round < config.rounds; round++) {
      process.stdout.write(`- outside, round ${round + 1}/${config.rounds}:`);
      for (const [index, scenario] of scenarios.entries()) {
        // Each scenario's own pairs alternate order: its rounds 0, 2, … bare first, 1, 3, … bare after.
        const pair = round * scenarios.length + index;
        let run: Run;
        let bareRun: Run;
        if (bareFirst(round)) {
          bareRun = await measure('bare', pair);
          run = await measure(scenario.key, pair);
          sequence.push(bareRun, run);
        } else {
          run = await measure(scenario.key, pair);
          bareRun = await measure('bare', pair);
          sequence.push(run, bareRun);
        }
        process.stdout.write(` ${scenario.key} ${fmt(run.rps)}, bare ${fmt(bareRun.rps)};`);
      }
      console.log(' req/s');
    }

    const bareRuns = sequence.filter((r) => r.scenario === 'bare');
    const summary = (runs: Run[]) => ({
      rps: mean(runs.map((r) => r.rps)),
      // Median of the rounds' p99: the highest of many short rounds would be the worst burst of other work.
      p99: median(runs.map((r) => r.p99)),
      errors: runs.reduce((n, r) => n + r.errors, 0),
      // The rounds' CPU time over their responses.
      cpuPerRequestUs: runs.every((r) => r.cpuSeconds !== null) ? (runs.reduce((t, r) => t + (r.cpuSeconds as number), 0) * 1e6) / Math.max(1, runs.reduce((n, r) => n + r.responses, 0)) : null,
      gcPerRequestUs: runs.every((r) => r.gcPerRequestUs !== null)
        ? { scavenge: mean(runs.map((r) => r.gcPerRequestUs!.scavenge)), markCompact: mean(runs.map((r) => r.gcPerRequestUs!.markCompact)) }
        : null,
    });
    const bareSummary = summary(bareRuns);
    const lines: string[] = [];
    const targets: Target[] = [];
    const cpu = (us: number | null) => (us === null ? 'n/a' : `${fmt(us)} µs`);
    const gcText = (gc: Run['gcPerRequestUs']) => (gc === null ? '' : `, GC ${fmt(gc.scavenge, 1)} µs scavenging + ${fmt(gc.markCompact, 1)} µs full/req`);
    lines.push(`bare Express process (GET /hello): ${fmt(bareSummary.rps)} req/s, p99 ${bareSummary.p99} ms, CPU ${cpu(bareSummary.cpuPerRequestUs)}/req${gcText(bareSummary.gcPerRequestUs)}, ${bareSummary.errors} errors`);
    const mbText = (mb: number | null) => (mb === null ? 'n/a' : `${fmt(mb, 1)} MB`);
    const heapText = (gc: GcLog) => (gc.heapAfterFullMb === null ? '' : `, heap after the last full GC ${mbText(gc.heapAfterFullMb)}`);
    lines.push(
      `memory: example RSS after start ${mbText(rssAfterStart.example)}${heapText(example.gc)}; bare RSS after start ${mbText(rssAfterStart.bare)}${heapText(bare.gc)}`,
    );
    const data: Record<string, unknown> = {
      config: { ...config, serverFlags: flags },
      memory: { rssAfterStartMb: rssAfterStart, heapAfterLastFullGcMb: { example: example.gc.heapAfterFullMb, bare: bare.gc.heapAfterFullMb } },
      bare: bareSummary,
      sequence,
    };
    for (const scenario of scenarios) {
      // Each guarded round against the bare round of its pair; the median of those.
      const pairs = pairUp(
        sequence,
        (r) => r.pair,
        (r) => r.scenario === 'bare',
      ).filter(([r]) => r.scenario === scenario.key);
      const ratios = pairRatios(pairs, (r) => r.rps);
      const s = summary(sequence.filter((r) => r.scenario === scenario.key));
      const spread = `${ratios.min.toFixed(2)}-${ratios.max.toFixed(2)}`;
      // Not a target: the same median for responses per CPU second of the process and the
      // client together, as a check on the ratios when other work took a varying share of the machine.
      const perCpu = sequence.every((r) => r.cpuSeconds !== null) ? pairRatios(pairs, (r) => r.responses / ((r.cpuSeconds as number) + r.clientCpuSeconds)) : null;
      const cpuText = perCpu ? `; per CPU second of process and client: ${perCpu.median.toFixed(2)} (${perCpu.min.toFixed(2)}-${perCpu.max.toFixed(2)})` : '';
      lines.push(
        `${scenario.name}: ${fmt(s.rps)} req/s, p99 ${s.p99} ms, CPU ${cpu(s.cpuPerRequestUs)}/req${gcText(s.gcPerRequestUs)}, ${s.errors} errors; ${ratios.median.toFixed(2)} of bare, median of ${ratios.ratios.length} pairs of rounds (${spread}, pooled ${ratios.pooled.toFixed(2)}; pairs: ${ratios.ratios.map((r) => r.toFixed(2)).join(', ')})${cpuText}`,
      );
      targets.push({
        name: scenario.target.name,
        measured: `${figure(ratios.median, scenario.target.goal)} of bare (median of ${ratios.ratios.length} pairs of rounds; ${spread}, pooled ${ratios.pooled.toFixed(2)})`,
        goal: `>= ${scenario.target.goal.toFixed(2)}`,
        pass: ratios.median >= scenario.target.goal && s.errors === 0,
      });
      data[scenario.key] = { ...s, ratio: ratios.median, ratioMin: ratios.min, ratioMax: ratios.max, ratioPooled: ratios.pooled, ratios: ratios.ratios };
    }
    lines.push(
      `(${config.rounds} rounds of ${config.roundSeconds} s per scenario, ${config.connections} connections, each paired with a round of the bare process, in alternating order; p99: median of the rounds'; node ${flags.join(' ') || 'default flags'})`,
    );
    return { title: 'measured from outside: the example app vs a separate bare Express process', lines, targets, data };
  };

  try {
    return await Promise.race([work(), overrun]);
  } finally {
    clearTimeout(watchdog);
    await Promise.all(children.map(stopChild));
    process.off('exit', killAll);
    rmSync(dir, { recursive: true, force: true });
    removeBuild(OUT_DIR);
  }
}

await runAlone(import.meta.filename, benchOutside);
