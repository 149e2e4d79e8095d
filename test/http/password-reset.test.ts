import { expect } from 'chai';
import request from 'supertest';
import { createSmtpMailer } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { expectProblem, listen, PASSWORD, signin, signupWithOrg, startHarness, unique, type Harness } from '../helpers/harness.js';
import { startInbox, type Inbox } from '../helpers/inbox.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const NEW_PASSWORD = 'a brand new passphrase';
const RESET = /Reset your/;
const NOTICE = /password was changed/;

describe('password reset and change, with mail over real SMTP', () => {
  let inbox: Inbox;
  let h: Harness;
  let now: number;

  before(async () => {
    inbox = await startInbox();
    now = Date.now();
    h = await startHarness({
      clock: { now: () => now },
      emailVerification: 'off',
      mail: { mailer: createSmtpMailer(inbox.url, { from: 'auth@example.com' }), appUrl: 'https://app.example.com', limits: false },
    });
  });
  after(async () => {
    await h.close();
    await inbox.close();
  });

  async function forgot(email: string) {
    return request(h.app).post('/auth/password/forgot').send({ email });
  }

  async function resetToken(email: string): Promise<string> {
    expect((await forgot(email)).status).to.equal(202);
    const mail = await inbox.next(email, RESET);
    expect(mail.token).to.be.a('string');
    return mail.token as string;
  }

  describe('POST /password/forgot', () => {
    it('mails a link carrying the token as the `token` parameter, to the account’s address', async () => {
      const u = await signupWithOrg(h.app);
      const res = await forgot(u.email);
      expect(res.status).to.equal(202);
      const mail = await inbox.next(u.email, RESET);
      expect(mail.link).to.match(/^https:\/\/app\.example\.com\/reset-password\?token=/);
      // 256 bits, base64url.
      expect(mail.token).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(mail.html).to.include(mail.token as string);
    });

    it('answers an unknown address with the same status and body, and mails nothing', async () => {
      const u = await signupWithOrg(h.app);
      const known = await forgot(u.email);
      const unknown = await forgot(`nobody-${unique()}@example.com`);
      expect(unknown.status).to.equal(known.status);
      expect(unknown.body).to.deep.equal(known.body);
      expect(unknown.type).to.equal(known.type);
      await inbox.next(u.email, RESET);
      await h.auth.services.mail.deliverPending();
      expect(inbox.mails.filter((m) => m.to.startsWith('nobody-'))).to.deep.equal([]);
    });

    it('refuses a body without a valid email with 400', async () => {
      expectProblem(await request(h.app).post('/auth/password/forgot').send({ email: 'not-an-address' }), 400, 'invalid_request');
      expectProblem(await request(h.app).post('/auth/password/forgot').send({}), 400, 'invalid_request');
    });
  });

  describe('POST /password/reset', () => {
    it('sets the new password, ends every session and the account key presets derive, and mails a notice', async () => {
      const u = await signupWithOrg(h.app);
      const other = await signin(h.app, u.email);
      // The key the cognito preset hands out at sign-in (its `apiKey`).
      const accountKey = await h.auth.services.apiKeys.accountKey(u.userId, u.orgId);
      const withKey = () => request(h.app).get('/api/hello').set('X-API-Key', accountKey).set('X-Tenant-Id', u.orgId);
      expect((await withKey()).status).to.equal(200);
      const token = await resetToken(u.email);
      const res = await request(h.app).post('/auth/password/reset').send({ token, password: NEW_PASSWORD });
      expect(res.status, res.text).to.equal(204);
      for (const access of [u.access, other.access]) {
        expectProblem(await request(h.app).get('/auth/me').set('Authorization', `Bearer ${access}`), 401, 'token_revoked');
      }
      expectProblem(await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh }), 401, 'token_revoked');
      expect((await withKey()).status).to.equal(401);
      expectProblem(await request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD }), 401, 'invalid_credentials');
      const fresh = await signin(h.app, u.email, NEW_PASSWORD);
      const me = await request(h.app).get('/auth/me').set('Authorization', `Bearer ${fresh.access}`);
      // The link reached the mailbox: the address is proved.
      expect(me.body.emailVerified).to.equal(true);
      const notice = await inbox.next(u.email, NOTICE);
      expect(notice.token).to.equal(undefined);
    });

    it('is single use: the same token again is 401 token_used', async () => {
      const u = await signupWithOrg(h.app);
      const token = await resetToken(u.email);
      expect((await request(h.app).post('/auth/password/reset').send({ token, password: NEW_PASSWORD })).status).to.equal(204);
      expectProblem(await request(h.app).post('/auth/password/reset').send({ token, password: 'yet another passphrase' }), 401, 'token_used');
    });

    it('of 5 parallel resets with one token exactly one succeeds', async () => {
      const u = await signupWithOrg(h.app);
      const token = await resetToken(u.email);
      const server = await listen(h);
      try {
        const results = await Promise.all(
          Array.from({ length: 5 }, (_, i) => request(server.url).post('/auth/password/reset').send({ token, password: `parallel passphrase ${i}` })),
        );
        const statuses = results.map((r) => r.status).sort();
        expect(statuses).to.deep.equal([204, 401, 401, 401, 401]);
        for (const r of results.filter((x) => x.status === 401)) expect(r.body.code).to.equal('token_used');
      } finally {
        await server.close();
      }
    });

    it('kills older reset tokens when a newer one is sent (401 invalid_token)', async () => {
      const u = await signupWithOrg(h.app);
      const first = await resetToken(u.email);
      const second = await resetToken(u.email);
      expectProblem(await request(h.app).post('/auth/password/reset').send({ token: first, password: NEW_PASSWORD }), 401, 'invalid_token');
      expect((await request(h.app).post('/auth/password/reset').send({ token: second, password: NEW_PASSWORD })).status).to.equal(204);
    });

    it('refuses an expired token with 401 token_expired (30 minutes by default)', async () => {
      const u = await signupWithOrg(h.app);
      const token = await resetToken(u.email);
      now += 31 * 60 * 1000;
      try {
        expectProblem(await request(h.app).post('/auth/password/reset').send({ token, password: NEW_PASSWORD }), 401, 'token_expired');
      } finally {
        now -= 31 * 60 * 1000;
      }
    });

    it('refuses an unknown token with 401 invalid_token, and a bad body with 400', async () => {
      expectProblem(await request(h.app).post('/auth/password/reset').send({ token: 'A'.repeat(43), password: NEW_PASSWORD }), 401, 'invalid_token');
      expectProblem(await request(h.app).post('/auth/password/reset').send({ token: 'x' }), 400, 'invalid_request');
      expectProblem(await request(h.app).post('/auth/password/reset').send({ token: 'x', password: 'short' }), 400, 'invalid_request');
    });

    it('refuses a weak password without using up the token', async () => {
      const u = await signupWithOrg(h.app);
      const token = await resetToken(u.email);
      expectProblem(await request(h.app).post('/auth/password/reset').send({ token, password: 'password123' }), 400, 'weak_password');
      expect((await request(h.app).post('/auth/password/reset').send({ token, password: NEW_PASSWORD })).status).to.equal(204);
    });

    it('does not accept a verification token as a reset token', async () => {
      const u = await signupWithOrg(h.app);
      await request(h.app).post('/auth/email/verification').set('Authorization', `Bearer ${u.access}`).expect(202);
      const verify = await inbox.next(u.email, /Verify your/);
      expectProblem(await request(h.app).post('/auth/password/reset').send({ token: verify.token, password: NEW_PASSWORD }), 401, 'invalid_token');
      // Refused without being spent.
      expect((await request(h.app).post('/auth/email/verify').send({ token: verify.token })).status).to.equal(200);
    });
  });

  describe('POST /password/change', () => {
    it('changes the password, keeps the calling session, ends the others and mails a notice', async () => {
      const u = await signupWithOrg(h.app);
      const other = await signin(h.app, u.email);
      const res = await request(h.app)
        .post('/auth/password/change')
        .set('Authorization', `Bearer ${u.access}`)
        .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(res.status, res.text).to.equal(204);
      expect((await request(h.app).get('/auth/me').set('Authorization', `Bearer ${u.access}`)).status).to.equal(200);
      expectProblem(await request(h.app).get('/auth/me').set('Authorization', `Bearer ${other.access}`), 401, 'token_revoked');
      expectProblem(await request(h.app).post('/auth/refresh').send({ refresh_token: other.refresh }), 401, 'token_revoked');
      await signin(h.app, u.email, NEW_PASSWORD);
      await inbox.next(u.email, NOTICE);
    });

    it('kills reset links sent before the change', async () => {
      const u = await signupWithOrg(h.app);
      const token = await resetToken(u.email);
      await request(h.app).post('/auth/password/change').set('Authorization', `Bearer ${u.access}`).send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }).expect(204);
      expectProblem(await request(h.app).post('/auth/password/reset').send({ token, password: 'yet another passphrase' }), 401, 'invalid_token');
    });

    it('refuses a wrong current password with 401 invalid_credentials and changes nothing', async () => {
      const u = await signupWithOrg(h.app);
      const res = await request(h.app).post('/auth/password/change').set('Authorization', `Bearer ${u.access}`).send({ currentPassword: 'wrong password!', newPassword: NEW_PASSWORD });
      expectProblem(res, 401, 'invalid_credentials');
      await signin(h.app, u.email, PASSWORD);
    });

    it('puts the new password through the sign-up policy (weak_password on newPassword)', async () => {
      const u = await signupWithOrg(h.app);
      const res = await request(h.app).post('/auth/password/change').set('Authorization', `Bearer ${u.access}`).send({ currentPassword: PASSWORD, newPassword: 'password123' });
      expectProblem(res, 400, 'weak_password');
      expect(res.body.errors[0].path).to.equal('newPassword');
    });

    it('needs a Bearer token and a complete body', async () => {
      expectProblem(await request(h.app).post('/auth/password/change').send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }), 401, 'missing_token');
      const u = await signupWithOrg(h.app);
      expectProblem(await request(h.app).post('/auth/password/change').set('Authorization', `Bearer ${u.access}`).send({ newPassword: NEW_PASSWORD }), 400, 'invalid_request');
    });

    it('is throttled like sign-in', async () => {
      const t = await startHarness({ mail: { mailer: createSmtpMailer(inbox.url), from: 'auth@example.com', limits: false }, throttle: { perAccountIp: { points: 2, duration: 60 } } });
      try {
        const u = await signupWithOrg(t.app);
        const wrong = () => request(t.app).post('/auth/password/change').set('Authorization', `Bearer ${u.access}`).send({ currentPassword: 'wrong password!', newPassword: NEW_PASSWORD });
        expectProblem(await wrong(), 401, 'invalid_credentials');
        expectProblem(await wrong(), 401, 'invalid_credentials');
        expectProblem(await wrong(), 429, 'too_many_attempts');
      } finally {
        await t.close();
      }
    });
  });
});

