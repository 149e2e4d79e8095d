import { expect } from 'chai';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { createSmtpMailer, type AuthRouterOptions, type MailData, type MailKind } from 'gatehouse-auth';
import { join } from 'node:path';
import { eventually } from '../helpers/eventually.js';
import request from 'supertest';
import { signupWithOrg, startHarness, unique, type Harness } from '../helpers/harness.js';
import { startSmtp, type ReceivedMail, type TestSmtp } from '../helpers/smtp.js';

const HOUR = 3_600_000;
const FROM = 'Example App <no-reply@example.com>';

function mailOptions(smtp: TestSmtp, extra: NonNullable<AuthRouterOptions['mail']> = {}): Partial<AuthRouterOptions> {
  return {
    mail: {
      mailer: createSmtpMailer(smtp.url),
      from: FROM,
      productName: 'Example App',
      appUrl: 'https://app.example.com/',
      ...extra,
      worker: { autoStart: false, ...extra.worker },
    },
  };
}

async function queue<K extends MailKind>(h: Harness, kind: K, to: string, data: MailData[K]): Promise<void> {
  await h.storage.transaction((tx) => h.auth.services.mail.queue(tx, kind, to, data));
}

const tokenOf = (link: string, param = 'token') => new URL(link).searchParams.get(param);

