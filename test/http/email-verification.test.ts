import { expect } from 'chai';
import request from 'supertest';
import { createSmtpMailer, type AuthRouterOptions } from 'gatehouse-auth';
import { expectProblem, PASSWORD, signin, signupWithOrg, startHarness, unique, type Harness } from '../helpers/harness.js';
import { startInbox, type Inbox } from '../helpers/inbox.js';

const VERIFY = /Verify your email/;
const INVITED = /You are invited/;

function signupBody(email: string) {
  const id = unique();
  return { email, password: PASSWORD, action: 'create', orgCreateProps: { name: `Org ${id}`, slug: `org-${id}` } };
}

describe('email verification, with mail over real SMTP', () => {
  let inbox: Inbox;
  let now: number;
  const harnesses: Harness[] = [];

  before(async () => {
    inbox = await startInbox();
    now = Date.now();
  });
  after(async () => {
    for (const h of harnesses) await h.close();
    await inbox.close();
  });

  async function harness(overrides: Partial<AuthRouterOptions> = {}): Promise<Harness> {
    const h = await startHarness({
      clock: { now: () => now },
      mail: { mailer: createSmtpMailer(inbox.url), from: 'auth@example.com', appUrl: 'https://app.example.com', limits: false },
      ...overrides,
    });
    harnesses.push(h);
    return h;
  }

  const me = (h: Harness, access: string) => request(h.app).get('/auth/me').set('Authorization', `Bearer ${access}`);
  const verify = (h: Harness, token: unknown) => request(h.app).post('/auth/email/verify').send({ token });

  describe("sign-up and POST /email/verify (emailVerification: 'optional', the default)", () => {
    let h: Harness;
    before(async () => {
      h = await harness();
    });

    it('sign-up mails a link; the token verifies the address once; GET /me shows emailVerified', async () => {
      const u = await signupWithOrg(h.app);
      expect((await me(h, u.access)).body.emailVerified).to.equal(false);
      const mail = await inbox.next(u.email, VERIFY);
      expect(mail.link).to.match(/^https:\/\/app\.example\.com\/verify-email\?token=[A-Za-z0-9_-]{43}$/);
      const res = await verify(h, mail.token);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.equal({ email: u.email, emailVerified: true });
      expect((await me(h, u.access)).body.emailVerified).to.equal(true);
      expectProblem(await verify(h, mail.token), 401, 'token_used');
    });

    it('refuses unknown tokens (401 invalid_token) and bad bodies (400)', async () => {
      expectProblem(await verify(h, 'B'.repeat(43)), 401, 'invalid_token');
      expectProblem(await verify(h, ''), 400, 'invalid_request');
      expectProblem(await verify(h, 42), 400, 'invalid_request');
      expectProblem(await request(h.app).post('/auth/email/verify').send({}), 400, 'invalid_request');
    });

    it('refuses a token older than 24 hours with 401 token_expired', async () => {
      const u = await signupWithOrg(h.app);
      const mail = await inbox.next(u.email, VERIFY);
      now += 24 * 3600 * 1000 + 1000;
      try {
        expectProblem(await verify(h, mail.token), 401, 'token_expired');
      } finally {
        now -= 24 * 3600 * 1000 + 1000;
      }
    });
  });

  describe('POST /email/verification', () => {
    let h: Harness;
    before(async () => {
      h = await harness();
    });

    it('mails a new link (202); the earlier one stops working', async () => {
      const u = await signupWithOrg(h.app);
      const first = await inbox.next(u.email, VERIFY);
      const res = await request(h.app).post('/auth/email/verification').set('Authorization', `Bearer ${u.access}`);
      expect(res.status, res.text).to.equal(202);
      const second = await inbox.next(u.email, VERIFY);
      expect(second.token).to.not.equal(first.token);
      expectProblem(await verify(h, first.token), 401, 'invalid_token');
      expect((await verify(h, second.token)).status).to.equal(200);
    });

    it('answers 409 email_already_verified once verified, and 401 without a token', async () => {
      const u = await signupWithOrg(h.app);
      await verify(h, (await inbox.next(u.email, VERIFY)).token).expect(200);
      expectProblem(await request(h.app).post('/auth/email/verification').set('Authorization', `Bearer ${u.access}`), 409, 'email_already_verified');
      expectProblem(await request(h.app).post('/auth/email/verification'), 401, 'missing_token');
    });
  });

  describe("emailVerification: 'off'", () => {
    it('sign-up mails nothing', async () => {
      const h = await harness({ emailVerification: 'off' });
      const u = await signupWithOrg(h.app);
      await h.auth.services.mail.deliverPending();
      expect(inbox.mails.filter((m) => m.to === u.email)).to.deep.equal([]);
    });
  });

  describe("emailVerification: 'required'", () => {
    let h: Harness;
    before(async () => {
      h = await harness({ emailVerification: 'required' });
    });

    it('refuses sign-in with 403 email_not_verified and mails a fresh link; after verifying, sign-in works', async () => {
      const email = `req-${unique()}@example.com`;
      await request(h.app).post('/auth/signup').send(signupBody(email)).expect(201);
      const first = await inbox.next(email, VERIFY);
      expectProblem(await request(h.app).post('/auth/signin').send({ email, password: PASSWORD }), 403, 'email_not_verified');
      const again = await inbox.next(email, VERIFY);
      expectProblem(await verify(h, first.token), 401, 'invalid_token');
      expect((await verify(h, again.token)).status).to.equal(200);
      const tokens = await signin(h.app, email);
      expect((await me(h, tokens.access)).body.emailVerified).to.equal(true);
    });

    it('answers a wrong password with 401 invalid_credentials and mails nothing for it', async () => {
      const email = `req-${unique()}@example.com`;
      await request(h.app).post('/auth/signup').send(signupBody(email)).expect(201);
      await inbox.next(email, VERIFY);
      expectProblem(await request(h.app).post('/auth/signin').send({ email, password: 'not the password' }), 401, 'invalid_credentials');
      await h.auth.services.mail.deliverPending();
      expect(inbox.mails.filter((m) => m.to === email)).to.have.length(1);
    });
  });

  it("'required' holds for per-application sign-in too (axonize preset)", async () => {
    const h = await harness({ preset: 'axonize', emailVerification: 'required' });
    const email = `axo-${unique()}@example.com`;
    const { user, org } = await h.auth.services.accounts.signup({ email, password: PASSWORD }, { action: 'create', org: { name: 'Axo', slug: `axo-${unique()}` } });
    const app = await h.auth.services.applications.register(user.id, org!.id, { name: 'App', url: `https://app-${unique()}.example.com` });
    await h.auth.services.applications.grant(user.id, org!.id, app.id, user.id);
    const login = () => request(h.app).post('/auth/api/auth/login').set('appId', app.id).send({ email, password: PASSWORD });
    await inbox.next(email, VERIFY);
    const refused = await login();
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.body.code).to.equal('email_not_verified');
    // This preset mounts no /email/verify yet: the service takes the mailed token.
    await h.auth.services.emailVerification.verify((await inbox.next(email, VERIFY)).token as string);
    expect((await login()).status).to.equal(200);
  });

  describe('invitations by mail', () => {
    let h: Harness;
    before(async () => {
      h = await harness({ emailVerification: 'required' });
    });

    async function owner() {
      const email = `owner-${unique()}@example.com`;
      await request(h.app).post('/auth/signup').send(signupBody(email)).expect(201);
      await verify(h, (await inbox.next(email, VERIFY)).token).expect(200);
      const tokens = await signin(h.app, email);
      return { email, ...tokens, orgId: (await me(h, tokens.access)).body.organizationId as string };
    }

    it('an invitation with an email is mailed with its code and link; joining with it proves the address', async () => {
      const o = await owner();
      const invitee = `invitee-${unique()}@example.com`;
      const inv = await request(h.app).post(`/auth/orgs/${o.orgId}/invitations`).set('Authorization', `Bearer ${o.access}`).send({ email: invitee, role: 'admin' });
      expect(inv.status, inv.text).to.equal(201);
      const mail = await inbox.next(invitee, INVITED);
      expect(mail.text).to.include(inv.body.code);
      expect(mail.link).to.equal(`https://app.example.com/accept-invitation?code=${inv.body.code}`);
      const joined = await request(h.app).post('/auth/signup').send({ email: invitee, password: PASSWORD, action: 'join', invitationCode: inv.body.code });
      expect(joined.status, joined.text).to.equal(201);
      // Proved by the invitation: sign-in works at once under 'required', and no verification mail goes out.
      const tokens = await signin(h.app, invitee);
      expect((await me(h, tokens.access)).body.emailVerified).to.equal(true);
      await h.auth.services.mail.deliverPending();
      expect(inbox.mails.filter((m) => m.to === invitee && VERIFY.test(m.subject))).to.deep.equal([]);
    });

    it('with sendEmail: false nothing is mailed and joining proves nothing', async () => {
      const o = await owner();
      const invitee = `handed-${unique()}@example.com`;
      const inv = await request(h.app).post(`/auth/orgs/${o.orgId}/invitations`).set('Authorization', `Bearer ${o.access}`).send({ email: invitee, sendEmail: false });
      expect(inv.status, inv.text).to.equal(201);
      await request(h.app).post('/auth/signup').send({ email: invitee, password: PASSWORD, action: 'join', invitationCode: inv.body.code }).expect(201);
      expect((await inbox.next(invitee)).subject).to.match(VERIFY);
      expectProblem(await request(h.app).post('/auth/signin').send({ email: invitee, password: PASSWORD }), 403, 'email_not_verified');
    });

    it('an invitation without an email is not mailed, and sendEmail must be a boolean', async () => {
      const o = await owner();
      const inv = await request(h.app).post(`/auth/orgs/${o.orgId}/invitations`).set('Authorization', `Bearer ${o.access}`).send({ role: 'member' });
      expect(inv.status).to.equal(201);
      expectProblem(
        await request(h.app).post(`/auth/orgs/${o.orgId}/invitations`).set('Authorization', `Bearer ${o.access}`).send({ email: `x-${unique()}@example.com`, sendEmail: 'no' }),
        400,
        'invalid_request',
      );
    });
  });
});
