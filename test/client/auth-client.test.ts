import { expect } from 'chai';
import { generate } from 'otplib';
import { createAuthClient, GatehouseError, type AuthClient, type AuthState } from 'gatehouse-auth/client';
import { claimsOf, PASSWORD, unique } from '../helpers/harness.js';
import { startExample, type RunningExample } from '../helpers/example.js';
import { assertPasskey, createPasskey, type SoftPasskey } from '../helpers/webauthn.js';

const ACCESS_TTL_S = 4;

/** A fetch that records what it sends, and can hold a request back before passing it on. */
function recordingFetch(hold: (url: string) => number = () => 0) {
  const calls: string[] = [];
  const fetchFn: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const delay = hold(url.pathname);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const res = await fetch(input, init);
    calls.push(`${init?.method ?? 'GET'} ${url.pathname} ${res.status}`);
    return res;
  };
  return { calls, fetch: fetchFn };
}

async function rejection(promise: Promise<unknown>): Promise<GatehouseError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(GatehouseError);
  return err as GatehouseError;
}

function nextState(client: AuthClient): Promise<AuthState> {
  return new Promise((resolve) => {
    const off = client.on('state', (state) => {
      off();
      resolve(state);
    });
  });
}


const sidOf = (token: string) => claimsOf(token).sid;

// The example binds passkeys to localhost (its default appUrl), whatever address it listens on.
const PASSKEY_ORIGIN = 'http://localhost:3000';

/** Registration options for a passkey that is then never registered: a credential the server doesn't know. */
async function registrationOptionsFor(client: AuthClient): Promise<Parameters<typeof createPasskey>[0]> {
  let captured: unknown;
  await client.registerPasskey(async (options) => {
    captured = options;
    throw new Error('cancelled');
  }).catch(() => undefined);
  return captured as Parameters<typeof createPasskey>[0];
}

