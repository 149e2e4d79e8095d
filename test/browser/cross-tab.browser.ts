import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startExampleProcess, type ExampleProcess } from '../helpers/example-process.js';

/**
 * Two tabs of the demo page in one Chromium profile (one cookie jar, one origin) on the
 * cookie transport: one refresh per rotation for both, a tab opened later signs in from
 * the cookie, a logout in one tab signs the other out. The example runs with a 4 s
 * access token behind a middleware that records every POST /auth/refresh (cross-tab-server.ts).
 */


const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const PASSWORD = 'correct horse battery';
const ACCESS_TTL_S = 4;
// The client refreshes a quarter of the lifetime before the end: one rotation every 3 s.
const ROTATION_MS = ACCESS_TTL_S * 750;

interface RefreshSeen {
  at: number;
  cookie: string;
  status: number;
}

describe('cross-tab refresh on the cookie transport (demo page in chromium)', function () {
  this.timeout(120_000);
  const errors: string[] = [];
  let dir: string;
  let example: ExampleProcess | undefined;
  let url: string;
  let context: BrowserContext;
  let one: Page;
  let two: Page;
  const email = `tabs-${Date.now().toString(36)}@example.com`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tabs-'));
    example = await startExampleProcess({ AUTH_DATABASE: join(dir, 'demo.sqlite'), ACCESS_TTL_S: String(ACCESS_TTL_S) }, 'test/browser/cross-tab-server.ts');
    url = example.url;
    const signup = await fetch(`${url}/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Tabs', slug: `tabs-${Date.now().toString(36)}` } }),
    });
    expect(signup.status).to.equal(201);
    context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: ARGS });
  });

  after(async () => {
    await context?.close();
    await example?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const refreshes = async (): Promise<RefreshSeen[]> => (await fetch(`${url}/__refreshes`)).json() as Promise<RefreshSeen[]>;
  const open = async (): Promise<Page> => {
    const blank = context.pages().find((p) => p.url() === 'about:blank');
    const page = blank ?? (await context.newPage());
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(url);
    return page;
  };
  const session = (page: Page) => page.locator('body').getAttribute('data-session');

  it('signs in on the first tab with the refresh token in an HttpOnly cookie (no Secure on plain-http loopback)', async () => {
    one = await open();
    await one.locator('body[data-session="signed-out"]').waitFor();
    const form = one.locator('#signin-form');
    await form.locator('[name=email]').fill(email);
    await form.locator('[name=password]').fill(PASSWORD);
    await form.locator('button[type=submit]').click();
    await one.locator(`#whoami[data-email="${email}"]`).waitFor();
    const cookies = await context.cookies(`${url}/auth/refresh`);
    const refresh = cookies.find((c) => c.name === 'gatehouse_refresh');
    expect(refresh, 'the refresh cookie').to.not.equal(undefined);
    expect(refresh).to.include({ httpOnly: true, secure: false, sameSite: 'Strict', path: '/auth' });
    // Nothing a script can read holds a token.
    expect(await one.evaluate('JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie')).to.equal('{}{}');
  });

  it('starts a tab opened later signed in from the cookie, with one refresh', async () => {
    const before = (await refreshes()).length;
    two = await open();
    await two.locator(`#whoami[data-email="${email}"]`).waitFor();
    expect(await session(two)).to.equal('signed-in');
    expect((await refreshes()).length - before).to.be.within(1, 2); // the resume, and at most one timed rotation meanwhile
  });

  it('keeps both tabs signed in across several access-token lifetimes with exactly one refresh per rotation', async () => {
    const start = Date.now();
    const from = (await refreshes()).length;
    await new Promise((done) => setTimeout(done, ACCESS_TTL_S * 1000 * 3.5));
    const seen = (await refreshes()).slice(from);
    const elapsed = Date.now() - start;
    expect(await session(one)).to.equal('signed-in');
    expect(await session(two)).to.equal('signed-in');
    expect(seen.every((r) => r.status === 200), JSON.stringify(seen)).to.equal(true);
    // Each refresh cookie is presented once: no tab refreshed with a token another tab had already rotated.
    expect(new Set(seen.map((r) => r.cookie)).size).to.equal(seen.length);
    // One request per rotation: as many as a single tab would make, spaced a rotation apart (two tabs on their own would double it).
    expect(seen.length).to.be.within(Math.floor(elapsed / ROTATION_MS) - 1, Math.ceil(elapsed / ROTATION_MS) + 1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.at - seen[i - 1]!.at, 'gap between refreshes').to.be.greaterThan(ROTATION_MS - 1_000);
    // Both tabs call the API with the shared access token.
    for (const page of [one, two]) {
      await page.locator('#call-hello').click();
      await page.locator('#hello-result', { hasText: '200' }).waitFor();
    }
  });

  it('signs the other tab out on logout, and a tab opened then starts signed out', async () => {
    await one.locator('#logout').click();
    await one.locator('body[data-session="signed-out"]').waitFor();
    await two.locator('body[data-session="signed-out"]').waitFor();
    const three = await open();
    await three.locator('body[data-session="signed-out"]').waitFor();
    expect((await context.cookies(`${url}/auth/refresh`)).find((c) => c.name === 'gatehouse_refresh')).to.equal(undefined);
    expect(errors).to.deep.equal([]);
  });
});
