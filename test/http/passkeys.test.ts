import { expect } from 'chai';
import { generate } from 'otplib';
import request from 'supertest';
import { claimsOf, expectProblem, PASSWORD, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { assertPasskey, createPasskey, type SoftPasskey } from '../helpers/webauthn.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const ORIGIN = 'http://localhost:8080';
const MINUTE = 60_000;

describe('passkeys (WebAuthn)', () => {
  let h: Harness;
  let now: number;
  let user: SignedUp;

  beforeEach(async () => {
    now = Date.now();
    h = await startHarness({ clock: { now: () => now }, cookies: true, passkeys: { rpID: 'localhost', rpName: 'Gatehouse test', origins: [ORIGIN] } });
    user = await signupWithOrg(h.app);
  });
  afterEach(async () => {
    await h.close();
  });

  async function registrationOptions(access = user.access) {
    const res = await request(h.app).post('/auth/passkeys/registration/options').set(bearer(access));
    expect(res.status, res.text).to.equal(200);
    return res.body as { challenge: string; rp: { id: string; name: string }; user: { id: string; name: string }; excludeCredentials: Array<{ id: string }> };
  }

  async function register(access = user.access): Promise<{ passkey: SoftPasskey; id: string }> {
    const { passkey, credential } = createPasskey(await registrationOptions(access), { origin: ORIGIN });
    const res = await request(h.app).post('/auth/passkeys/registration/verify').set(bearer(access)).send({ credential, name: 'Laptop' });
    expect(res.status, res.text).to.equal(201);
    return { passkey, id: res.body.id };
  }

  async function signInOptions(body: object = {}) {
    const res = await request(h.app).post('/auth/passkeys/authentication/options').send(body);
    expect(res.status, res.text).to.equal(200);
    return res.body as { challenge: string; rpId: string; allowCredentials?: Array<{ id: string }>; userVerification: string };
  }

  const verify = (credential: object, headers: Record<string, string> = {}) => request(h.app).post('/auth/passkeys/authentication/verify').set(headers).send({ credential });

  it('registers a passkey after a fresh sign-in (no body needed) and signs in with it: a token pair, no email typed', async () => {
    const options = await registrationOptions();
    expect(options.rp).to.deep.equal({ name: 'Gatehouse test', id: 'localhost' });
    expect(options.user.name).to.equal(user.email);
    const { passkey, credential } = createPasskey(options, { origin: ORIGIN });
    const created = await request(h.app).post('/auth/passkeys/registration/verify').set(bearer(user.access)).send({ credential, name: 'Laptop' });
    expect(created.status, created.text).to.equal(201);
    expect(created.body).to.include({ name: 'Laptop', deviceType: 'multiDevice', backedUp: true, lastUsedAt: null });
    expect(created.body.transports).to.deep.equal(['internal']);

    // Discoverable: options without an email allow any credential.
    const signInWith = await signInOptions();
    expect(signInWith.rpId).to.equal('localhost');
    expect(signInWith.allowCredentials ?? []).to.deep.equal([]);
    const res = await verify(assertPasskey(passkey, signInWith, { origin: ORIGIN }));
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.have.keys('access_token', 'refresh_token');
    expect(claimsOf(res.body.access_token).sub).to.equal(user.userId);
    // Audited as a sign-in by passkey, in the org the session is scoped to.
    const audited = await h.storage.knex('auth_audit_log').where({ action: 'signin.succeeded', actor_id: user.userId }).orderBy('seq');
    expect(audited.map((r: { data: string; org_id: string }) => [JSON.parse(r.data).method, r.org_id])).to.deep.equal([
      ['password', user.orgId],
      ['passkey', user.orgId],
    ]);
    expect(audited[1].target_id).to.equal(claimsOf(res.body.access_token).sid);
    expect((await request(h.app).get('/auth/me').set(bearer(res.body.access_token))).body.email).to.equal(user.email);

    const listed = await request(h.app).get('/auth/passkeys').set(bearer(user.access));
    expect(listed.body.passkeys).to.have.length(1);
    expect(listed.body.passkeys[0]).to.include({ id: created.body.id, name: 'Laptop', lastUsedAt: new Date(now).toISOString() });
    const [row] = await h.storage.knex('auth_passkeys');
    expect(Number(row.counter)).to.equal(1);

    // With an email, that account's passkeys are named; the next registration excludes them.
    expect((await signInOptions({ email: user.email })).allowCredentials?.map((c) => c.id)).to.deep.equal([credential.id]);
    expect((await signInOptions({ email: 'nobody@example.com' })).allowCredentials ?? []).to.deep.equal([]);
    expect((await registrationOptions()).excludeCredentials.map((c) => c.id)).to.deep.equal([credential.id]);
  });

  it('registration needs a recent sign-in: 403 reauthentication_required on both steps', async () => {
    const options = await registrationOptions();
    now += 6 * MINUTE;
    expectProblem(await request(h.app).post('/auth/passkeys/registration/options').set(bearer(user.access)), 403, 'reauthentication_required');
    const { credential } = createPasskey(options, { origin: ORIGIN });
    expectProblem(await request(h.app).post('/auth/passkeys/registration/verify').set(bearer(user.access)).send({ credential }), 403, 'reauthentication_required');
    expectProblem(await request(h.app).post('/auth/passkeys/registration/options'), 401, 'missing_token');
  });

  it('a challenge is used once, by its own ceremony and account, and expires', async () => {
    const options = await registrationOptions();
    const first = createPasskey(options, { origin: ORIGIN });
    expect((await request(h.app).post('/auth/passkeys/registration/verify').set(bearer(user.access)).send({ credential: first.credential })).status).to.equal(201);
    // The same challenge again, with another new key: refused.
    const again = createPasskey(options, { origin: ORIGIN });
    expectProblem(await request(h.app).post('/auth/passkeys/registration/verify').set(bearer(user.access)).send({ credential: again.credential }), 401, 'passkey_challenge_invalid');
    // A challenge issued to another account.
    const other = await signupWithOrg(h.app);
    const foreign = createPasskey(await registrationOptions(other.access), { origin: ORIGIN });
    expectProblem(await request(h.app).post('/auth/passkeys/registration/verify').set(bearer(user.access)).send({ credential: foreign.credential }), 401, 'passkey_challenge_invalid');
    // One the server never issued.
    const forged = createPasskey({ ...options, challenge: Buffer.from('register.x.y.z.w').toString('base64url') }, { origin: ORIGIN });
    expectProblem(await request(h.app).post('/auth/passkeys/registration/verify').set(bearer(user.access)).send({ credential: forged.credential }), 401, 'passkey_challenge_invalid');

    const signInWith = await signInOptions();
    expect((await verify(assertPasskey(first.passkey, signInWith, { origin: ORIGIN }))).status).to.equal(200);
    expectProblem(await verify(assertPasskey(first.passkey, signInWith, { origin: ORIGIN })), 401, 'passkey_challenge_invalid');
    // A registration challenge does not sign in.
    expectProblem(await verify(assertPasskey(first.passkey, { challenge: (await registrationOptions()).challenge }, { origin: ORIGIN })), 401, 'passkey_challenge_invalid');
    // Expired: the default lifetime is 5 minutes.
    const late = await signInOptions();
    now += 5 * MINUTE + 1000;
    expectProblem(await verify(assertPasskey(first.passkey, late, { origin: ORIGIN })), 401, 'passkey_challenge_invalid');
  });

  it('of 10 parallel presentations of one assertion exactly one signs in', async () => {
    const { passkey } = await register();
    const assertion = assertPasskey(passkey, await signInOptions(), { origin: ORIGIN });
    const results = await Promise.all(Array.from({ length: 10 }, () => verify(assertion)));
    expect(results.map((r) => r.status).sort()).to.deep.equal([200, ...Array<number>(9).fill(401)]);
    for (const r of results.filter((x) => x.status === 401)) expect(r.body.code).to.equal('passkey_challenge_invalid');
  });

  it("failed sign-ins spend the client's per-IP throttle, reserved before the check (60 at once: 50 refused, 10 throttled); successful ones give it back", async () => {
    const { passkey } = await register();
    for (let i = 0; i < 3; i++) expect((await verify(assertPasskey(passkey, await signInOptions(), { origin: ORIGIN }))).status).to.equal(200);
    const stranger = createPasskey(await registrationOptions(), { origin: ORIGIN }).passkey;
    const bad = assertPasskey(stranger, await signInOptions(), { origin: ORIGIN });
    const results = await Promise.all(Array.from({ length: 60 }, () => verify(bad)));
    const codes = results.map((r) => r.body.code as string);
    expect(codes.filter((c) => c === 'too_many_attempts'), JSON.stringify(codes)).to.have.length(10);
    expect(codes.filter((c) => c === 'passkey_unknown' || c === 'passkey_challenge_invalid')).to.have.length(50);
    for (const r of results.filter((x) => x.body.code === 'too_many_attempts')) expect(r.status).to.equal(429);
    // The address is out of points: a valid assertion is refused too, before its challenge is taken.
    expectProblem(await verify(assertPasskey(passkey, await signInOptions(), { origin: ORIGIN })), 429, 'too_many_attempts');
  });

  it('registration options also take an empty JSON body', async () => {
    const res = await request(h.app).post('/auth/passkeys/registration/options').set(bearer(user.access)).send({});
    expect(res.status, res.text).to.equal(200);
    expect(res.headers['cache-control']).to.equal('no-store');
  });

  it('refuses a passkey it does not know, or no longer knows: 401 passkey_unknown', async () => {
    const stranger = createPasskey(await registrationOptions(), { origin: ORIGIN }).passkey;
    expectProblem(await verify(assertPasskey(stranger, await signInOptions(), { origin: ORIGIN })), 401, 'passkey_unknown');
    const { passkey, id } = await register();
    const other = await signupWithOrg(h.app);
    expectProblem(await request(h.app).delete(`/auth/passkeys/${id}`).set(bearer(other.access)), 404, 'passkey_not_found');
    expect((await request(h.app).delete(`/auth/passkeys/${id}`).set(bearer(user.access))).status).to.equal(204);
    expectProblem(await verify(assertPasskey(passkey, await signInOptions(), { origin: ORIGIN })), 401, 'passkey_unknown');
    expect((await request(h.app).get('/auth/passkeys').set(bearer(user.access))).body).to.deep.equal({ passkeys: [] });
    // Both changes are in the user's own audit log; the refused removal is not.
    const audited = await h.storage.knex('auth_audit_log').where({ chain: `user:${user.userId}` }).whereLike('action', 'passkey.%').orderBy('seq');
    expect(audited.map((r: { action: string; target_id: string; data: string }) => [r.action, r.target_id, JSON.parse(r.data)])).to.deep.equal([
      ['passkey.registered', id, { name: 'Laptop', deviceType: 'multiDevice', backedUp: true }],
      ['passkey.removed', id, {}],
    ]);
  });

  it('refuses ceremonies from another origin or for another RP ID', async () => {
    const evil = createPasskey(await registrationOptions(), { origin: 'https://evil.example' });
    expectProblem(await request(h.app).post('/auth/passkeys/registration/verify').set(bearer(user.access)).send({ credential: evil.credential }), 401, 'passkey_origin_mismatch');
    const { passkey } = await register();
    expectProblem(await verify(assertPasskey(passkey, await signInOptions(), { origin: 'http://127.0.0.1:8080' })), 401, 'passkey_origin_mismatch');
    expectProblem(await verify(assertPasskey(passkey, await signInOptions(), { origin: ORIGIN, rpId: 'evil.example' })), 401, 'passkey_verification_failed');
  });

  it('refuses a signature counter that did not move forward (a cloned authenticator)', async () => {
    const { passkey } = await register();
    expect((await verify(assertPasskey(passkey, await signInOptions(), { origin: ORIGIN }))).status).to.equal(200);
    passkey.counter = 0;
    expectProblem(await verify(assertPasskey(passkey, await signInOptions(), { origin: ORIGIN })), 401, 'passkey_verification_failed');
  });

  it('with user verification the passkey is both factors: no TOTP step; without, TOTP still follows', async () => {
    const { passkey } = await register();
    const setup = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(user.access));
    const code = await generate({ secret: setup.body.secret, epoch: Math.floor(now / 1000) });
    expect((await request(h.app).post('/auth/mfa/totp/enable').set(bearer(user.access)).send({ code })).status).to.equal(200);
    expect((await request(h.app).post('/auth/signin').send({ email: user.email, password: PASSWORD })).status).to.equal(403);

    const verified = await verify(assertPasskey(passkey, await signInOptions(), { origin: ORIGIN }));
    expect(verified.status, verified.text).to.equal(200);
    expect(verified.body).to.have.property('access_token');
    const presenceOnly = await verify(assertPasskey(passkey, await signInOptions(), { origin: ORIGIN, userVerified: false }));
    expectProblem(presenceOnly, 403, 'mfa_required');
    expect(presenceOnly.body.mfa_token).to.be.a('string');
  });

  it('answers with a refresh cookie when asked, like /signin', async () => {
    const { passkey } = await register();
    const res = await verify(assertPasskey(passkey, await signInOptions(), { origin: ORIGIN }), { 'X-Auth-Transport': 'cookie' });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.have.property('access_token');
    expect(res.body).not.to.have.property('refresh_token');
    expect(String(res.headers['set-cookie'])).to.match(/HttpOnly/);
  });

  it('answers bad bodies with 400 invalid_request', async () => {
    const bad = async (path: string, body: unknown, token?: string) => {
      let req = request(h.app).post(`/auth/passkeys/${path}`);
      if (token) req = req.set(bearer(token));
      expectProblem(await req.send(body as object), 400, 'invalid_request');
    };
    await bad('authentication/verify', {});
    await bad('authentication/verify', { credential: { id: 'not base64url!', rawId: 'x', type: 'public-key', response: {}, clientExtensionResults: {} } });
    await bad('authentication/verify', { credential: { id: 'abc', rawId: 'abc', type: 'password', response: { clientDataJSON: 'a', authenticatorData: 'b', signature: 'c' }, clientExtensionResults: {} } });
    await bad('authentication/options', { email: 'not-an-email' });
    await bad('authentication/options', { email: 'a@example.com', extra: 1 });
    await bad('registration/verify', { credential: { id: 'abc' } }, user.access);
    await bad('registration/verify', { name: 'x' }, user.access);
    // Well-formed but not JSON inside clientDataJSON.
    const garbage = { id: 'abc', rawId: 'abc', type: 'public-key', response: { clientDataJSON: 'abc', authenticatorData: 'abc', signature: 'abc' }, clientExtensionResults: {} };
    expectProblem(await verify(garbage), 401, 'passkey_verification_failed');
  });

  it('checks the option: an IP address or a URL as rpID, or an origin with a path, is refused at start', async () => {
    const bad: Array<[object, RegExp]> = [
      [{ rpID: '127.0.0.1', origins: ['http://127.0.0.1:3000'] }, /IP address/],
      [{ rpID: '::1', origins: ['http://[::1]:3000'] }, /IP address/],
      [{ rpID: 'https://example.com', origins: ['https://example.com'] }, /passkeys\.rpID/],
      [{ rpID: 'example.com', origins: [] }, /passkeys\.origins/],
      [{ rpID: 'example.com', origins: ['https://example.com/'] }, /passkeys\.origins/],
    ];
    for (const [passkeys, message] of bad) {
      let error: unknown;
      try {
        await (await startHarness({ passkeys } as never)).close();
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(passkeys)).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.match(message);
    }
  });

  it('is not mounted without the passkeys option', async () => {
    const plain = await startHarness();
    try {
      expect((await request(plain.app).post('/auth/passkeys/authentication/options').send({})).status).to.equal(404);
    } finally {
      await plain.close();
    }
  });
});
