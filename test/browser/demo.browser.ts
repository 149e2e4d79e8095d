import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { generate } from 'otplib';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startExampleProcess, type ExampleProcess } from '../helpers/example-process.js';
import { startInbox, type Inbox } from '../helpers/inbox.js';

/**
 * The demo page in a real browser: `example-app/server.ts` as `npm run example` runs
 * it (127.0.0.1, run-time ports, a temp SQLite file), driven with playwright-core and
 * Debian's chromium. Steps build on each other, so `npm run test:browser` bails at
 * the first failure. Screenshots of the main states land in test-output/browser/.
 * Mail goes through SMTP_URL to a real SMTP server in this process (test/helpers/inbox.ts).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const SHOTS = join(ROOT, 'test-output', 'browser');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const PASSWORD = 'correct horse battery';


const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** The TOTP code of a 30 s step, as an authenticator app would show it at that time. */
const totp = (secret: string, step: number) => generate({ secret, epoch: step * 30 });
const stepNow = () => Math.floor(Date.now() / 30_000);

async function signUp(page: Page, email: string, choice: { orgName: string } | { code: string }): Promise<void> {
  const form = page.locator('#signup-form');
  await form.locator('[name=email]').fill(email);
  await form.locator('[name=password]').fill(PASSWORD);
  if ('code' in choice) {
    await form.locator('input[name=action][value=join]').check();
    await form.locator('[name=invitationCode]').fill(choice.code);
  } else {
    await form.locator('[name=orgName]').fill(choice.orgName);
  }
  await form.locator('button[type=submit]').click();
  await page.locator('#notice', { hasText: `Account created for ${email}` }).waitFor();
}

/** Submits the sign-in form; resolves when the page is signed in or shows the MFA step. */
async function signIn(page: Page, email: string, password = PASSWORD): Promise<'signed-in' | 'mfa'> {
  const form = page.locator('#signin-form');
  await form.locator('[name=email]').fill(email);
  await form.locator('[name=password]').fill(password);
  await form.locator('button[type=submit]').click();
  await page.locator('body[data-session="signed-in"], #mfa-form:visible').first().waitFor();
  return (await page.locator('#mfa-form').isVisible()) ? 'mfa' : 'signed-in';
}

async function whoami(page: Page, email: string): Promise<Record<string, string>> {
  await page.locator(`#whoami[data-email="${email}"]`).waitFor();
  const labels = await page.locator('#whoami dt').allTextContents();
  const values = await page.locator('#whoami dd').allTextContents();
  return Object.fromEntries(labels.map((label, i) => [label, values[i] ?? '']));
}

async function openContext(dirs: string[], contexts: BrowserContext[] = []): Promise<BrowserContext> {
  // A fresh profile per context: nothing carries over from other runs.
  const profile = mkdtempSync(join(tmpdir(), 'gatehouse-chromium-'));
  dirs.push(profile);
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  return context;
}

/** Opens `url` in a tab of `context`; a browser that holds a live refresh cookie starts it signed in. */
async function newPage(context: BrowserContext, url: string, errors: string[], session: 'signed-in' | 'signed-out' = 'signed-out'): Promise<Page> {
  const page = context.pages()[0] && context.pages()[0]?.url() === 'about:blank' ? (context.pages()[0] as Page) : await context.newPage();
  page.on('pageerror', (err) => errors.push(err.message));
  // The danger zone asks confirm() before deleting.
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(url);
  await page.locator(`body[data-session="${session}"]`).waitFor();
  return page;
}

