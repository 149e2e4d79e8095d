import { expect } from 'chai';
import request from 'supertest';
import { createAuthRouter, createSmtpMailer, isAuthError, type AuthRouterOptions } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { SECRET, startHarness, unique, type Harness } from '../helpers/harness.js';

async function refusal(promise: Promise<unknown>): Promise<{ code: string; status: number; retryAfter: unknown }> {
  try {
    await promise;
  } catch (err) {
    if (isAuthError(err)) return { code: err.code, status: err.status, retryAfter: err.details?.retryAfter };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('mail: send limits per account and per IP', function () {
  this.timeout(30_000);
  const harnesses: Harness[] = [];
  const open = async (overrides: Partial<AuthRouterOptions> = {}) => {
    const h = await startHarness(overrides);
    harnesses.push(h);
    return h;
  };
  after(async () => {
    for (const h of harnesses) await h.close();
  });

  it('by default 5 mails per account per hour, then 429 too_many_attempts with retryAfter', async () => {
    const { mail } = (await open()).auth.services;
    const account = `user-${unique()}`;
    for (let i = 0; i < 5; i += 1) await mail.assertCanSend({ account, ip: `10.0.0.${i}` });
    const refused = await refusal(mail.assertCanSend({ account, ip: '10.0.1.1' }));
    expect(refused).to.include({ code: 'too_many_attempts', status: 429 });
    expect(refused.retryAfter).to.be.within(3000, 3600);
    // Another account is not affected.
    await mail.assertCanSend({ account: `user-${unique()}`, ip: '10.0.1.1' });
  });

  it('by default 20 mails per IP per hour across accounts; a refused request spends nothing on the account', async () => {
    const { mail } = (await open()).auth.services;
    const ip = '192.0.2.7';
    for (let i = 0; i < 20; i += 1) await mail.assertCanSend({ account: `spray-${unique()}`, ip });
    const victim = `victim-${unique()}`;
    expect(await refusal(mail.assertCanSend({ account: victim, ip }))).to.include({ code: 'too_many_attempts', status: 429 });
    // The IP was refused first, so the victim's own allowance is whole: 5 from elsewhere.
    for (let i = 0; i < 5; i += 1) await mail.assertCanSend({ account: victim, ip: `198.51.100.${i}` });
    expect((await refusal(mail.assertCanSend({ account: victim, ip: '198.51.100.99' }))).code).to.equal('too_many_attempts');
  });

  it('the mail routes count the request\'s address: 20 reset requests from one IP, then 429 there and 202 from another', async () => {
    const h = await open();
    h.app.set('trust proxy', true);
    const forgot = (ip: string) => request(h.app).post('/auth/password/forgot').set('X-Forwarded-For', ip).send({ email: `nobody-${unique()}@example.com` });
    for (let i = 0; i < 20; i += 1) expect((await forgot('192.0.2.44')).status).to.equal(202);
    const refused = await forgot('192.0.2.44');
    expect(refused.status, refused.text).to.equal(429);
    expect(refused.body.code).to.equal('too_many_attempts');
    expect((await forgot('198.51.100.44')).status).to.equal(202);
  });

  it('mail.limits sets the rules; throttle: false leaves them on; mail.limits: false turns them off', async () => {
    const custom = (await open({ throttle: false, mail: { limits: { perAccount: { points: 2, duration: 60 }, perIp: { points: 100, duration: 60 } } } })).auth.services.mail;
    const account = `user-${unique()}`;
    await custom.assertCanSend({ account });
    await custom.assertCanSend({ account });
    const refused = await refusal(custom.assertCanSend({ account }));
    expect(refused.code).to.equal('too_many_attempts');
    expect(refused.retryAfter).to.be.within(1, 60);

    const off = (await open({ mail: { limits: false } })).auth.services.mail;
    for (let i = 0; i < 30; i += 1) await off.assertCanSend({ account, ip: '192.0.2.1' });
  });
});

describe('mail: options and the log mailer', function () {
  this.timeout(30_000);
  const base = (mail: AuthRouterOptions['mail']): AuthRouterOptions => ({
    storage: createKnexStorage({ filename: ':memory:' }),
    tokens: { secret: SECRET },
    passwords: { cost: 4 },
    mail,
  });

  it('refuses bad mail options at createAuthRouter with a message that says what to set', () => {
    const cases: Array<[AuthRouterOptions['mail'], RegExp]> = [
      [{ appUrl: 'app.example.com' }, /mail\.appUrl must be an absolute http/],
      [{ appUrl: 'ftp://app.example.com' }, /mail\.appUrl must use http/],
      [{ urls: { resetPassword: 'https://app.example.com/reset' } }, /mail\.urls\.resetPassword must contain \{token\}/],
      [{ urls: { nope: 'https://x/{token}' } as never }, /mail\.urls\.nope: unknown/],
      [{ templates: { welcome: { subject: () => 'x' } } as never }, /mail\.templates\.welcome: no such mail kind/],
      [{ worker: { maxAttempts: 0 } }, /mail\.worker\.maxAttempts/],
      [{ worker: { concurrency: 0 } }, /mail\.worker\.concurrency must be a whole number of at least 1 \(got 0\)/],
      [{ worker: { concurrency: 2.5 } }, /mail\.worker\.concurrency/],
      [{ worker: { concurrency: '4' as never } }, /mail\.worker\.concurrency/],
      [{ worker: { backoff: '1h', maxBackoff: '1m' } }, /mail\.worker\.maxBackoff/],
      [{ mailer: {} as never }, /mail\.mailer must have a send/],
    ];
    for (const [mail, message] of cases) expect(() => createAuthRouter(base(mail)), JSON.stringify(mail)).to.throw(TypeError, message);
    expect(() => createSmtpMailer('http://smtp.example.com')).to.throw(TypeError, /smtp:\/\/ or smtps:\/\//);
    expect(() => createSmtpMailer('not a url')).to.throw(TypeError, /smtp:\/\/user:pass@host/);
  });

  it('without a mailer, the log mailer prints each mail with its links through logger.info', async () => {
    const info: Array<[string, Record<string, unknown> | undefined]> = [];
    const h = await startHarness({
      logger: { info: (message, fields) => info.push([message, fields]), warn: () => {}, error: () => {} },
      mail: { appUrl: 'http://127.0.0.1:3000', worker: { autoStart: false } },
    });
    try {
      const { mail } = h.auth.services;
      const link = mail.link('reset_password', 'tok-123');
      await h.storage.transaction((tx) => mail.queue(tx, 'reset_password', 'dev@example.com', { email: 'dev@example.com', token: 'tok-123', link, expiresAt: Date.now() + 1_800_000 }));
      expect(await mail.deliverPending()).to.equal(1);
      expect(info).to.have.length(1);
      const [message, fields] = info[0]!;
      expect(message).to.contain('gatehouse mail to dev@example.com: Reset your gatehouse password').and.contain(link);
      expect(fields).to.deep.equal({ to: 'dev@example.com', subject: 'Reset your gatehouse password', links: ['http://127.0.0.1:3000/reset-password?token=tok-123'] });
    } finally {
      await h.close();
    }
  });
});
