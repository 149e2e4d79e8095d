import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

/**
 * Packages only some requests need are loaded on their first use, not at import: every
 * module a process keeps adds to the cost of each garbage collection. Checked by hiding
 * the package (test/helpers/hide-packages.mjs): the router must still import, start and serve.
 */
describe('packages loaded on first use', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-lazy-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('@simplewebauthn/server: a router with passkeys starts and signs up without it', async () => {
    const lines = [
      "import { createAuthRouter } from 'gatehouse-auth';",
      "import { createKnexStorage } from 'gatehouse-auth/adapters/knex';",
      `const storage = createKnexStorage(${JSON.stringify(join(dir, 'lazy.sqlite'))});`,
      "const auth = createAuthRouter({ storage, tokens: { secret: 'x'.repeat(48) }, passwords: { cost: 4, threads: 0 }, passkeys: { rpID: 'localhost', origins: ['http://localhost:3000'] } });",
      'await auth.ready();',
      "const express = (await import('express')).default;",
      "const app = express().use('/auth', auth);",
      'const server = app.listen(0);',
      "await new Promise((done) => server.once('listening', done));",
      'const base = `http://127.0.0.1:${server.address().port}/auth`;',
      "const signup = await fetch(base + '/signup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'lazy@example.com', password: 'correct horse battery staple', action: 'create', orgCreateProps: { name: 'Lazy', slug: 'lazy' } }) });",
      "const options = await fetch(base + '/passkeys/authentication/options', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });",
      'console.log(signup.status, options.status);',
      'server.close(); await auth.close(); await storage.close();',
    ];
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--import', './test/helpers/hide-packages.mjs', '--conditions=gatehouse-source', '--input-type=module', '-e', lines.join('\n')],
      { cwd: root, timeout: 30_000, env: { ...process.env, GATEHOUSE_HIDE_PACKAGES: '@simplewebauthn/server' } },
    );
    // Sign-up works; the first passkey request is where the missing package shows (a 500).
    expect(stdout.trim()).to.equal('201 500');
  });
});