/** The same token raced for real: two instances (two pools) on one PostgreSQL, every request its own transaction. */
describe('password reset races on PostgreSQL, across two instances', function () {
  this.timeout(60_000);
  let inbox: Inbox;
  let a: Harness;
  let b: Harness;

  before(async () => {
    inbox = await startInbox();
    const url = await createTestDatabase('password_reset_races');
    const mail = { mailer: createSmtpMailer(inbox.url), from: 'auth@example.com', limits: false as const };
    a = await startHarness({ mail, emailVerification: 'off' }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
    b = await startHarness({ mail, emailVerification: 'off' }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await inbox?.close();
  });

  it('5 parallel resets with one token: exactly one 204, four token_used, one notice', async () => {
    const u = await signupWithOrg(a.app);
    await request(a.app).post('/auth/password/forgot').send({ email: u.email }).expect(202);
    const { token } = await inbox.next(u.email, RESET);
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => request(i % 2 === 0 ? a.app : b.app).post('/auth/password/reset').send({ token, password: `parallel passphrase ${i}` })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((st) => st === 204), JSON.stringify(statuses)).to.have.length(1);
    expect(results.filter((r) => r.status === 401 && r.body.code === 'token_used')).to.have.length(4);
    const winner = results.findIndex((r) => r.status === 204);
    await signin(a.app, u.email, `parallel passphrase ${winner}`);
    await inbox.next(u.email, NOTICE);
    await a.auth.services.mail.deliverPending();
    await b.auth.services.mail.deliverPending();
    expect(inbox.mails.filter((m) => m.to === u.email && NOTICE.test(m.subject))).to.have.length(1);
  });
});
