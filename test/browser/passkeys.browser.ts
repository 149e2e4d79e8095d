import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { startExampleProcess, type ExampleProcess } from '../helpers/example-process.js';

/**
 * Passkeys on the demo page in Chromium, with the browser's virtual authenticator (CDP
 * WebAuthn domain: a CTAP2 platform authenticator with resident keys and user
 * verification) in place of a real one. The example runs as `npm run example` runs it;
 * the page is opened at http://localhost:PORT, the origin its passkeys are bound to.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const SHOTS = join(ROOT, 'test-output', 'browser');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const PASSWORD = 'correct horse battery';


/**
 * The same example behind another port: a page there is another origin whose host still
 * matches the RP ID `localhost`, so the browser signs, and only the server can refuse.
 */
async function startProxy(target: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const upstream = httpRequest({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return { server, port: (server.address() as AddressInfo).port };
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

describe('passkeys on the demo page in chromium (virtual authenticator)', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  const pageErrors: string[] = [];
  let server: ExampleProcess;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId = '';
  const email = `passkey-${Date.now().toString(36)}@example.com`;
  const origin = () => `http://localhost:${server.port}`;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-passkeys-'));
    const profile = mkdtempSync(join(tmpdir(), 'gatehouse-chromium-'));
    dirs.push(dir, profile);
    server = await startExampleProcess({ MQTT_WS_PORT: 'off', AUTH_DATABASE: join(dir, 'passkeys.sqlite') });
    proxy = await startProxy(server.port);
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const added = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    authenticatorId = added.authenticatorId;
  });

  after(async () => {
    await context?.close();
    if (server) await server.stop();
    await new Promise((closed) => (proxy ? proxy.server.close(closed) : closed(undefined)));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && server) console.log(`example server output:\n${server.log()}`);
  });

  it('signs up and in with a password at http://localhost:PORT', async () => {
    await page.goto(origin());
    await page.locator('body[data-session="signed-out"]').waitFor();
    const signup = page.locator('#signup-form');
    await signup.locator('[name=email]').fill(email);
    await signup.locator('[name=password]').fill(PASSWORD);
    await signup.locator('[name=orgName]').fill('Passkey Org');
    await signup.locator('button[type=submit]').click();
    await page.locator('#notice', { hasText: `Account created for ${email}` }).waitFor();
    const signin = page.locator('#signin-form');
    await signin.locator('[name=email]').fill(email);
    await signin.locator('[name=password]').fill(PASSWORD);
    await signin.locator('button[type=submit]').click();
    await page.locator('body[data-session="signed-in"]').waitFor();
    await page.locator('#passkeys-hint', { hasText: 'No passkeys yet' }).waitFor();
  });

  it('registers a passkey: a resident credential for RP ID localhost, listed on the page', async () => {
    await page.locator('#passkey-form [name=name]').fill('Virtual authenticator');
    await page.locator('#passkey-form button[type=submit]').click();
    await page.locator('#notice', { hasText: 'Passkey added' }).waitFor();
    await page.locator('#passkeys-table tbody tr', { hasText: 'Virtual authenticator' }).waitFor();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).to.have.length(1);
    expect(credentials[0]).to.include({ isResidentCredential: true, rpId: 'localhost' });
    await shot(page, 'passkeys-01-registered');
  });

  it('signs out, then signs in with the passkey alone (no email, no password)', async () => {
    await page.locator('#logout').click();
    await page.locator('body[data-session="signed-out"]').waitFor();
    await page.locator('#passkey-signin').click();
    await page.locator('body[data-session="signed-in"]').waitFor();
    await page.locator(`#whoami[data-email="${email}"]`).waitFor();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials[0]?.signCount, 'the authenticator signed once more').to.be.greaterThan(0);
    // The session lives in the refresh cookie: a reload stays signed in.
    await page.reload();
    await page.locator('body[data-session="signed-in"]').waitFor();
    await shot(page, 'passkeys-02-signed-in');
  });

  it('refuses the same passkey used from another origin: 401 passkey_origin_mismatch', async () => {
    await page.locator('#logout').click();
    await page.locator('body[data-session="signed-out"]').waitFor();
    await page.goto(`http://localhost:${proxy.port}`);
    await page.locator('body[data-session="signed-out"]').waitFor();
    const verify = page.waitForResponse((res) => res.url().endsWith('/auth/passkeys/authentication/verify'));
    await page.locator('#passkey-signin').click();
    const answer = await verify;
    expect(answer.status()).to.equal(401);
    expect((await answer.json()).code).to.equal('passkey_origin_mismatch');
    await page.locator('#notice', { hasText: 'passkey_origin_mismatch' }).waitFor();
    expect(await page.locator('body').getAttribute('data-session')).to.equal('signed-out');
    await shot(page, 'passkeys-03-wrong-origin');
  });

  it('had no script errors', () => {
    expect(pageErrors).to.deep.equal([]);
  });
});
