import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { generate } from 'otplib';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { ownFileOr } from '../../src/core/rate-limiters.js';
import { PASSWORD, SECRET, signupWithOrg, startHarness } from '../helpers/harness.js';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, startOidcServer } from '../identity/oidc-server.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

/**
 * Runs `lines` (an ES module) in a child process where `packages` cannot be resolved
 * while the file `hiddenWhile` exists (test/helpers/hide-packages.mjs).
 */
async function runHidden(packages: string[], hiddenWhile: string, lines: string[]): Promise<{ stdout: string; stderr: string }> {
  writeFileSync(hiddenWhile, '');
  return run(
    process.execPath,
    ['--import', 'tsx', '--import', './test/helpers/hide-packages.mjs', '--conditions=gatehouse-source', '--input-type=module', '-e', lines.join('\n')],
    { cwd: root, timeout: 60_000, env: { ...process.env, GATEHOUSE_HIDE_PACKAGES: packages.join(','), GATEHOUSE_HIDE_WHILE: hiddenWhile } },
  );
}

/** The child's last line of output: what it prints for the test, after any mail the log mailer printed. */
const lastLine = (stdout: string) => stdout.trim().split('\n').at(-1);

/**
 * Child-process lines: the router on SQLite `file` at /auth of an Express app, `post(path, body)`
 * to it, and `signup` (the response to a sign-up); `close` stops them.
 */
const serve = (file: string, options: Record<string, unknown> = {}) => [
  "import { rmSync } from 'node:fs';",
  "import { createAuthRouter } from 'gatehouse-auth';",
  "import { createKnexStorage } from 'gatehouse-auth/adapters/knex';",
  `const storage = createKnexStorage(${JSON.stringify(file)});`,
  `const auth = createAuthRouter({ storage, tokens: { secret: ${JSON.stringify(SECRET)} }, passwords: { cost: 4, threads: 0 }, ...${JSON.stringify(options)} });`,
  'await auth.ready();',
  "const express = (await import('express')).default;",
  "const server = express().use('/auth', auth).listen(0);",
  "await new Promise((done) => server.once('listening', done));",
  'const base = `http://127.0.0.1:${server.address().port}/auth`;',
  "const post = (path, body) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });",
  'const close = async () => { server.closeAllConnections(); server.close(); await auth.close(); await storage.close(); };',
  "const signup = await post('/signup', { email: 'lazy-' + Date.now() + '@example.com', password: 'correct horse battery staple', action: 'create', orgCreateProps: { name: 'Lazy', slug: 'lazy-' + Date.now() } });",
];

/**
 * Packages only some requests need are loaded on their first use, not at import: every
 * module a process keeps adds to the cost of each garbage collection. Checked by hiding
 * the package (test/helpers/hide-packages.mjs): the router must still import, start and serve.
 */