describe('gatehouse-auth/client against the example server', function () {
  this.timeout(30_000);
  let example: RunningExample;
  let baseUrl: string;

  before(async () => {
    example = await startExample({ accessTtl: ACCESS_TTL_S });
    baseUrl = `${example.url}/auth`;
  });
  after(() => example.close());

  async function signedUp(client: AuthClient) {
    const id = unique();
    const email = `client-${id}@example.com`;
    const user = await client.signup({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: `Client ${id}`, slug: `client-${id}` } });
    const result = await client.signin(email, PASSWORD);
    if (result.status !== 'signed-in') throw new Error('expected a session');
    return { email, user, result };
  }

  it('signs up and in, emits signed-in, and calls guarded routes of the router and the host app', async () => {
    const client = createAuthClient({ baseUrl });
    const states: AuthState[] = [];
    client.on('state', (s) => states.push(s));
    const { email, user, result } = await signedUp(client);
    expect(user.organizationId).to.be.a('string');
    expect(result.claims).to.include({ sub: user.id, org: user.organizationId, role: 'owner', exi: ACCESS_TTL_S });
    expect(states.map((s) => s.status)).to.deep.equal(['signed-in']);

    const me = await client.me();
    expect(me).to.include({ email, role: 'owner', via: 'jwt' });
    expect((await client.orgs()).map((o) => o.id)).to.deep.equal([user.organizationId]);
    const hello = await client.request('/api/hello');
    expect(hello.status).to.equal(200);
    expect(await hello.json()).to.include({ userId: user.id, orgId: user.organizationId });
    await client.logout();
  });

  it('reports failures as GatehouseError with the server code, status and field errors', async () => {
    const client = createAuthClient({ baseUrl });
    const { email } = await signedUp(client);
    const taken = await rejection(client.signup({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: 'x', slug: `x-${unique()}` } }));
    expect(taken).to.include({ code: 'email_taken', status: 409 });
    const invalid = await rejection(client.signup({ email: 'nope', password: 'short', action: 'join', invitationCode: 'x' }));
    expect(invalid.code).to.equal('invalid_request');
    expect(invalid.errors.map((e) => e.path)).to.include.members(['email', 'password']);
    expect((await rejection(client.signin(email, 'wrong password'))).code).to.equal('invalid_credentials');
    const offline = createAuthClient({ baseUrl: 'http://127.0.0.1:9/auth' });
    expect((await rejection(offline.signin(email, PASSWORD))).code).to.equal('network_error');
    await client.logout();
  });

  it('refreshes on a timer before exi runs out, and the old refresh token only repeats that rotation afterwards', async () => {
    const client = createAuthClient({ baseUrl });
    const { result } = await signedUp(client);
    const first = result.tokens;
    // 4 s lifetime: the lead is capped at a quarter of it, so the refresh is due 1 s before expiry.
    expect(client.nextRefreshAt).to.be.closeTo(client.accessExpiresAt - 1_000, 50);
    const refreshed = new Promise<{ accessToken: string; refreshToken: string }>((resolve) => client.on('tokens', (t) => resolve(t)));
    const started = Date.now();
    const { accessToken: access, refreshToken } = await refreshed;
    expect(Date.now() - started).to.be.within(2_500, ACCESS_TTL_S * 1000 - 500);
    expect(access).to.not.equal(first.accessToken);
    expect(client.state.status).to.equal('signed-in');
    // Within rotation.reuseGrace the old token gets the same refresh token again (a retry), never a second one.
    const reused = await fetch(`${baseUrl}/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: first.refreshToken }) });
    expect(reused.status).to.equal(200);
    const again = (await reused.json()) as { access_token: string; refresh_token: string };
    expect(again.refresh_token).to.equal(refreshToken);
    expect(sidOf(again.access_token)).to.equal(sidOf(access));
    await client.logout();
  });

  it('answers a 401 token_expired with one refresh and one retry', async () => {
    // No refresh timer, and the request is held back until the token has expired on the server: it expires in flight.
    let expiresAt = 0;
    const recorder = recordingFetch((path) => (path === '/api/hello' ? Math.max(0, expiresAt + 200 - Date.now()) : 0));
    const client = createAuthClient({ baseUrl, fetch: recorder.fetch, autoRefresh: false });
    const { result } = await signedUp(client);
    expiresAt = result.claims.exp * 1000;
    expect(client.nextRefreshAt).to.equal(0);
    const states: string[] = [];
    client.on('state', (s) => states.push(s.status));
    const res = await client.request('/api/hello');
    expect(res.status).to.equal(200);
    expect(recorder.calls.slice(-3)).to.deep.equal(['GET /api/hello 401', 'POST /auth/refresh 200', 'GET /api/hello 200']);
    expect(states).to.deep.equal([]);
    await client.logout();
  });

  it('shares one refresh between concurrent callers, so rotation never looks like reuse', async () => {
    const recorder = recordingFetch();
    const client = createAuthClient({ baseUrl, fetch: recorder.fetch });
    await signedUp(client);
    const results = await Promise.all([client.refresh(), client.refresh(), client.refresh()]);
    expect(new Set(results.map((t) => t.refreshToken)).size).to.equal(1);
    expect(recorder.calls.filter((c) => c.startsWith('POST /auth/refresh'))).to.deep.equal(['POST /auth/refresh 200']);
    expect((await client.request('/api/hello')).status).to.equal(200);
    await client.logout();
  });

  it('completes the MFA step with a TOTP code or a recovery code', async () => {
    const owner = createAuthClient({ baseUrl });
    const { email } = await signedUp(owner);
    const { secret } = await owner.setupTotp();
    const now = Date.now();
    const recoveryCodes = await owner.enableTotp(await generate({ secret, epoch: Math.floor(now / 1000) }));
    expect(recoveryCodes).to.have.length(10);
    expect(await owner.mfaStatus()).to.deep.equal({ totp: 'on', recoveryCodesLeft: 10 });

    const client = createAuthClient({ baseUrl });
    const challenge = await client.signin(email, PASSWORD);
    if (challenge.status !== 'mfa-required') throw new Error('expected the MFA step');
    expect(client.state.status).to.equal('signed-out');
    expect((await rejection(challenge.verifyMfa('000000'))).code).to.equal('invalid_mfa_code');
    // The step after the one spent on enabling: ±1 step of drift is accepted.
    const signedIn = await challenge.verifyMfa(await generate({ secret, epoch: Math.floor(now / 1000) + 30 }));
    expect(signedIn.claims.sub).to.equal((await client.me()).id);

    const again = await createAuthClient({ baseUrl }).signin(email, PASSWORD);
    if (again.status !== 'mfa-required') throw new Error('expected the MFA step');
    const byRecovery = await again.verifyMfa(recoveryCodes[0] as string);
    expect(byRecovery.status).to.equal('signed-in');
    await client.logout();
  });

  it('reauthenticate: a wrong password is refused; the right one switches to an access token with a new auth_time in the same session', async () => {
    const client = createAuthClient({ baseUrl });
    const { result } = await signedUp(client);
    expect((await rejection(client.reauthenticate({ password: 'not the password' }))).code).to.equal('invalid_credentials');
    const before = client.tokens;
    const claims = await client.reauthenticate({ password: PASSWORD });
    expect(claims.auth_time).to.be.a('number');
    expect(claims.sid).to.equal(result.claims.sid);
    expect(client.tokens?.accessToken).not.to.equal(before?.accessToken);
    expect(client.tokens?.refreshToken).to.equal(before?.refreshToken);
    expect((await client.createApiKey({ name: 'after step-up' })).key).to.match(/^ghk_/);
    await client.logout();
  });

  it('passkeys: registers one, lists it, signs in with it (a session, or the MFA step without user verification), and removes it', async () => {
    const owner = createAuthClient({ baseUrl });
    const { user } = await signedUp(owner);
    let passkey: SoftPasskey | undefined;
    const created = await owner.registerPasskey(async (options) => {
      const made = createPasskey(options as Parameters<typeof createPasskey>[0], { origin: PASSKEY_ORIGIN });
      passkey = made.passkey;
      return made.credential;
    }, { name: 'Laptop' });
    expect(created).to.include({ name: 'Laptop', lastUsedAt: null });
    expect((await owner.passkeys()).map((p) => p.id)).to.deep.equal([created.id]);
    const assert = (userVerified = true) => async (options: { challenge: string }) => assertPasskey(passkey as SoftPasskey, options, { origin: PASSKEY_ORIGIN, userVerified });

    const client = createAuthClient({ baseUrl });
    const signedIn = await client.signInWithPasskey(assert());
    if (signedIn.status !== 'signed-in') throw new Error('expected a session');
    expect(signedIn.claims.sub).to.equal(user.id);
    expect(client.state.status).to.equal('signed-in');
    expect((await client.me()).id).to.equal(user.id);

    // With TOTP on, a passkey without user verification is one factor: the TOTP step follows.
    const { secret } = await owner.setupTotp();
    await owner.enableTotp(await generate({ secret, epoch: Math.floor(Date.now() / 1000) }));
    const oneFactor = await createAuthClient({ baseUrl }).signInWithPasskey(assert(false));
    expect(oneFactor.status).to.equal('mfa-required');

    // A passkey the server doesn't know: the server's code, and the client stays signed out.
    const stranger = createAuthClient({ baseUrl });
    const unknown = await rejection(stranger.signInWithPasskey(async (options) => assertPasskey(createPasskey(await registrationOptionsFor(owner), { origin: PASSKEY_ORIGIN }).passkey, options, { origin: PASSKEY_ORIGIN })));
    expect(unknown.code).to.equal('passkey_unknown');
    expect(stranger.state.status).to.equal('signed-out');

    await owner.removePasskey(created.id);
    expect(await owner.passkeys()).to.deep.equal([]);
    expect((await rejection(owner.removePasskey(created.id))).code).to.equal('passkey_not_found');
    await client.logout();
  });

  it('logout: signed out with reason "logout", and the server refuses the old access token', async () => {
    const client = createAuthClient({ baseUrl });
    const { result } = await signedUp(client);
    const state = nextState(client);
    await client.logout();
    expect(await state).to.deep.equal({ status: 'signed-out', reason: 'logout' });
    expect(client.tokens).to.equal(null);
    expect((await rejection(client.me())).code).to.equal('signed_out');
    const old = await fetch(`${example.url}/api/hello`, { headers: { authorization: `Bearer ${result.tokens.accessToken}` } });
    expect(old.status).to.equal(401);
  });

  it('a 401 after a logout elsewhere turns into a signed-out state with reason "revoked"', async () => {
    const here = createAuthClient({ baseUrl });
    const { result } = await signedUp(here);
    // Another holder of the same session (a second tab, say) logs out.
    const elsewhere = createAuthClient({ baseUrl, tokens: result.tokens });
    await elsewhere.logout();
    const state = nextState(here);
    const res = await here.request('/api/hello');
    expect(res.status).to.equal(401);
    expect(await state).to.deep.equal({ status: 'signed-out', reason: 'revoked' });
    expect(here.tokens).to.equal(null);
  });
});