describe('demo page in chromium', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let server: ExampleProcess;
  let inbox: Inbox;
  let alice: BrowserContext;
  let bob: BrowserContext;
  let a: Page;
  let b: Page;
  const id = Date.now().toString(36);
  const aliceEmail = `alice-${id}@example.com`;
  const bobEmail = `bob-${id}@example.com`;
  const orgName = `Acme ${id}`;
  let inviteCode = '';
  let totpSecret = '';
  let enabledAtStep = 0;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-demo-'));
    dirs.push(dir);
    inbox = await startInbox();
    server = await startExampleProcess({ SMTP_URL: inbox.url, MQTT_WS_PORT: '0', AUTH_DATABASE: join(dir, 'demo.sqlite') });
    alice = await openContext(dirs, contexts);
    bob = await openContext(dirs, contexts);
  });

  after(async () => {
    for (const context of contexts) await context.close();
    if (server) await server.stop();
    await inbox?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && server) console.log(`example server output:\n${server.log()}`);
  });

  it('serves the page with no script errors', async () => {
    a = await newPage(alice, server.url, pageErrors);
    expect(await a.title()).to.equal('gatehouse demo');
    await shot(a, '01-signed-out');
  });

  it('signs up with a new organization, then signs in', async () => {
    await signUp(a, aliceEmail, { orgName });
    await shot(a, '02-signed-up');
    expect(await signIn(a, aliceEmail)).to.equal('signed-in');
    const me = await whoami(a, aliceEmail);
    expect(me.Organization).to.contain(orgName);
    expect(me.Role).to.equal('owner');
    await a.locator('#members-table tbody tr').first().waitFor();
    await a.locator('#mfa-status[data-state="off"]').waitFor();
    await shot(a, '03-signed-in');
  });

  it('verifies the address with the link of the sign-up mail', async () => {
    const mail = await inbox.next(aliceEmail, /Verify your email/);
    expect(mail.link).to.equal(`${server.url}/verify-email?token=${mail.token}`);
    await a.locator('#email-status[data-state="unverified"]').waitFor();
    // A fresh tab of the same browser, as a mail client would open it: the refresh cookie signs it in.
    const tab = await newPage(alice, mail.link!, pageErrors, 'signed-in');
    await tab.locator('#notice', { hasText: `Your email address ${aliceEmail} is verified` }).waitFor();
    expect(new URL(tab.url()).pathname, 'the token leaves the address bar').to.equal('/');
    await shot(tab, '03b-email-verified');
    await tab.close();
    await a.locator('#sessions-reload').click();
    await a.locator('#org-reload').click();
  });

  it('invites someone and shows the code', async () => {
    await a.locator('#invite-form button[type=submit]').click();
    await a.locator('#invite-result').waitFor();
    inviteCode = (await a.locator('#invite-code').textContent()) ?? '';
    expect(inviteCode).to.have.length.greaterThan(10);
    await shot(a, '04-invitation');
  });

  it('joins with the code in a second browser context', async () => {
    b = await newPage(bob, server.url, pageErrors);
    await signUp(b, bobEmail, { code: inviteCode });
    expect(await signIn(b, bobEmail)).to.equal('signed-in');
    const me = await whoami(b, bobEmail);
    expect(me.Organization).to.contain(orgName);
    expect(me.Role).to.equal('member');
    await b.locator('#members-table tbody tr').nth(1).waitFor();
    expect(await b.locator('#members-table tbody').textContent()).to.contain(aliceEmail);
    expect(await b.locator('#invite-form button[type=submit]').isDisabled()).to.equal(true);
    await b.locator('#keys-hint', { hasText: 'Only owners and admins' }).waitFor();
    await shot(b, '05-joined');
    // The owner's member list shows the newcomer after a reload.
    await a.locator('#org-reload').click();
    await a.locator('#members-table tbody tr', { hasText: bobEmail }).locator('.pill', { hasText: 'member' }).waitFor();
  });

  it('creates an API key (shown once) and revokes it', async () => {
    await a.locator('#key-form [name=name]').fill('ci-deploy');
    await a.locator('#key-form button[type=submit]').click();
    await a.locator('#new-key').waitFor();
    expect(await a.locator('#new-key-value').textContent()).to.match(/^ghk_[0-9a-f]{16}_/);
    await a.locator('#keys-table tbody tr', { hasText: 'ci-deploy' }).waitFor();
    await shot(a, '06-api-key');
    await a.locator('#keys-table tbody tr', { hasText: 'ci-deploy' }).getByRole('button', { name: 'Revoke' }).click();
    await a.locator('#keys-hint', { hasText: 'No API keys yet.' }).waitFor();
  });

  it('shows the audit log with the action just done, filters it by action, and verifies the chain', async () => {
    await a.locator('#audit-reload').click();
    // The key revoked a moment ago is the newest entry.
    await a.locator('#audit-table tbody tr:first-child[data-action="api_key.revoked"]').waitFor();
    expect(await a.locator('#audit-table tbody tr').first().textContent()).to.contain(aliceEmail);
    await a.locator('#audit-filter-form [name=action]').fill('member.joined');
    await a.locator('#audit-filter-form button[type=submit]').click();
    await a.waitForFunction("[...document.querySelectorAll('#audit-table tbody tr')].every((tr) => tr.dataset.action === 'member.joined')", undefined, { timeout: 10_000 });
    expect(await a.locator('#audit-table tbody tr').first().textContent()).to.contain(bobEmail);
    await a.locator('#audit-filter-form [name=action]').fill('');
    await a.locator('#audit-filter-form button[type=submit]').click();
    await a.locator('#audit-table tbody tr[data-action="api_key.created"]').waitFor();
    await a.locator('#audit-verify').click();
    await a.locator('#audit-verdict[data-state="valid"]', { hasText: 'chain valid' }).waitFor();
    await a.locator('#audit-card').scrollIntoViewIfNeeded();
    await shot(a, '06b-audit-log');
    // A member is told, not shown an error.
    await b.locator('#audit-hint', { hasText: 'Only owners and admins' }).waitFor();
  });

  it('registers the built-in receiver as a webhook; an action arrives there signed, checked in the page with the docs\' code', async () => {
    await a.locator('#webhook-use-receiver').click();
    expect(await a.locator('#webhook-form [name=url]').inputValue()).to.equal(`${server.url}/demo/webhook-receiver`);
    await a.locator('#webhook-form button[type=submit]').click();
    await a.locator('#new-webhook').waitFor();
    const secret = (await a.locator('#new-webhook-secret').textContent()) ?? '';
    expect(secret).to.match(/^whsec_/);
    expect(await a.locator('#receiver-secret').inputValue(), 'the receiver card remembers it').to.equal(secret);
    await a.locator('#webhooks-table tbody tr', { hasText: '/demo/webhook-receiver' }).locator('.pill', { hasText: 'enabled' }).waitFor();

    // Something to tell: an invitation. The page polls the receiver and checks the signature in the browser.
    await a.locator('#invite-form button[type=submit]').click();
    await a.locator('#invite-result').waitFor();
    const arrived = a.locator('#receiver-table tbody tr[data-signature="valid"]', { hasText: 'member.invited' }).first();
    await arrived.waitFor({ timeout: 15_000 });
    expect(await arrived.textContent()).to.contain('signature valid');
    const webhookId = (await arrived.getAttribute('data-webhook-id')) ?? '';

    // The delivery log, and a redelivery that arrives with the same webhook-id, signed alike.
    await a.locator('#webhooks-table tbody tr', { hasText: '/demo/webhook-receiver' }).getByRole('button', { name: 'Deliveries' }).click();
    const delivered = a.locator('#deliveries-table tbody tr[data-status="delivered"]', { hasText: 'member.invited' }).first();
    await delivered.waitFor();
    await delivered.getByRole('button', { name: 'Redeliver' }).click();
    await a.locator('#notice', { hasText: 'Queued member.invited again' }).waitFor();
    await a.locator(`#receiver-table tbody tr[data-signature="valid"][data-webhook-id="${webhookId}"]`).nth(1).waitFor({ timeout: 15_000 });

    // Rotating shows a new secret once; what the page runs is the code docs/webhooks.md shows.
    await a.locator('#webhooks-table tbody tr', { hasText: '/demo/webhook-receiver' }).getByRole('button', { name: 'Rotate secret' }).click();
    await a.waitForFunction(`document.getElementById('new-webhook-secret').textContent !== ${JSON.stringify(secret)}`, undefined, { timeout: 10_000 });
    const source = readFileSync(join(ROOT, 'example-app/web/src/verify-webhook.ts'), 'utf8');
    await a.waitForFunction("document.getElementById('receiver-code').textContent.includes('crypto.subtle.verify')", undefined, { timeout: 10_000 });
    expect(await a.locator('#receiver-code').textContent()).to.equal(source);
    const docs = readFileSync(join(ROOT, 'docs/webhooks.md'), 'utf8');
    expect(docs, 'docs/webhooks.md quotes verify-webhook.ts as it is').to.contain('```ts\n' + source + '```');
    await a.locator('#receiver-card').scrollIntoViewIfNeeded();
    await shot(a, '06c-webhook-receiver');
  });

  it('changes the security policy (owner) and shows what it enforced; a lock-out is refused with 409', async () => {
    const form = a.locator('#policy-form');
    await b.locator('#policy-hint', { hasText: 'Only owners' }).waitFor();
    expect(await b.locator('#policy-form button[type=submit]').isDisabled()).to.equal(true);
    // Alice signed in with her password: allowing passkeys only would shut her out.
    await form.locator('[name=restrictMethods]').check();
    await form.locator('[name=method][value=password]').uncheck();
    await form.locator('[name=method][value=google]').uncheck();
    await form.locator('[name=method][value=api_key]').uncheck();
    await form.locator('button[type=submit]').click();
    await form.locator('.form-error', { hasText: '409 policy_excludes_you' }).waitFor();
    await a.locator('#policy-card').scrollIntoViewIfNeeded();
    await shot(a, '06d-policy-lockout');
    await form.locator('[name=restrictMethods]').uncheck();
    await form.locator('[name=maxSessionAge]').fill('86400');
    await form.locator('button[type=submit]').click();
    await a.locator('#policy-result[data-sessions-ended="0"][data-api-keys-revoked="0"]', { hasText: 'Enforced at once' }).waitFor();
    expect(await a.locator('#policy-updated').textContent()).to.contain('changed');
    expect(await form.locator('.form-error').textContent()).to.equal('');
    // Back to no limit, so the steps after this one meet the defaults.
    await form.locator('[name=maxSessionAge]').fill('');
    await form.locator('button[type=submit]').click();
    await a.waitForFunction("document.querySelector('#policy-form [name=maxSessionAge]').value === '' && !document.getElementById('policy-result').hidden", undefined, { timeout: 10_000 });
  });

  it('custom roles: the owner creates one with projects:write and gives it to a member, whose "try it" POST goes from 403 to allowed', async () => {
    // Bob is a plain member: he reads projects, and writing them is refused with the missing permission.
    await b.locator('#roles-hint', { hasText: 'Only owners' }).waitFor();
    expect(await b.locator('#role-form button[type=submit]').isDisabled()).to.equal(true);
    await b.locator('#try-read').click();
    await b.locator('#try-result[data-call="GET /api/projects"][data-outcome="allowed"][data-status="200"]').waitFor();
    await b.locator('#try-write').click();
    const refused = b.locator('#try-result[data-call="POST /api/projects"][data-outcome="denied"][data-status="403"]');
    await refused.waitFor();
    expect(await refused.textContent()).to.contain('permission_denied').and.contain('missing permission: projects:write');
    await b.locator('#roles-card').scrollIntoViewIfNeeded();
    await shot(b, '06e-roles-member-refused');

    // The built-in roles with what they grant, then a custom role from the checkboxes.
    await a.locator('#roles-reload').click();
    expect(await a.locator('#roles-table tbody tr').first().textContent()).to.contain('owner').and.contain('billing:manage');
    expect(await a.locator('#role-permissions input[type=checkbox]').count()).to.equal(3);
    await a.locator('#role-form [name=name]').fill('Project writer');
    await a.locator('#role-permissions input[value="projects:write"]').check();
    await a.locator('#role-form button[type=submit]').click();
    await a.locator('#roles-table tbody tr[data-name="Project writer"]').waitFor();
    // Edited: renamed, with the permissions kept.
    await a.locator('#roles-table tbody tr[data-name="Project writer"]').getByRole('button', { name: 'Edit' }).click();
    expect(await a.locator('#role-permissions input[value="projects:write"]').isChecked()).to.equal(true);
    await a.locator('#role-form [name=name]').fill('Project editor');
    await a.locator('#role-form button[type=submit]').click();
    const row = a.locator('#roles-table tbody tr[data-name="Project editor"]');
    await row.waitFor();
    expect(await row.textContent()).to.contain('projects:write');

    // Given to Bob in the assign form.
    await a.locator('#assign-form [name=userId]').selectOption({ label: bobEmail });
    await a.locator('#assign-form [name=roleId]').selectOption({ label: 'Project editor' });
    await a.locator('#assign-form button[type=submit]').click();
    await row.locator('td', { hasText: bobEmail }).waitFor();
    // A held role cannot be deleted.
    await row.getByRole('button', { name: 'Delete' }).click();
    await a.locator('#notice', { hasText: '409 role_in_use' }).waitFor();
    await a.locator('#roles-card').scrollIntoViewIfNeeded();
    await shot(a, '06f-roles-owner');

    // Bob's next call counts the new role: no sign-in again, no refresh.
    await b.locator('#try-write').click();
    const allowed = b.locator('#try-result[data-call="POST /api/projects"][data-outcome="allowed"][data-status="201"]');
    await allowed.waitFor();
    expect(await allowed.textContent()).to.contain('projects:write');
    await shot(b, '06g-roles-member-allowed');
  });

  it('creates an API key limited to a permission', async () => {
    await a.locator('#key-limit summary').click();
    await a.locator('#key-permissions input[value="projects:read"]').check();
    await a.locator('#key-form [name=name]').fill('read-only');
    await a.locator('#key-form button[type=submit]').click();
    await a.locator('#new-key').waitFor();
    const key = (await a.locator('#new-key-value').textContent()) ?? '';
    const row = a.locator('#keys-table tbody tr', { hasText: 'read-only' });
    await row.waitFor();
    expect(await row.textContent()).to.contain('projects:read');
    // The key reads projects and is refused writing them (the tenant is in the curl line shown with it).
    const tenant = /X-Tenant-Id: ([^']+)/.exec((await a.locator('#new-key-usage').textContent()) ?? '')?.[1] ?? '';
    const headers = { 'x-api-key': key, 'x-tenant-id': tenant };
    expect((await fetch(`${server.url}/api/projects`, { headers })).status).to.equal(200);
    const write = await fetch(`${server.url}/api/projects`, { method: 'POST', headers });
    expect(write.status).to.equal(403);
    expect(await write.json()).to.include({ code: 'permission_denied', permission: 'projects:write' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await a.locator('#keys-hint', { hasText: 'No API keys yet.' }).waitFor();
  });

  it('creates a second organization, then switches back', async () => {
    await a.locator('#org-card summary').click();
    await a.locator('#setup-org-form [name=orgName]').fill(`Side ${id}`);
    await a.locator('#setup-org-form button[type=submit]').click();
    await a.locator('#whoami dd', { hasText: `Side ${id}` }).waitFor();
    await a.locator('#my-orgs li').nth(1).waitFor();
    await a.locator('#my-orgs li', { hasText: orgName }).getByRole('button', { name: 'Switch' }).click();
    await a.locator('#whoami dd', { hasText: orgName }).waitFor();
    await a.locator('#my-orgs li', { hasText: orgName }).locator('.pill.on').waitFor();
    await shot(a, '07-switched-org');
  });

  let a2: Page;
  it('signs in the same user on a second device', async () => {
    // Tabs of one browser share the refresh cookie (one session, see cross-tab.browser.ts): a session of its own needs another profile.
    a2 = await newPage(await openContext(dirs, contexts), server.url, pageErrors);
    expect(await signIn(a2, aliceEmail)).to.equal('signed-in');
    await whoami(a2, aliceEmail);
  });

  it('enables TOTP with the QR code and a code computed here', async () => {
    await a.locator('#mfa-setup').click();
    await a.locator('#mfa-enrol').waitFor();
    totpSecret = (await a.locator('#totp-secret').textContent()) ?? '';
    expect(totpSecret).to.match(/^[A-Z2-7]{16,}$/);
    // The QR code decodes as an image (a string predicate: this file is type-checked without DOM types).
    await a.waitForFunction("document.getElementById('totp-qr').naturalWidth > 100", undefined, { timeout: 5_000 });
    await shot(a, '08-mfa-qr');
    enabledAtStep = stepNow();
    await a.locator('#mfa-enable-form [name=code]').fill(await totp(totpSecret, enabledAtStep));
    await a.locator('#mfa-enable-form button[type=submit]').click();
    await a.locator('#recovery-codes li').nth(9).waitFor();
    await a.locator('#mfa-status[data-state="on"]').waitFor();
    await shot(a, '09-mfa-enabled');
  });

  it('shows the other tab as signed out once the server ends its session (401 after revocation)', async () => {
    // Enabling MFA signed out the user's other sessions; the other tab learns it from its next call.
    await a2.locator('#call-hello').click();
    await a2.locator('body[data-session="signed-out"]').waitFor();
    await a2.locator('#notice', { hasText: 'ended on the server' }).waitFor();
    await shot(a2, '10-revoked-elsewhere');
    await a2.close();
  });

  it('signs out and in again through the MFA step', async () => {
    await a.locator('#logout').click();
    await a.locator('body[data-session="signed-out"]').waitFor();
    expect(await signIn(a, aliceEmail)).to.equal('mfa');
    await shot(a, '11-mfa-step');
    // A code is spent once: use the step after the one that enabled MFA if the clock has not moved on.
    await a.locator('#mfa-form [name=code]').fill(await totp(totpSecret, Math.max(stepNow(), enabledAtStep + 1)));
    await a.locator('#mfa-form button[type=submit]').click();
    const me = await whoami(a, aliceEmail);
    expect(me.Organization).to.contain(orgName);
    await shot(a, '12-signed-in-after-mfa');
  });

  it('exchanges realtime messages between the two contexts', async () => {
    // Alice on MQTT 5 (the default), Bob on the MQTT 3.1.1 fallback: the example broker speaks both.
    await b.locator('#rt-protocol').selectOption('4');
    for (const page of [a, b]) {
      await page.locator('#rt-connect').click();
      await page.locator('#rt-status', { hasText: 'connected' }).waitFor();
      await page.locator('#rt-subscribe-form button[type=submit]').click();
      await page.locator('#rt-subscriptions li').waitFor();
    }
    const prefixA = await a.locator('#rt-info dd').nth(2).textContent();
    expect(prefixA).to.equal(await b.locator('#rt-info dd').nth(2).textContent());
    expect(await a.locator('#rt-info dd').nth(4).textContent()).to.equal('MQTT 5');
    expect(await b.locator('#rt-info dd').nth(4).textContent()).to.equal('MQTT 3.1.1');

    await a.locator('#rt-message').fill('hello from alice');
    await a.locator('#rt-publish-form button[type=submit]').click();
    await b.locator('#rt-log li', { hasText: 'hello from alice' }).waitFor();
    await b.locator('#rt-message').fill('hi alice, bob here');
    await b.locator('#rt-publish-form button[type=submit]').click();
    await a.locator('#rt-log li', { hasText: 'hi alice, bob here' }).waitFor();
    await shot(a, '13-realtime-alice');
    await shot(b, '14-realtime-bob');
  });

  it('lists the sessions and signs out another one', async () => {
    const b2 = await newPage(await openContext(dirs, contexts), server.url, pageErrors);
    expect(await signIn(b2, bobEmail)).to.equal('signed-in');
    await b.locator('#sessions-reload').click();
    await b.locator('#sessions-table tbody tr').nth(1).waitFor();
    expect(await b.locator('#sessions-table tbody tr[data-current="true"]').count()).to.equal(1);
    await b.locator('#security-card').scrollIntoViewIfNeeded();
    await shot(b, '16-sessions');
    await b.locator('#sessions-table tbody tr:not([data-current])').getByRole('button', { name: 'Sign out' }).click();
    await b.locator('#notice', { hasText: 'Signed out Chrome' }).waitFor();
    // The notice comes before the list is reloaded: wait for the reload rather than read it at once.
    await b.waitForFunction("document.querySelectorAll('#sessions-table tbody tr').length === 1", undefined, { timeout: 10_000 });
    await b2.locator('#call-hello').click();
    await b2.locator('body[data-session="signed-out"]').waitFor();
    await b2.close();
  });

  const newPassword = 'a brand new passphrase';
  it('resets a forgotten password: forgot → mail → link → new password → sign in', async () => {
    await b.locator('#logout').click();
    await b.locator('body[data-session="signed-out"]').waitFor();
    await b.locator('#signin-form [name=email]').fill(bobEmail);
    await b.locator('#forgot-open').click();
    expect(await b.locator('#forgot-form [name=email]').inputValue()).to.equal(bobEmail);
    await b.locator('#forgot-form button[type=submit]').click();
    await b.locator('#notice', { hasText: `If ${bobEmail} has an account` }).waitFor();
    const mail = await inbox.next(bobEmail, /Reset your/);
    expect(mail.link).to.equal(`${server.url}/reset-password?token=${mail.token}`);
    // Opened in a browser still signed in (a live refresh cookie): the reset form shows all the same.
    expect(await signIn(b, bobEmail, PASSWORD)).to.equal('signed-in');
    await b.goto(mail.link!);
    await b.locator('#reset-card').waitFor();
    await b.locator('body[data-session="signed-out"]').waitFor();
    expect(new URL(b.url()).pathname).to.equal('/');
    await shot(b, '17-reset-password');
    await b.locator('#reset-form [name=password]').fill(newPassword);
    await b.locator('#reset-form button[type=submit]').click();
    await b.locator('#notice', { hasText: 'Your password is changed' }).waitFor();
    expect(await b.locator('#reset-card').isVisible()).to.equal(false);
    await shot(b, '18-password-reset');
    // The old password is refused, the new one works.
    await b.locator('#signin-form [name=email]').fill(bobEmail);
    await b.locator('#signin-form [name=password]').fill(PASSWORD);
    await b.locator('#signin-form button[type=submit]').click();
    await b.locator('#signin-form .form-error', { hasText: 'invalid_credentials' }).waitFor();
    expect(await signIn(b, bobEmail, newPassword)).to.equal('signed-in');
    await whoami(b, bobEmail);
    // The reset mail's link proved the address.
    await b.locator('#email-status[data-state="verified"]').waitFor();
    expect((await inbox.next(bobEmail, /password was changed/)).text).to.contain(bobEmail);
  });

  it('shows the account panels and the danger zone', async () => {
    await a.locator('#transfer-form select option', { hasText: bobEmail }).waitFor({ state: 'attached' });
    expect(await a.locator('#delete-org-form button[type=submit]').isDisabled()).to.equal(false);
    expect(await b.locator('#delete-org-form button[type=submit]').isDisabled(), 'a member may not delete the org').to.equal(true);
    await a.locator('#danger-card').scrollIntoViewIfNeeded();
    await shot(a, '19-account-panels');
  });

  it('deletes an account from the danger zone and signs it out', async () => {
    await b.locator('#delete-account-form [name=proof]').fill(newPassword);
    await b.locator('#delete-account-form button[type=submit]').click();
    await b.locator('body[data-session="signed-out"]').waitFor();
    await b.locator('#notice', { hasText: 'Your account is deleted' }).waitFor();
    await b.locator('#signin-form [name=email]').fill(bobEmail);
    await b.locator('#signin-form [name=password]').fill(newPassword);
    await b.locator('#signin-form button[type=submit]').click();
    await b.locator('#signin-form .form-error', { hasText: 'invalid_credentials' }).waitFor();
  });

  it('renders the API reference at /docs from the local Swagger UI', async () => {
    const docs = await alice.newPage();
    docs.on('pageerror', (err) => pageErrors.push(err.message));
    const external: string[] = [];
    docs.on('request', (req) => {
      if (!req.url().startsWith(server.url) && !req.url().startsWith('data:')) external.push(req.url());
    });
    await docs.goto(`${server.url}/docs`);
    await docs.locator('.opblock-summary-path', { hasText: '/iot-credentials' }).first().waitFor();
    expect(external, 'nothing is loaded from outside the example').to.deep.equal([]);
    await shot(docs, '15-docs');
    await docs.close();
  });

  it('raised no script errors on any page', () => {
    expect(pageErrors).to.deep.equal([]);
  });
});
