import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { SECRET } from '../helpers/harness.js';
import { codeBlocksInSection, runBash } from '../helpers/markdown.js';

const root = resolve(import.meta.dirname, '../..');
const SECTION = '## Quick start';
/** The walkthrough's one line naming the server; the test points it at its own example. */
const BASE_LINE = 'BASE=http://127.0.0.1:3000';

/** Every `sh` block of the README's quick start, in order. */
function quickStartBlocks(): string[] {
  return codeBlocksInSection(readFileSync(join(root, 'README.md'), 'utf8'), SECTION, 'sh');
}

/** The walkthrough: the block that sets BASE and every `sh` block after it in the section. */
function walkthrough(): string[] {
  const blocks = quickStartBlocks();
  const first = blocks.findIndex((block) => block.split('\n').some((line) => line.trim() === BASE_LINE));
  if (first === -1) throw new Error(`no sh block in "${SECTION}" has the line ${BASE_LINE}`);
  return blocks.slice(first);
}

/** The walkthrough pointed at `url`: only the BASE assignment changes. */
function walkthroughAgainst(url: string): string {
  const script = walkthrough().join('\n\n');
  expect(script.split('\n').filter((line) => line.trim() === BASE_LINE), 'one BASE assignment').to.have.length(1);
  const pointed = script.replace(BASE_LINE, `BASE=${url}`);
  // A URL written out instead of "$BASE" would reach whatever listens on :3000, not this test's server.
  expect(pointed, 'every request goes through $BASE').not.to.match(/(127\.0\.0\.1|localhost):3000/);
  return pointed;
}


/** The lines curl's `-w '%{http_code}'` printed: bare three-digit lines (the bodies are one-line JSON). */
function statusLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => /^\d{3}$/.test(line));
}

/** What the reader is told to run: `example-app/server.ts` as `npm run example` starts it, on run-time ports and a temp database. */
async function startExampleProcess(dir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=gatehouse-source', 'example-app/server.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', MQTT_WS_PORT: '0', AUTH_DATABASE: join(dir, 'example.sqlite'), AUTH_SECRET: SECRET, BCRYPT_COST: '4' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  // Not left running when it never gets there: the caller has no handle on it yet.
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const url = await new Promise<string>((found, failed) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const url = /gatehouse example listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) found(url);
    });
    child.once('exit', (code) => failed(new Error(`the example exited (${code}) before listening:\n${output}`)));
  }).finally(() => clearTimeout(timer));
  return { child, url, output: () => output };
}

/** SIGTERM, as Ctrl-C would; the example must shut down by itself. SIGKILL after 10 s, reported as a failure. */
async function stopExample(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  expect({ code, signal }, 'the example exits cleanly on SIGTERM').to.deep.equal({ code: 0, signal: null });
}

describe('docs: the README quick start, pasted into bash against the example', function () {
  this.timeout(60_000);
  let dir = '';
  let example: Awaited<ReturnType<typeof startExampleProcess>> | undefined;

  before(async () => {
    for (const tool of ['bash', 'curl']) {
      const found = spawnSync(tool, ['--version'], { stdio: 'ignore' });
      if (found.error) throw new Error(`${tool} is needed to run the README quick start (apt-get install ${tool}): ${found.error.message}`);
    }
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-quick-start-'));
    example = await startExampleProcess(dir);
  });

  after(async () => {
    try {
      if (example) await stopExample(example.child);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts with exactly the two commands: run the example, run the tests', () => {
    expect(quickStartBlocks().slice(0, 2)).to.deep.equal(['npm install && npm run example', 'npm install && npm test']);
  });

  it('the walkthrough runs and every step answers as its comment says', async () => {
    const run = await runBash(walkthroughAgainst(example!.url), dir);
    const report = `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}\nexample:\n${example!.output()}`;
    expect(run.code, report).to.equal(0);
    // sign-up 201, guarded route 200, logout 204, the logged-out token 401, the rotated refresh token 401
    // (sign-in and refresh are captured, not printed: curl -f and `json` fail the script if they go wrong)
    expect(statusLines(run.stdout), report).to.deep.equal(['201', '200', '204', '401', '401']);
    const [, hello, revoked, reused] = run.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as unknown);
    expect(hello, report).to.include({ message: 'hello', role: 'owner' });
    expect(revoked, report).to.include({ code: 'token_revoked' });
    expect(reused, report).to.include({ code: 'refresh_token_reused' });
    expect(run.stderr, report).to.equal('');
  });

  it('run again, it stops at the sign-up: 409 email_taken, as the text after it says', async () => {
    // Whether or not the test above ran, after this one the account exists.
    await runBash(walkthroughAgainst(example!.url), dir);
    const run = await runBash(walkthroughAgainst(example!.url), dir);
    const report = `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    expect(run.code, report).to.equal(22); // curl --fail-with-body on an HTTP error
    expect(statusLines(run.stdout), report).to.deep.equal(['409']);
    expect(run.stdout, report).to.include('email_taken');
  });
});