describe('mail: templates and SMTP delivery (smtp-server + mailparser)', function () {
  this.timeout(30_000);
  let smtp: TestSmtp;
  let h: Harness;

  before(async () => {
    smtp = await startSmtp();
    h = await startHarness(mailOptions(smtp));
  });
  after(async () => {
    await h?.close();
    await smtp?.stop();
  });
  beforeEach(() => {
    smtp.received.length = 0;
  });

  it('link() fills the default per-kind URL templates from appUrl, encoding the token', () => {
    const { mail } = h.auth.services;
    expect(mail.link('verify_email', 'abc')).to.equal('https://app.example.com/verify-email?token=abc');
    expect(mail.link('reset_password', 'a+b/c=')).to.equal('https://app.example.com/reset-password?token=a%2Bb%2Fc%3D');
    expect(mail.link('change_email', 'x')).to.equal('https://app.example.com/verify-email?token=x');
    expect(mail.link('invitation', 'CODE1')).to.equal('https://app.example.com/accept-invitation?code=CODE1');
  });

  it('a mail of each kind arrives with its sender, subject, text, HTML and the link carrying the token', async () => {
    const { mail } = h.auth.services;
    const id = unique();
    const expiresAt = Date.now() + HOUR;
    const to = (kind: string) => `${kind}-${id}@example.com`;
    const tokens = { verify_email: `v-${id}`, reset_password: `r-${id}`, change_email: `c-${id}`, invitation: `I${id}` };
    await h.storage.transaction(async (tx) => {
      await mail.queue(tx, 'verify_email', to('verify'), { email: to('verify'), token: tokens.verify_email, link: mail.link('verify_email', tokens.verify_email), expiresAt: Date.now() + 24 * HOUR });
      await mail.queue(tx, 'reset_password', to('reset'), { email: to('reset'), token: tokens.reset_password, link: mail.link('reset_password', tokens.reset_password), expiresAt: Date.now() + HOUR / 2 });
      await mail.queue(tx, 'change_email', to('new'), { newEmail: to('new'), token: tokens.change_email, link: mail.link('change_email', tokens.change_email), expiresAt });
      await mail.queue(tx, 'email_changed', to('old'), { oldEmail: to('old'), newEmail: to('new') });
      await mail.queue(tx, 'password_changed', to('pw'), { email: to('pw') });
      await mail.queue(tx, 'invitation', to('invitee'), { orgName: 'Acme', role: 'admin', code: tokens.invitation, link: mail.link('invitation', tokens.invitation), expiresAt: Date.now() + 7 * 24 * HOUR });
    });
    expect(await mail.deliverPending()).to.equal(6);
    expect(smtp.received).to.have.length(6);
    const byTo = (address: string): ReceivedMail => {
      const found = smtp.received.filter((m) => m.to.includes(address));
      expect(found, address).to.have.length(1);
      return found[0]!;
    };
    for (const m of smtp.received) {
      expect(m.from).to.equal('"Example App" <no-reply@example.com>');
      expect(m.subject).to.contain('Example App');
      expect(m.html).to.match(/^<!doctype html>/);
    }

    const verify = byTo(to('verify'));
    expect(verify.subject).to.equal('Verify your email address for Example App');
    expect(verify.text).to.contain(`Confirm that ${to('verify')} is your address`).and.contain('valid for 1 day');
    expect(verify.links).to.deep.equal([`https://app.example.com/verify-email?token=${tokens.verify_email}`]);
    expect(tokenOf(verify.links[0]!)).to.equal(tokens.verify_email);
    expect(verify.html).to.contain(`href="https://app.example.com/verify-email?token=${tokens.verify_email}"`);

    const reset = byTo(to('reset'));
    expect(reset.subject).to.equal('Reset your Example App password');
    expect(reset.text).to.contain('valid for 30 minutes and works once');
    expect(reset.links.map((l) => tokenOf(l))).to.deep.equal([tokens.reset_password]);
    expect(new URL(reset.links[0]!).pathname).to.equal('/reset-password');
    expect(reset.html).to.contain('Choose a new password');

    const change = byTo(to('new'));
    expect(change.subject).to.equal('Confirm your new email address for Example App');
    expect(change.text).to.contain(`To make ${to('new')} the address`);
    expect(change.links.map((l) => tokenOf(l))).to.deep.equal([tokens.change_email]);

    const changed = byTo(to('old'));
    expect(changed.subject).to.equal('Your Example App email address is changing');
    expect(changed.text).to.contain(`from ${to('old')} to ${to('new')}`);
    expect(changed.links).to.deep.equal([]);

    const pw = byTo(to('pw'));
    expect(pw.subject).to.equal('Your Example App password was changed');
    expect(pw.text).to.contain(`The password of ${to('pw')} at Example App was just changed`);
    expect(pw.links).to.deep.equal([]);

    const invitation = byTo(to('invitee'));
    expect(invitation.subject).to.equal('You are invited to Acme on Example App');
    expect(invitation.text).to.contain('join Acme on Example App as admin').and.contain(`invitation code ${tokens.invitation}`).and.contain('valid for 7 days');
    expect(invitation.links.map((l) => tokenOf(l, 'code'))).to.deep.equal([tokens.invitation]);
  });

  it('every mail is delivered once: later passes send nothing more', async () => {
    await queue(h, 'password_changed', `once-${unique()}@example.com`, { email: 'x@example.com' });
    expect(await h.auth.services.mail.deliverPending()).to.equal(1);
    expect(await h.auth.services.mail.deliverPending()).to.equal(0);
    expect(smtp.received).to.have.length(1);
  });

  it('a mail queued in a transaction that rolls back is never sent', async () => {
    const to = `rollback-${unique()}@example.com`;
    let failure: unknown;
    await h.storage
      .transaction(async (tx) => {
        await h.auth.services.mail.queue(tx, 'password_changed', to, { email: to });
        throw new Error('the action failed');
      })
      .catch((err: unknown) => (failure = err));
    expect((failure as Error).message).to.equal('the action failed');
    expect(await h.auth.services.mail.deliverPending()).to.equal(0);
    expect(smtp.received).to.deep.equal([]);
  });
});

describe('mail: templates the host overrides, and escaping', function () {
  this.timeout(30_000);
  let smtp: TestSmtp;
  let h: Harness;

  before(async () => {
    smtp = await startSmtp();
    h = await startHarness(
      mailOptions(smtp, {
        urls: { resetPassword: 'https://accounts.example.org/r/{token}?src=mail' },
        templates: {
          reset_password: {
            subject: (d, c) => `[${c.productName}] reset for ${d.email}`,
            text: (d) => `Custom text: ${d.link}\n`,
          },
        },
      }),
    );
  });
  after(async () => {
    await h?.close();
    await smtp?.stop();
  });

  it('overridden subject and text are used, the HTML stays default; a per-kind URL template places the token', async () => {
    const { mail } = h.auth.services;
    const link = mail.link('reset_password', 'tok/1');
    expect(link).to.equal('https://accounts.example.org/r/tok%2F1?src=mail');
    await queue(h, 'reset_password', 'custom@example.com', { email: 'custom@example.com', token: 'tok/1', link, expiresAt: Date.now() + HOUR });
    await mail.deliverPending();
    const [m] = smtp.received;
    expect(m?.subject).to.equal('[Example App] reset for custom@example.com');
    expect(m?.text.trim()).to.equal(`Custom text: ${link}`);
    expect(m?.html).to.contain('Choose a new password').and.contain('href="https://accounts.example.org/r/tok%2F1?src=mail"');
  });

  it('data is escaped in HTML (an org name with markup), line breaks never reach the subject header', async () => {
    const orgName = '<script>alert(1)</script> & "Co"\r\nBcc: victim@example.com';
    await queue(h, 'invitation', 'escape@example.com', { orgName, role: 'member', code: 'C0DE', link: h.auth.services.mail.link('invitation', 'C0DE'), expiresAt: Date.now() + HOUR });
    await h.auth.services.mail.deliverPending();
    const m = smtp.received.find((r) => r.to.includes('escape@example.com'));
    expect(m?.html).to.contain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;');
    expect(m?.html).not.to.contain('<script>');
    expect(m?.subject).to.equal('You are invited to <script>alert(1)</script> & "Co" Bcc: victim@example.com on Example App');
    expect(m?.to).to.deep.equal(['escape@example.com']);
    expect(m?.parsed.bcc).to.equal(undefined);
  });
});

