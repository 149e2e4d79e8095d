/* global process, console, fetch, setTimeout */
// The package as a host app gets it: packs it (running `prepack`, so dist/ is built),
// installs the tarball into throwaway host projects outside the repo, one with Express 5
// and one with Express 4, and runs the README's "Mount it in an existing app" code there
// as ESM JavaScript and as CommonJS against a server on 127.0.0.1 (signup → signin →
// guarded route → refresh → logout, test/consumer/flow.mjs), and type-checks it as
// TypeScript (NodeNext, strict) with a current TypeScript. Also type-checks the testing
// entry point without @types/node. Set KEEP_CONSUMER=1 to keep the temp directory.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { runFlow } from '../test/consumer/flow.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const pkg = readJson(join(root, 'package.json'));
const repoVersion = (name) => readJson(join(root, 'node_modules', name, 'package.json')).version;

// Versions the repo's own install already has in npm's cache where possible, so the
// installs below mostly read the cache (`--prefer-offline`). TypeScript is the current
// major, not the repo's: the point is what a new host app gets.
const TYPESCRIPT = '7.0.2';
const hosts = [
  { name: 'express5', deps: [`express@${repoVersion('express')}`, `@types/express@${repoVersion('@types/express')}`] },
  { name: 'express4', deps: [`express@${repoVersion('express4')}`, '@types/express@4.17.25'] },
];
const common = [`@types/node@${repoVersion('@types/node')}`, `typescript@${TYPESCRIPT}`];

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const log = (line) => console.log(`[consumer ${elapsed()}] ${line}`);
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });

/** The first ```ts block of the README section "Mount it in an existing app", made to listen on 127.0.0.1:$PORT. */
function readmeSnippet() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Mount it in an existing app'));
  const code = section && /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README: no ```ts block under "## Mount it in an existing app"');
  const listen = 'app.listen(3000);';
  if (!code.includes(listen)) throw new Error(`README snippet: expected "${listen}" to point it at a test port`);
  return code.replace(listen, "app.listen(Number(process.env.PORT), '127.0.0.1');");
}

function transpile(code, module) {
  const options = { module, target: ts.ScriptTarget.ES2022, esModuleInterop: true };
  return ts.transpileModule(code, { compilerOptions: options, reportDiagnostics: false }).outputText;
}

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function waitForServer(baseUrl, child) {
  for (let i = 0; i < 200; i += 1) {
    if (child.exitCode !== null) throw new Error(`the host app exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${baseUrl}/auth/openapi.json`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the host app did not start listening within 20 s');
}

async function runApp(dir, file) {
  // No data/ directory beforehand, as in a new app: the SQLite adapter makes it.
  rmSync(join(dir, 'data'), { recursive: true, force: true });
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [file], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), AUTH_SECRET: 'consumer-test-secret-that-is-long-enough-0123456789' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitForServer(baseUrl, child);
    await runFlow(baseUrl);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** The repo's better-sqlite3 is built for this Node already: reuse its binary rather than compile SQLite again. */
function provideSqliteBinary(dir) {
  const target = join(dir, 'node_modules', 'better-sqlite3');
  const binary = join('build', 'Release', 'better_sqlite3.node');
  if (readJson(join(target, 'package.json')).version === repoVersion('better-sqlite3') && existsSync(join(root, 'node_modules', 'better-sqlite3', binary))) {
    mkdirSync(join(target, 'build', 'Release'), { recursive: true });
    copyFileSync(join(root, 'node_modules', 'better-sqlite3', binary), join(target, binary));
  } else {
    log('better-sqlite3 differs from the repo\'s: building it (slow)');
    run('npm', ['rebuild', 'better-sqlite3', '--foreground-scripts'], dir);
  }
}

const work = mkdtempSync(join(tmpdir(), 'gatehouse-consumer-'));
let passed = 0;
let failed = 0;
try {
  log(`npm pack ${pkg.name}@${pkg.version} (prepack builds dist/)`);
  run('npm', ['pack', '--silent', '--pack-destination', work], root);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack made no tarball');
  const snippet = readmeSnippet();

  for (const host of hosts) {
    const dir = join(work, host.name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${host.name}`, private: true, type: 'module' }, null, 2));
    log(`${host.name}: npm install ${pkg.name} ${[...host.deps, ...common].join(' ')}`);
    // Scripts off: the only install script in the tree is better-sqlite3's, handled below.
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', join(work, tarball), ...host.deps, ...common], dir);
    provideSqliteBinary(dir);
    const express = readJson(join(dir, 'node_modules', 'express', 'package.json')).version;
    // A peer dependency: the router must build on the host's express, not a copy of its own.
    if (existsSync(join(dir, 'node_modules', pkg.name, 'node_modules', 'express'))) throw new Error(`${pkg.name} installed its own express`);

    writeFileSync(join(dir, 'app.ts'), snippet);
    writeFileSync(join(dir, 'app.mjs'), transpile(snippet, ts.ModuleKind.ESNext));
    // CommonJS has no top-level await: the same code inside an async function, with require().
    const cjs = transpile(snippet, ts.ModuleKind.CommonJS);
    writeFileSync(join(dir, 'app.cjs'), `(async () => {\n${cjs}\n})().catch((err) => {\n  console.error(err);\n  process.exit(1);\n});\n`);
    for (const file of ['tsconfig.json', 'tsconfig.testing.json', 'testing-types.ts']) copyFileSync(join(root, 'test', 'consumer', file), join(dir, file));

    const checks = [
      ['TypeScript: README snippet (NodeNext, strict)', () => run(join(dir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], dir)],
      ['TypeScript: testing entry point without @types/node', () => run(join(dir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.testing.json'], dir)],
      ['ESM: README snippet, signup → signin → guarded route → refresh → logout', () => runApp(dir, 'app.mjs')],
      ['CommonJS: README snippet, signup → signin → guarded route → refresh → logout', () => runApp(dir, 'app.cjs')],
    ];
    for (const [name, check] of checks) {
      try {
        await check();
        passed += 1;
        log(`ok: express ${express}: ${name}`);
      } catch (err) {
        failed += 1;
        log(`FAILED: express ${express}: ${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
} finally {
  if (process.env.KEEP_CONSUMER) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
console.log(`consumer: ${passed} passed, ${failed} failed`);
if (failed > 0 || passed === 0) process.exitCode = 1;
