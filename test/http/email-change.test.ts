import { expect } from 'chai';
import request from 'supertest';
import { createSmtpMailer } from 'gatehouse-auth';
import { expectProblem, PASSWORD, signin, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';
import { startInbox, type Inbox } from '../helpers/inbox.js';

const CONFIRM = /Confirm your new email/;
const NOTICE = /email address is changing/;

describe('POST /email/change, with mail over real SMTP', () => {
  let inbox: Inbox;
  let h: Harness;
  let now: number;

  before(async () => {
    inbox = await startInbox();
    now = Date.now();
    h = await startHarness({
      clock: { now: () => now },
      emailVerification: 'off',
      mail: { mailer: createSmtpMailer(inbox.url), from: 'auth@example.com', appUrl: 'https://app.example.com', limits: false },
    });
  });
  after(async () => {
    await h.close();
    await inbox.close();
  });

  const change = (u: SignedUp, body: Record<string, unknown>) => request(h.app).post('/auth/email/change').set('Authorization', `Bearer ${u.access}`).send(body);
  const verify = (token: unknown) => request(h.app).post('/auth/email/verify').send({ token });
  const newAddress = () => `new-${unique()}@example.com`;

  it('mails a token to the new address; /email/verify switches to it, verified, and the old address gets a notice', async () => {
    const u = await signupWithOrg(h.app);
    const target = newAddress();
    const res = await change(u, { newEmail: target.toUpperCase(), password: PASSWORD });
    expect(res.status, res.text).to.equal(202);
    const mail = await inbox.next(target, CONFIRM);
    expect(mail.link).to.match(/^https:\/\/app\.example\.com\/verify-email\?token=/);
    // Nothing changes before the new address is proved.
    expect((await request(h.app).get('/auth/me').set('Authorization', `Bearer ${u.access}`)).body.email).to.equal(u.email);
    const done = await verify(mail.token);
    expect(done.status, done.text).to.equal(200);
    expect(done.body).to.deep.equal({ email: target, emailVerified: true });
    const notice = await inbox.next(u.email, NOTICE);
    expect(notice.text).to.include(target);
    const me = await request(h.app).get('/auth/me').set('Authorization', `Bearer ${u.access}`);
    expect(me.body).to.include({ email: target, emailVerified: true });
    await signin(h.app, target);
    expectProblem(await request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD }), 401, 'invalid_credentials');
    expectProblem(await verify(mail.token), 401, 'token_used');
  });

  it('refuses a wrong password (401 invalid_credentials) and mails nothing', async () => {
    const u = await signupWithOrg(h.app);
    const target = newAddress();
    expectProblem(await change(u, { newEmail: target, password: 'not the password' }), 401, 'invalid_credentials');
    await h.auth.services.mail.deliverPending();
    expect(inbox.mails.filter((m) => m.to === target)).to.deep.equal([]);
  });

  it('refuses bad bodies with 400, the current address with 400 and a taken one with 409 email_taken', async () => {
    const u = await signupWithOrg(h.app);
    const other = await signupWithOrg(h.app);
    expectProblem(await change(u, { newEmail: 'nope', password: PASSWORD }), 400, 'invalid_request');
    expectProblem(await change(u, { newEmail: newAddress() }), 400, 'invalid_request');
    expectProblem(await change(u, { newEmail: u.email, password: PASSWORD }), 400, 'invalid_request');
    expectProblem(await change(u, { newEmail: other.email, password: PASSWORD }), 409, 'email_taken');
    expectProblem(await request(h.app).post('/auth/email/change').send({ newEmail: newAddress(), password: PASSWORD }), 401, 'missing_token');
  });

  it('answers 409 email_taken when the address was taken meanwhile, leaving the token usable', async () => {
    const u = await signupWithOrg(h.app);
    const target = newAddress();
    await change(u, { newEmail: target, password: PASSWORD }).expect(202);
    const mail = await inbox.next(target, CONFIRM);
    const id = unique();
    await request(h.app)
      .post('/auth/signup')
      .send({ email: target, password: PASSWORD, action: 'create', orgCreateProps: { name: `Org ${id}`, slug: `org-${id}` } })
      .expect(201);
    expectProblem(await verify(mail.token), 409, 'email_taken');
    // Not spent by the refused switch: the same answer again, not token_used.
    expectProblem(await verify(mail.token), 409, 'email_taken');
    expect((await request(h.app).get('/auth/me').set('Authorization', `Bearer ${u.access}`)).body.email).to.equal(u.email);
  });

  it('refuses a token older than 1 hour with 401 token_expired', async () => {
    const u = await signupWithOrg(h.app);
    const target = newAddress();
    await change(u, { newEmail: target, password: PASSWORD }).expect(202);
    const mail = await inbox.next(target, CONFIRM);
    now += 3600 * 1000 + 1000;
    try {
      expectProblem(await verify(mail.token), 401, 'token_expired');
    } finally {
      now -= 3600 * 1000 + 1000;
    }
  });

  it('makes reset links mailed to the old address stop working', async () => {
    const u = await signupWithOrg(h.app);
    await request(h.app).post('/auth/password/forgot').send({ email: u.email }).expect(202);
    const reset = await inbox.next(u.email, /Reset your/);
    const target = newAddress();
    await change(u, { newEmail: target, password: PASSWORD }).expect(202);
    await verify((await inbox.next(target, CONFIRM)).token).expect(200);
    expectProblem(await request(h.app).post('/auth/password/reset').send({ token: reset.token, password: 'a brand new passphrase' }), 401, 'invalid_token');
  });
});