describe('mail: outage, backoff and restarts lose no mail', function () {
  this.timeout(30_000);
  let smtp: TestSmtp;
  const harnesses: Harness[] = [];
  const open = async (overrides: Partial<AuthRouterOptions>, storage?: Harness['storage']) => {
    const h = await startHarness(overrides, storage ? { storage } : {});
    harnesses.push(h);
    return h;
  };

  before(async () => {
    smtp = await startSmtp();
  });
  after(async () => {
    for (const h of harnesses) await h.close().catch(() => {});
    await smtp?.stop();
  });
  beforeEach(() => {
    smtp.received.length = 0;
  });

  it('SMTP down: the pass fails and backs off; SMTP back on the same port: the mail arrives exactly once', async () => {
    const h = await open(mailOptions(smtp, { worker: { backoff: '1s', maxBackoff: '1m' } }));
    const { mail } = h.auth.services;
    await smtp.stop();
    const to = `outage-${unique()}@example.com`;
    await queue(h, 'password_changed', to, { email: to });
    expect(await mail.deliverPending()).to.equal(0);
    const [row] = await h.storage.knex('auth_mail_outbox').where({ to });
    expect(row.attempts).to.equal(1);
    expect(row.sent_at).to.equal(null);
    expect(row.last_error).to.match(/ECONNREFUSED/);
    // Still backing off: an immediate pass does not try again.
    expect(await mail.deliverPending()).to.equal(0);
    expect((await h.storage.knex('auth_mail_outbox').where({ to }).first()).attempts).to.equal(1);

    await smtp.start();
    let sent = 0;
    await eventually(async () => (sent += await mail.deliverPending()) > 0, 5_000, 'the retry after the backoff');
    expect(sent).to.equal(1);
    expect(await mail.deliverPending()).to.equal(0);
    expect(smtp.received.map((m) => m.to)).to.deep.equal([[to]]);
    const delivered = await h.storage.knex('auth_mail_outbox').where({ to }).first();
    expect(delivered.attempts).to.equal(2);
    expect(Number(delivered.sent_at)).to.be.greaterThan(0);
  });

  it('over HTTP: SMTP down, POST /password/forgot, SMTP back: the reset mail arrives once with a token link', async () => {
    const h = await open(mailOptions(smtp, { worker: { backoff: '1s' } }));
    const user = await signupWithOrg(h.app);
    await h.auth.services.mail.deliverPending(); // whatever sign-up sent
    smtp.received.length = 0;
    await smtp.stop();
    const res = await request(h.app).post('/auth/password/forgot').send({ email: user.email });
    expect(res.status).to.equal(202);
    expect(await h.auth.services.mail.deliverPending()).to.equal(0);
    await smtp.start();
    await eventually(async () => (await h.auth.services.mail.deliverPending()) > 0, 5_000, 'the reset mail after the backoff');
    expect(await h.auth.services.mail.deliverPending()).to.equal(0);
    expect(smtp.received).to.have.length(1);
    const [m] = smtp.received;
    expect(m?.to).to.deep.equal([user.email]);
    expect(m?.subject).to.equal('Reset your Example App password');
    expect(m?.links).to.have.length(1);
    expect(new URL(m!.links[0]!).pathname).to.equal('/reset-password');
    expect(tokenOf(m!.links[0]!)).to.match(/^[A-Za-z0-9_-]{43,}$/);
  });

  it('a mail queued before a restart is delivered by the next process on the same storage', async () => {
    const first = await open(mailOptions(smtp));
    const file = join(first.dir, 'auth.sqlite');
    const to = `restart-${unique()}@example.com`;
    await queue(first, 'password_changed', to, { email: to });
    await first.auth.close();
    await first.storage.close();
    const second = await open(mailOptions(smtp), createKnexStorage({ filename: file }));
    expect(await second.auth.services.mail.deliverPending()).to.equal(1);
    expect(smtp.received.map((m) => m.to)).to.deep.equal([[to]]);
  });

  it('gives a mail up after maxAttempts, keeps it in the outbox and logs an error', async () => {
    const errors: Array<[string, Record<string, unknown> | undefined]> = [];
    const h = await open({
      ...mailOptions(smtp, { worker: { backoff: '1s', maxAttempts: 2 } }),
      logger: { warn: () => {}, error: (message, fields) => errors.push([message, fields]) },
    });
    await smtp.stop();
    try {
      const to = `doomed-${unique()}@example.com`;
      await queue(h, 'password_changed', to, { email: to });
      await h.auth.services.mail.deliverPending();
      await eventually(async () => (await h.auth.services.mail.deliverPending(), errors.length > 0), 5_000, 'the second failure');
      const row = await h.storage.knex('auth_mail_outbox').where({ to }).first();
      expect(row.attempts).to.equal(2);
      expect(Number(row.failed_at)).to.be.greaterThan(0);
      expect(errors[0]?.[0]).to.equal('gatehouse: mail given up');
      expect(errors[0]?.[1]).to.include({ kind: 'password_changed', attempts: 2 });
      expect(JSON.stringify(errors)).not.to.contain(to);
    } finally {
      await smtp.start();
    }
    expect(await h.auth.services.mail.deliverPending()).to.equal(0);
    expect(smtp.received).to.deep.equal([]);
  });

  it('the worker started by ready() delivers a queued mail on its own; close() stops it', async () => {
    const h = await open(mailOptions(smtp, { worker: { autoStart: true, interval: '1s' } }));
    const to = `worker-${unique()}@example.com`;
    await queue(h, 'password_changed', to, { email: to });
    await eventually(() => smtp.received.length === 1, 5_000, 'the worker to deliver');
    await h.auth.close();
    const later = `after-close-${unique()}@example.com`;
    await queue(h, 'password_changed', later, { email: later });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(smtp.received.map((m) => m.to)).to.deep.equal([[to]]);
  });
});

