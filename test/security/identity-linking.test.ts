import { expect } from 'chai';
import request from 'supertest';
import type { AuthRouterOptions } from 'gatehouse-auth';
import { claimsOf, expectProblem, PASSWORD, startHarness, unique, type Harness } from '../helpers/harness.js';
import { AUDIENCE, startLocalIssuer, type LocalIssuer } from '../helpers/local-issuer.js';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, startOidcServer, type OidcTestServer } from '../identity/oidc-server.js';

type IssuerOptions = NonNullable<AuthRouterOptions['externalIssuers']>[number];
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Issue 11 items 9 and 10, and the info item on posted Google ID tokens: external identities and the accounts they reach. */
describe('security: linking external identities (issue 11 items 9, 10, Google nonce)', () => {
  let oidc: OidcTestServer;
  let idp: LocalIssuer;

  before(async () => {
    oidc = await startOidcServer();
    idp = await startLocalIssuer();
  });
  after(async () => {
    await oidc.close();
    await idp.close();
  });

  const google = (): Partial<AuthRouterOptions> => ({
    google: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, issuer: oidc.issuer, allowInsecureRequests: true, linkVerifiedEmails: true },
  });
  const issuer = (extra: Partial<IssuerOptions> = {}): IssuerOptions => ({ issuer: idp.issuer, audience: AUDIENCE, allowInsecureRequests: true, linkVerifiedEmails: true, ...extra });

  /** A Google account with this email, signed in through the real authorization code flow. */
  async function googleSignIn(h: Harness, email: string) {
    const sub = `google-${unique()}`;
    oidc.accounts.set(sub, { email, email_verified: true });
    const { code, codeVerifier, nonce } = await oidc.authorize({ sub });
    return { sub, res: await request(h.app).post('/auth/google').send({ code, codeVerifier, nonce }) };
  }

  it('item 9: a verified external identity is never linked to an account whose email gatehouse has not verified (pre-account takeover)', async () => {
    const h = await startHarness({ ...google(), externalIssuers: [issuer()] });
    try {
      // The attacker signs up first with the victim's address and a password.
      const victimEmail = `victim-${unique()}@example.com`;
      const signedUp = await request(h.app)
        .post('/auth/signup')
        .send({ email: victimEmail, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Squat', slug: `squat-${unique()}` } });
      expect(signedUp.status, signedUp.text).to.equal(201);
      const attacker = { userId: signedUp.body.id as string };

      // The victim signs in with Google (which vouches for the address), then with Auth0.
      const { sub, res } = await googleSignIn(h, victimEmail);
      expectProblem(res, 409, 'account_exists', 'unverified_account');
      expect(res.body.detail).to.contain('sign in to it with its password');
      expect(await h.storage.identities.findBySubject('google', sub)).to.equal(null);
      const auth0 = await request(h.app).post('/auth/signin').set(bearer(await idp.sign({ email: victimEmail, email_verified: true })));
      expectProblem(auth0, 409, 'account_exists', 'unverified_account');
      expect(await h.storage.identities.listForUser(attacker.userId)).to.deep.equal([]);
      expect((await h.storage.users.findById(attacker.userId))?.emailVerifiedAt).to.equal(null);

      // An account made from a verified identity has a verified email, and that one links.
      const email = `linked-${unique()}@example.com`;
      const first = await request(h.app).post('/auth/signin').set(bearer(await idp.sign({ email, email_verified: true })));
      expect(first.status, first.text).to.equal(200);
      const userId = claimsOf(first.body.access_token).sub as string;
      expect((await h.storage.users.findById(userId))?.emailVerifiedAt).to.be.a('number');
      const linked = await googleSignIn(h, email);
      expect(linked.res.status, linked.res.text).to.equal(200);
      expect(claimsOf(linked.res.body.access_token).sub).to.equal(userId);
    } finally {
      await h.close();
    }
  });

  it("item 9: mapUser's emailVerified defaults to false: its account is made with an unverified email, which nothing links to", async () => {
    const email = `mapped-${unique()}@example.com`;
    const h = await startHarness({ ...google(), externalIssuers: [issuer({ mapUser: () => ({ email }) })] });
    try {
      const res = await request(h.app).post('/auth/signin').set(bearer(await idp.sign({ sub: `auth0|${unique()}` })));
      expect(res.status, res.text).to.equal(200);
      const userId = claimsOf(res.body.access_token).sub as string;
      const { res: viaGoogle } = await googleSignIn(h, email);
      expectProblem(viaGoogle, 409, 'account_exists', 'unverified_account');
      expect((await h.storage.users.findById(userId))?.emailVerifiedAt).to.equal(null);
    } finally {
      await h.close();
    }
  });

  it('item 10: usernames from mapUser follow the sign-up rules; under datarhei none can equal another account’s email', async () => {
    let name: unknown = '';
    const h = await startHarness({ externalIssuers: [issuer({ mapUser: () => ({ email: `u-${unique()}@example.com`, emailVerified: true, username: name as string }) })] });
    try {
      for (const bad of ['', '   ', 'a\u0000b', 'a/b', 'grace@example.com', 'x'.repeat(500), 42]) {
        name = bad;
        const res = await request(h.app).post('/auth/signin').set(bearer(await idp.sign({ sub: `auth0|${unique()}` })));
        expectProblem(res, 502, 'identity_provider_error', 'invalid_username');
      }
      expect(await h.storage.users.findByUsername('')).to.equal(null);
      name = '  Grace.Hopper_1 ';
      const ok = await request(h.app).post('/auth/signin').set(bearer(await idp.sign({ sub: `auth0|${unique()}` })));
      expect(ok.status, ok.text).to.equal(200);
      expect((await h.storage.users.findById(claimsOf(ok.body.access_token).sub as string))?.username).to.equal('Grace.Hopper_1');
    } finally {
      await h.close();
    }

    // datarhei: the token subject is the username, or the email of an account without one.
    const victim = `admin-${unique()}@example.com`;
    const d = await startHarness({
      preset: 'datarhei',
      externalIssuers: [issuer({ mapUser: () => ({ email: `other-${unique()}@example.com`, emailVerified: true, username: victim }) })],
    });
    try {
      await d.auth.services.accounts.signup({ email: victim, password: PASSWORD }, { action: 'create', org: { name: 'Admins', slug: `admins-${unique()}` } });
      const res = await request(d.app).post('/auth/api/login').set(bearer(await idp.sign({ sub: `auth0|${unique()}` })));
      expect(res.status, res.text).to.equal(502);
      expect(res.body.details[0]).to.equal('identity_provider_error');
      expect(await d.storage.users.findByUsername(victim)).to.equal(null);
      // A host creating accounts through the service meets the same rule.
      let refused: unknown;
      try {
        await d.auth.services.accounts.signup({ email: `x-${unique()}@example.com`, password: PASSWORD, username: victim }, { action: 'create', org: { name: 'X', slug: `x-${unique()}` } });
      } catch (err) {
        refused = err;
      }
      expect(refused).to.include({ code: 'invalid_request' });
      expect(await d.storage.users.findByUsername(victim)).to.equal(null);
    } finally {
      await d.close();
    }
  });

  it('info: a posted Google ID token needs a nonce from GET /google/nonce, unexpired and used once; the code flow is unchanged', async () => {
    let now = Date.now();
    const h = await startHarness({ ...google(), clock: { now: () => now } });
    try {
      const sub = `google-${unique()}`;
      const email = `g-${unique()}@example.com`;
      oidc.accounts.set(sub, { email, email_verified: true });
      const post = async (body: object) => request(h.app).post('/auth/google').send(body);

      expectProblem(await post({ idToken: await oidc.signIdToken({ sub, email }) }), 401, 'invalid_id_token', 'nonce');
      // A nonce the client made up, even set in the token, is not one this server issued.
      expectProblem(await post({ idToken: await oidc.signIdToken({ sub, email, nonce: 'made-up' }), nonce: 'made-up' }), 401, 'invalid_id_token', 'nonce');

      const issued = await request(h.app).get('/auth/google/nonce');
      expect(issued.status, issued.text).to.equal(200);
      expect(issued.headers['cache-control']).to.equal('no-store');
      expect(Date.parse(issued.body.expiresAt)).to.be.greaterThan(now);
      const { nonce } = issued.body as { nonce: string };
      const forged = `${nonce.slice(0, -2)}${nonce.endsWith('AA') ? 'BB' : 'AA'}`;
      expectProblem(await post({ idToken: await oidc.signIdToken({ sub, email, nonce: forged }), nonce: forged }), 401, 'invalid_id_token', 'nonce');
      // The token's nonce must be the one sent.
      expectProblem(await post({ idToken: await oidc.signIdToken({ sub, email, nonce: 'other' }), nonce }), 401, 'invalid_id_token', 'nonce');

      const idToken = await oidc.signIdToken({ sub, email, nonce });
      const ok = await post({ idToken, nonce });
      expect(ok.status, ok.text).to.equal(200);
      expectProblem(await post({ idToken, nonce }), 401, 'invalid_id_token', 'nonce');

      // Expired after ten minutes.
      const late = (await request(h.app).get('/auth/google/nonce')).body.nonce as string;
      const lateToken = await oidc.signIdToken({ sub, email, nonce: late, exp: Math.floor(now / 1000) + 3600 });
      now += 11 * 60_000;
      expectProblem(await post({ idToken: lateToken, nonce: late }), 401, 'invalid_id_token', 'nonce');
      now = Date.now();

      const { code, codeVerifier, nonce: ownNonce } = await oidc.authorize({ sub });
      const viaCode = await post({ code, codeVerifier, nonce: ownNonce });
      expect(viaCode.status, viaCode.text).to.equal(200);
    } finally {
      await h.close();
    }
  });
});
