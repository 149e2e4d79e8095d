import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { exportJWK, generateKeyPair } from 'jose';
import { generate } from 'otplib';
import request from 'supertest';
import type { AuthRouterOptions } from 'gatehouse-auth';
import { claimsOf, PASSWORD, signupWithOrg, startHarness, expectProblem, unique, type Harness } from '../helpers/harness.js';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, startOidcServer, type OidcTestServer } from './oidc-server.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const DISCOVERY = '/.well-known/openid-configuration';

describe('Google sign-in: POST /auth/google', () => {
  let oidc: OidcTestServer;
  let h: Harness;

  const googleOptions = (extra: Partial<NonNullable<AuthRouterOptions['google']>> = {}): Partial<AuthRouterOptions> => ({
    google: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, issuer: oidc.issuer, allowInsecureRequests: true, ...extra },
  });

  /** A provider account with a fresh subject and email. */
  function account(overrides: { email?: string; email_verified?: boolean } = {}): { sub: string; email: string } {
    const id = unique();
    const sub = `google-${id}`;
    const email = overrides.email ?? `g-${id}@example.com`;
    oidc.accounts.set(sub, { email, email_verified: overrides.email_verified ?? true, given_name: 'Grace', family_name: 'Hopper' });
    return { sub, email };
  }

  /** A nonce from GET /google/nonce, which every posted ID token must carry. */
  async function serverNonce(app: Harness['app']): Promise<string> {
    const res = await request(app).get('/auth/google/nonce');
    expect(res.status, res.text).to.equal(200);
    return res.body.nonce as string;
  }

  /** A POST /google body with an ID token signed by the provider, carrying a nonce this server issued. */
  async function idTokenBody(app: Harness['app'], claims: Parameters<OidcTestServer['signIdToken']>[0]) {
    const nonce = await serverNonce(app);
    return { idToken: await oidc.signIdToken({ ...claims, nonce }), nonce };
  }

  async function codeSignIn(app: Harness['app'], sub: string) {
    const { code, codeVerifier, nonce } = await oidc.authorize({ sub });
    return request(app).post('/auth/google').send({ code, codeVerifier, nonce });
  }

  before(async () => {
    oidc = await startOidcServer();
  });
  after(async () => {
    await oidc.close();
  });
  beforeEach(async () => {
    h = await startHarness(googleOptions());
  });
  afterEach(async () => {
    oidc.down = false;
    await h.close();
  });

  describe('authorization code flow', () => {
    it('signs a new user up with needsOrg, lets them set up an org, and signs them in again as the same user', async () => {
      const { sub, email } = account();
      const first = await codeSignIn(h.app, sub);
      expect(first.status, first.text).to.equal(200);
      expect(first.body).to.have.all.keys('access_token', 'refresh_token', 'needsOrg');
      expect(first.body.needsOrg).to.equal(true);
      const userId = claimsOf(first.body.access_token).sub as string;
      expect(claimsOf(first.body.access_token)).not.to.have.property('org');

      const me = await request(h.app).get('/auth/me').set(bearer(first.body.access_token));
      expect(me.body).to.include({ id: userId, email, first_name: 'Grace', last_name: 'Hopper', organizationId: null });

      const id = unique();
      const setup = await request(h.app)
        .post('/auth/setup-org')
        .set(bearer(first.body.access_token))
        .send({ action: 'create', orgCreateProps: { name: `Google Org ${id}`, slug: `google-${id}` } });
      expect(setup.status, setup.text).to.equal(200);
      const hello = await request(h.app).get('/api/hello').set(bearer(setup.body.access_token));
      expect(hello.status).to.equal(200);
      expect(hello.body).to.include({ userId, role: 'owner' });
      expect(hello.body.orgId).to.be.a('string');

      const second = await codeSignIn(h.app, sub);
      expect(second.status, second.text).to.equal(200);
      expect(second.body).to.have.all.keys('access_token', 'refresh_token');
      expect(claimsOf(second.body.access_token)).to.include({ sub: userId, org: hello.body.orgId, role: 'owner' });
      // Both sign-ins are audited by their provider: the first in no org (there was none yet), the second in the org.
      const audited = await h.storage.knex('auth_audit_log').where({ action: 'signin.succeeded', actor_id: userId }).orderBy('at');
      expect(audited.map((r: { data: string; org_id: string | null }) => [JSON.parse(r.data).method, r.org_id])).to.deep.equal([
        ['google', null],
        ['google', hello.body.orgId],
      ]);

      // One user, one identity, and no password to sign in with.
      expect((await h.storage.identities.listForUser(userId)).map((i) => [i.provider, i.subject, i.email])).to.deep.equal([['google', sub, email]]);
      expect((await h.storage.users.findById(userId))?.passwordHash).to.equal(null);
      const withPassword = await request(h.app).post('/auth/signin').send({ email, password: PASSWORD });
      expectProblem(withPassword, 401, 'invalid_credentials');
    });

    it('works without PKCE and without a nonce too', async () => {
      const { sub } = account();
      const { code } = await oidc.authorize({ sub, pkce: false, nonce: null });
      const res = await request(h.app).post('/auth/google').send({ code });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.needsOrg).to.equal(true);
    });

    it('refuses a replayed, unknown or wrongly verified code with 401 invalid_authorization_code', async () => {
      const { sub } = account();
      const { code, codeVerifier, nonce } = await oidc.authorize({ sub });
      expect((await request(h.app).post('/auth/google').send({ code, codeVerifier, nonce })).status).to.equal(200);
      expectProblem(await request(h.app).post('/auth/google').send({ code, codeVerifier, nonce }), 401, 'invalid_authorization_code');
      expectProblem(await request(h.app).post('/auth/google').send({ code: 'not-a-code-the-provider-issued' }), 401, 'invalid_authorization_code');

      const other = await oidc.authorize({ sub });
      const wrongVerifier = await request(h.app)
        .post('/auth/google')
        .send({ code: other.code, codeVerifier: 'x'.repeat(43), nonce: other.nonce });
      expectProblem(wrongVerifier, 401, 'invalid_authorization_code');
      const missingVerifier = await oidc.authorize({ sub });
      expectProblem(await request(h.app).post('/auth/google').send({ code: missingVerifier.code, nonce: missingVerifier.nonce }), 401, 'invalid_authorization_code');
    });

    it('refuses a nonce that does not match the ID token with 401 invalid_id_token (nonce)', async () => {
      const { sub } = account();
      const { code, codeVerifier } = await oidc.authorize({ sub, nonce: 'the-nonce-the-client-used' });
      const res = await request(h.app).post('/auth/google').send({ code, codeVerifier, nonce: 'another-nonce' });
      expectProblem(res, 401, 'invalid_id_token', 'nonce');
      // Leaving out the nonce the token carries is refused the same way.
      const again = await oidc.authorize({ sub, nonce: 'the-nonce-the-client-used' });
      expectProblem(await request(h.app).post('/auth/google').send({ code: again.code, codeVerifier: again.codeVerifier }), 401, 'invalid_id_token', 'nonce');
    });

    it('refuses an email the provider has not verified with 403 email_not_verified, creating nothing', async () => {
      const { sub, email } = account({ email_verified: false });
      expectProblem(await codeSignIn(h.app, sub), 403, 'email_not_verified');
      expect(await h.storage.users.findByEmail(email)).to.equal(null);
      expect(await h.storage.identities.findBySubject('google', sub)).to.equal(null);
    });

    it('discovers the provider once, on first use, and caches it', async () => {
      const before = oidc.requests.get(DISCOVERY) ?? 0;
      const fresh = await startHarness(googleOptions());
      try {
        expect(oidc.requests.get(DISCOVERY) ?? 0, 'nothing is fetched at startup').to.equal(before);
        const { sub } = account();
        expect((await codeSignIn(fresh.app, sub)).status).to.equal(200);
        expect((await codeSignIn(fresh.app, sub)).status).to.equal(200);
        expect((await request(fresh.app).post('/auth/google').send(await idTokenBody(fresh.app, { sub }))).status).to.equal(200);
        expect(oidc.requests.get(DISCOVERY)).to.equal(before + 1);
      } finally {
        await fresh.close();
      }
    });
  });

  describe('ID tokens', () => {
    it('accepts a real ID token from the provider for the same identity as the code flow', async () => {
      const { sub } = account();
      const viaCode = await codeSignIn(h.app, sub);
      const { code, codeVerifier, nonce } = await oidc.authorize({ sub, nonce: await serverNonce(h.app) });
      const idToken = await oidc.redeem(code, codeVerifier);
      const res = await request(h.app).post('/auth/google').send({ idToken, nonce });
      expect(res.status, res.text).to.equal(200);
      expect(claimsOf(res.body.access_token).sub).to.equal(claimsOf(viaCode.body.access_token).sub);
    });

    it('refuses wrong audience, wrong issuer, expiry, a bad signature, an unknown key, a foreign algorithm and a nonce mismatch, each with its reason', async () => {
      const { sub, email } = account();
      const now = Math.floor(Date.now() / 1000);
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const otherKey = await exportJWK(privateKey);
      const hmacKey = { kty: 'oct', k: Buffer.from('a-shared-secret-of-enough-length-0123456789').toString('base64url') };

      const cases: Array<[string, Promise<string>, string, string?]> = [
        ['wrong audience', oidc.signIdToken({ sub, email, aud: 'someone-elses-client' }), 'audience'],
        ['several audiences without azp', oidc.signIdToken({ sub, email, aud: [CLIENT_ID, 'another'] }), 'audience'],
        ['wrong issuer', oidc.signIdToken({ sub, email, iss: 'https://accounts.evil.example' }), 'issuer'],
        ['expired', oidc.signIdToken({ sub, email, iat: now - 7200, exp: now - 3600 }), 'expired'],
        ['bad signature', oidc.signIdToken({ sub, email }, { key: otherKey }), 'signature'],
        ['unknown kid', oidc.signIdToken({ sub, email }, { key: otherKey, kid: 'not-published' }), 'unknown_kid'],
        ['HS256', oidc.signIdToken({ sub, email }, { key: hmacKey, alg: 'HS256' }), 'algorithm'],
        ['nonce mismatch', oidc.signIdToken({ sub, email, nonce: 'nonce-a' }), 'nonce', 'nonce-b'],
      ];
      const reasons = new Set<string>();
      for (const [label, token, reason, nonce] of cases) {
        const res = await request(h.app).post('/auth/google').send({ idToken: await token, ...(nonce ? { nonce } : {}) });
        expect(res.status, `${label}: ${res.text}`).to.equal(401);
        expect(res.body.code, label).to.equal('invalid_id_token');
        expect(res.body.reason, label).to.equal(reason);
        reasons.add(res.body.reason);
      }
      expect(reasons.size).to.equal(7);
      expect(await h.storage.identities.findBySubject('google', sub), 'no refused token signs anyone up').to.equal(null);

      // A token with a matching nonce this server issued, and a garbage token.
      const ok = await request(h.app).post('/auth/google').send(await idTokenBody(h.app, { sub, email }));
      expect(ok.status, ok.text).to.equal(200);
      expectProblem(await request(h.app).post('/auth/google').send({ idToken: 'not.a.jwt' }), 401, 'invalid_id_token', 'malformed');
    });

    it('refuses an ID token whose email is unverified or missing', async () => {
      const { sub } = account();
      expectProblem(await request(h.app).post('/auth/google').send(await idTokenBody(h.app, { sub, email: `u-${unique()}@example.com`, email_verified: false })), 403, 'email_not_verified');
      expectProblem(await request(h.app).post('/auth/google').send(await idTokenBody(h.app, { sub })), 403, 'external_email_missing');
      const ok = await request(h.app).post('/auth/google').send(await idTokenBody(h.app, { sub, email: `u-${unique()}@example.com` }));
      expect(ok.status, ok.text).to.equal(200);
    });
  });

  describe('existing password accounts', () => {
    it('refuses to sign in to an existing password account with 409 account_exists unless linking is on', async () => {
      const owner = await signupWithOrg(h.app);
      const { sub } = account({ email: owner.email });
      expectProblem(await codeSignIn(h.app, sub), 409, 'account_exists');
      expect(await h.storage.identities.findBySubject('google', sub)).to.equal(null);
    });

    it('links a verified email to an existing account whose email was verified when linkVerifiedEmails is on, never to a password sign-up', async () => {
      const linking = await startHarness(googleOptions({ linkVerifiedEmails: true }));
      try {
        // An account made by a verified identity has a verified email.
        const first = account();
        const made = await codeSignIn(linking.app, first.sub);
        expect(made.status, made.text).to.equal(200);
        const userId = claimsOf(made.body.access_token).sub as string;
        const org = await request(linking.app)
          .post('/auth/setup-org')
          .set(bearer(made.body.access_token))
          .send({ action: 'create', orgCreateProps: { name: 'Linked', slug: `linked-${unique()}` } });
        expect(org.status, org.text).to.equal(200);
        const { sub } = account({ email: first.email.toUpperCase() });
        const res = await codeSignIn(linking.app, sub);
        expect(res.status, res.text).to.equal(200);
        expect(res.body).not.to.have.property('needsOrg');
        expect(claimsOf(res.body.access_token)).to.include({ sub: userId, role: 'owner' });
        expect((await linking.storage.identities.findBySubject('google', sub))?.userId).to.equal(userId);
        // On the account's own log, once: the link, not the sign-ins through it.
        const linked = async () => linking.storage.knex('auth_audit_log').where({ actor_id: userId, action: 'identity.linked' });
        expect((await linked()).map((e: { chain: string; org_id: string | null; data: string }) => [e.chain, e.org_id, JSON.parse(e.data)])).to.deep.equal([
          [`user:${userId}`, null, { provider: 'google' }],
        ]);
        expect((await codeSignIn(linking.app, sub)).status).to.equal(200);
        expect(await linked()).to.have.length(1);

        // A password sign-up's email was never verified: linking to it is refused, the password still works.
        const owner = await signupWithOrg(linking.app);
        const other = account({ email: owner.email });
        expectProblem(await codeSignIn(linking.app, other.sub), 409, 'account_exists', 'unverified_account');
        expect((await request(linking.app).post('/auth/signin').send({ email: owner.email, password: PASSWORD })).status).to.equal(200);
      } finally {
        await linking.close();
      }
    });

    it('never links on an unverified email, even with linkVerifiedEmails on', async () => {
      const linking = await startHarness(googleOptions({ linkVerifiedEmails: true }));
      try {
        const owner = await signupWithOrg(linking.app);
        const { sub } = account({ email: owner.email, email_verified: false });
        expectProblem(await codeSignIn(linking.app, sub), 403, 'email_not_verified');
        expect(await linking.storage.identities.findBySubject('google', sub)).to.equal(null);
      } finally {
        await linking.close();
      }
    });

    it('answers 403 mfa_required with an mfa_token for a user with a second factor', async () => {
      const { sub } = account();
      const first = await codeSignIn(h.app, sub);
      const setup = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(first.body.access_token));
      expect(setup.status, setup.text).to.equal(200);
      const enable = await request(h.app).post('/auth/mfa/totp/enable').set(bearer(first.body.access_token)).send({ code: await generate({ secret: setup.body.secret }) });
      expect(enable.status, enable.text).to.equal(200);
      const res = await codeSignIn(h.app, sub);
      expectProblem(res, 403, 'mfa_required');
      expect(res.body.mfa_token).to.be.a('string');
      expect(res.body).not.to.have.property('access_token');
    });
  });

  describe('input and availability', () => {
    it('rejects bad input with 400 naming the field', async () => {
      const idToken = await oidc.signIdToken({ sub: 'x' });
      const cases: Array<[unknown, string]> = [
        [{}, 'code'],
        [{ code: 'a', idToken }, 'code'],
        [{ code: '' }, 'code'],
        [{ code: 42 }, 'code'],
        [{ idToken, codeVerifier: 'v'.repeat(43) }, 'codeVerifier'],
        [{ idToken, redirectUri: REDIRECT_URI }, 'redirectUri'],
        [{ code: 'a', codeVerifier: 'short' }, 'codeVerifier'],
        [{ code: 'a', nonce: 'n'.repeat(600) }, 'nonce'],
        [{ code: 'a', redirectUri: 'https://attacker.example/callback' }, 'redirectUri'],
        [{ code: 'a', isAdmin: true }, ''],
      ];
      for (const [body, path] of cases) {
        const res = await request(h.app).post('/auth/google').send(body as object);
        expectProblem(res, 400, 'invalid_request');
        expect(res.body.errors.map((e: { path: string }) => e.path), JSON.stringify(body)).to.include(path);
      }
      expectProblem(await request(h.app).post('/auth/google'), 400, 'invalid_request');
      expectProblem(await request(h.app).post('/auth/google').set('Content-Type', 'text/plain').send('code=a'), 415, 'unsupported_media_type');
    });

    it('answers 503 identity_provider_unavailable while the provider is down, and recovers without a restart', async () => {
      const fresh = await startHarness(googleOptions());
      try {
        const { sub } = account();
        const { code, codeVerifier, nonce } = await oidc.authorize({ sub });
        oidc.down = true;
        expectProblem(await request(fresh.app).post('/auth/google').send({ code, codeVerifier, nonce }), 503, 'identity_provider_unavailable');
        oidc.down = false;
        const res = await request(fresh.app).post('/auth/google').send({ code, codeVerifier, nonce });
        expect(res.status, res.text).to.equal(200);
        // Down again after discovery: the token endpoint's 503 is reported the same way.
        const later = await oidc.authorize({ sub });
        oidc.down = true;
        expectProblem(await request(fresh.app).post('/auth/google').send(later), 503, 'identity_provider_unavailable');
      } finally {
        await fresh.close();
      }
    });

    it('answers 503 when nothing listens at the issuer', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const offline = await startHarness(googleOptions({ issuer: `http://127.0.0.1:${port}` }));
      try {
        expectProblem(await request(offline.app).post('/auth/google').send({ code: 'whatever' }), 503, 'identity_provider_unavailable');
        expectProblem(await request(offline.app).post('/auth/google').send({ idToken: await oidc.signIdToken({ sub: 'x' }) }), 503, 'identity_provider_unavailable');
      } finally {
        await offline.close();
      }
    });

    it('is not mounted without the google option', async () => {
      const plain = await startHarness();
      try {
        expectProblem(await request(plain.app).post('/auth/google').send({ code: 'a' }), 404, 'not_found');
      } finally {
        await plain.close();
      }
    });

    it('refuses bad google options at startup', async () => {
      const base = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI };
      const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ ...base, clientId: '' }, /google\.clientId/],
        [{ ...base, redirectUri: 'not a url' }, /google\.redirectUri/],
        [{ ...base, redirectUri: 'https://app.example.test' }, /normalised form/],
        [{ ...base, redirectUri: `${REDIRECT_URI}?x=1` }, /no query/],
        [{ ...base, issuer: 'http://127.0.0.1:1' }, /allowInsecureRequests/],
      ];
      for (const [google, message] of bad) {
        let error: unknown;
        try {
          await (await startHarness({ google } as never)).close();
        } catch (err) {
          error = err;
        }
        expect(error, JSON.stringify(google)).to.be.instanceOf(TypeError);
        expect((error as Error).message).to.match(message);
      }
    });
  });
});