describe('packages loaded on first use', function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-lazy-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Two processes (or a provider) each: allow for a loaded machine.
  this.timeout(90_000);

  it('otplib: the router starts and signs up without it; a TOTP check fails with a clear error and spends neither the mfa_token nor the code', async () => {
    const file = join(dir, 'mfa.sqlite');
    const h = await startHarness({}, { storage: createKnexStorage(file) });
    try {
      const user = await signupWithOrg(h.app);
      const bearer = { Authorization: `Bearer ${user.access}` };
      const { secret } = (await request(h.app).post('/auth/mfa/totp/setup').set(bearer)).body;
      const enabled = await request(h.app).post('/auth/mfa/totp/enable').set(bearer).send({ code: await generate({ secret }) });
      expect(enabled.status).to.equal(200);
      const signin = await request(h.app).post('/auth/signin').send({ email: user.email, password: PASSWORD });
      expect(signin.body.code).to.equal('mfa_required');
      // The next step's code: the current one was spent by enabling.
      const code = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
      const marker = join(dir, 'hide-otplib');
      const { stdout, stderr } = await runHidden(['otplib'], marker, [
        ...serve(file),
        `const verify = () => post('/mfa/verify', { mfa_token: ${JSON.stringify(signin.body.mfa_token)}, code: ${JSON.stringify(code)} });`,
        'const failed = await verify();',
        // As after a failed load (a broken install fixed since): the next request loads it.
        `rmSync(${JSON.stringify(marker)});`,
        'const passed = await verify();',
        'console.log(signup.status, failed.status, passed.status, passed.ok ? typeof (await passed.json()).access_token : await passed.text());',
        'await close();',
      ]);
      expect(lastLine(stdout)).to.equal('201 500 200 string');
      expect(stderr).to.contain('TOTP needs the package otplib, which failed to load');
    } finally {
      await h.close();
    }
  });

  it('openid-client and jose: a router with Google sign-in starts and signs up without them; the sign-in fails with a clear error and leaves the code unspent', async () => {
    const oidc = await startOidcServer();
    try {
      const sub = `lazy-${Date.now()}`;
      oidc.accounts.set(sub, { email: `${sub}@example.com`, email_verified: true });
      const { code, codeVerifier, nonce } = await oidc.authorize({ sub });
      const google = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, issuer: oidc.issuer, allowInsecureRequests: true };
      const marker = join(dir, 'hide-oidc');
      const { stdout, stderr } = await runHidden(['openid-client', 'jose'], marker, [
        ...serve(join(dir, 'google.sqlite'), { google }),
        `const signIn = () => post('/google', ${JSON.stringify({ code, codeVerifier, nonce })});`,
        'const failed = await signIn();',
        `rmSync(${JSON.stringify(marker)});`,
        'const passed = await signIn();',
        'console.log(signup.status, failed.status, passed.status, passed.ok ? typeof (await passed.json()).access_token : await passed.text());',
        'await close();',
      ]);
      expect(lastLine(stdout)).to.equal('201 500 200 string');
      expect(stderr).to.contain('Google sign-in needs the packages openid-client and jose, which failed to load');
    } finally {
      await oidc.close();
    }
  });

  it('bcryptjs and the index of rate-limiter-flexible: a router hashing with @node-rs/bcrypt signs up, throttles and signs in without either', async () => {
    // Each would stay in the heap for good: bcryptjs is for the JavaScript engine only,
    // and the index loads every store of rate-limiter-flexible (Redis, Mongo, …).
    const marker = join(dir, 'hide-bcryptjs');
    const { stdout } = await runHidden(['bcryptjs'], marker, [
      ...serve(join(dir, 'bcrypt.sqlite')),
      "const email = 'bcrypt-' + Date.now() + '@example.com';",
      "const mine = await post('/signup', { email, password: 'correct horse battery staple', action: 'create', orgCreateProps: { name: 'Bcrypt', slug: 'bcrypt-' + Date.now() } });",
      "const wrong = await post('/signin', { email, password: 'not the password at all' });",
      "const right = await post('/signin', { email, password: 'correct horse battery staple' });",
      "const { createRequire } = await import('node:module');",
      "const index = Object.keys(createRequire(import.meta.url).cache).filter((file) => /rate-limiter-flexible[\\\\/]index\\.js$/.test(file));",
      'console.log(signup.status, mine.status, wrong.status, right.status, index.length);',
      'await close();',
    ]);
    expect(lastLine(stdout)).to.equal('201 201 401 200 0');
  });

  it('@simplewebauthn/server: a router with passkeys starts and signs up without it; the first passkey request fails with a clear error', async () => {
    const marker = join(dir, 'hide-webauthn');
    const { stdout, stderr } = await runHidden(['@simplewebauthn/server'], marker, [
      ...serve(join(dir, 'passkeys.sqlite'), { passkeys: { rpID: 'localhost', origins: ['http://localhost:3000'] } }),
      "const options = () => post('/passkeys/authentication/options', {});",
      'const failed = await options();',
      `rmSync(${JSON.stringify(marker)});`,
      'const passed = await options();',
      'console.log(signup.status, failed.status, passed.status);',
      'await close();',
    ]);
    expect(lastLine(stdout)).to.equal('201 500 200');
    expect(stderr).to.contain('passkeys needs the package @simplewebauthn/server, which failed to load');
  });
});

describe("rate-limiter-flexible's classes, each from its own file", () => {
  const require = createRequire(import.meta.url);
  const index = require('rate-limiter-flexible') as Record<string, unknown>;
  /** A require that fails for the package's lib/ files with `code`, as after a release that moved them. */
  const failingLib = (code: string) => (id: string) => {
    if (id.includes('/lib/')) throw Object.assign(new Error(`cannot load ${id}`), { code });
    return require(id) as unknown;
  };

  it('are the classes the index exports, so a limiter a host builds from the index rejects alike', () => {
    for (const name of ['RateLimiterMemory', 'RateLimiterRes', 'RateLimiterPostgres'] as const) expect(ownFileOr(name), name).to.equal(index[name]);
  });

  it("come from the index when a file is missing or not exported, and a file that fails otherwise still throws", () => {
    expect(ownFileOr('RateLimiterMemory', require, 'NoSuchFile')).to.equal(index.RateLimiterMemory);
    expect(ownFileOr('RateLimiterRes', failingLib('MODULE_NOT_FOUND'))).to.equal(index.RateLimiterRes);
    expect(ownFileOr('RateLimiterPostgres', failingLib('ERR_PACKAGE_PATH_NOT_EXPORTED'))).to.equal(index.RateLimiterPostgres);
    expect(() => ownFileOr('RateLimiterMemory', failingLib('ERR_REQUIRE_ESM'))).to.throw('cannot load rate-limiter-flexible/lib/RateLimiterMemory.js');
  });
});