describe('mail: a slow SMTP server', function () {
  this.timeout(30_000);
  const HOLD_MS = 300;
  let smtp: TestSmtp;
  let h: Harness | undefined;
  beforeEach(async () => {
    smtp = await startSmtp({ holdMs: HOLD_MS });
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await smtp.stop();
  });

  const queueMany = async (n: number) => {
    const addresses = Array.from({ length: n }, (_, i) => `slow-${i}-${unique()}@example.com`);
    for (const to of addresses) await queue(h as Harness, 'password_changed', to, { email: to });
    return addresses;
  };

  it('gets 4 mails at a time by default, each exactly once', async () => {
    h = await startHarness(mailOptions(smtp));
    const addresses = await queueMany(10);
    expect(await h.auth.services.mail.deliverPending()).to.equal(10);
    // Each mail is held long enough that four sends overlap; never a fifth.
    expect(smtp.mostAtOnce).to.equal(4);
    expect(smtp.received.map((m) => m.to[0]).sort()).to.deep.equal([...addresses].sort());
    expect(await h.auth.services.mail.deliverPending()).to.equal(0);
  });

  it('sends one after another with concurrency 1, and as many at once as asked', async () => {
    h = await startHarness(mailOptions(smtp, { worker: { concurrency: 1 } }));
    await queueMany(3);
    expect(await h.auth.services.mail.deliverPending()).to.equal(3);
    expect(smtp.mostAtOnce).to.equal(1);
    await h.close();

    h = await startHarness(mailOptions(smtp, { worker: { concurrency: 8 } }));
    await queueMany(8);
    expect(await h.auth.services.mail.deliverPending()).to.equal(8);
    expect(smtp.mostAtOnce).to.equal(8);
    expect(smtp.received).to.have.length(11);
  });
});
