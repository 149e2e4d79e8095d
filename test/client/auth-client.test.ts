import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { generate } from 'otplib';
import { createAuthClient, GatehouseError, type AuthClient, type AuthState } from 'gatehouse-auth/client';
import { createExampleApp } from '../../example-app/app.js';
import { claimsOf, PASSWORD, SECRET, unique } from '../helpers/harness.js';
import { startExample, type RunningExample } from '../helpers/example.js';
import { createTestDatabase } from '../helpers/postgres.js';
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

/** A new account, owner of a new organization, signed in. */
async function signedUp(client: AuthClient) {
  const id = unique();
  const email = `client-${id}@example.com`;
  const user = await client.signup({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: `Client ${id}`, slug: `client-${id}` } });
  const result = await client.signin(email, PASSWORD);
  if (result.status !== 'signed-in') throw new Error('expected a session');
  return { email, user, result };
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

/** Polls `check` until it returns something (10 s at most). */
async function until<R>(check: () => Promise<R | null>): Promise<R> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = await check();
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The example app on a fresh PostgreSQL database (test/helpers/postgres.ts), in this process. */
async function startExampleOnPostgres(): Promise<{ url: string; close(): Promise<void> }> {
  const databaseUrl = await createTestDatabase('client_org');
  const { app, auth, storage } = createExampleApp({ databaseFile: '', databaseUrl, secret: SECRET, bcryptCost: 4, mailer: { send: async () => {} } });
  await auth.ready();
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await auth.close();
      await storage.close();
    },
  };
}

for (const backend of ['SQLite', 'PostgreSQL'] as const) {
  describe(`gatehouse-auth/client: an organization's audit log, webhooks, policy and roles (${backend})`, function () {
    this.timeout(60_000);
    let example: { url: string; close(): Promise<void> };
    let baseUrl: string;

    before(async () => {
      example = backend === 'SQLite' ? await startExample() : await startExampleOnPostgres();
      baseUrl = `${example.url}/auth`;
    });
    after(() => example?.close());

    /** An owner with an organization, and a member of it (joined with an invitation). */
    async function ownerAndMember() {
      const owner = createAuthClient({ baseUrl });
      const { user } = await signedUp(owner);
      const orgId = user.organizationId as string;
      const { code } = await owner.invite(orgId, { role: 'member' });
      const member = createAuthClient({ baseUrl });
      const memberEmail = `member-${unique()}@example.com`;
      await member.signup({ email: memberEmail, password: PASSWORD, action: 'join', invitationCode: code });
      await member.signin(memberEmail, PASSWORD);
      return { owner, member, orgId, user };
    }

    it('audit log: newest first, filtered by action, paged with the cursor, chain verified; 400/403/404 as typed errors', async () => {
      const { owner, member, orgId } = await ownerAndMember();
      const key = await owner.createApiKey({ name: 'audited' });
      await owner.revokeApiKey(key.id);

      const page = await owner.auditLog(orgId);
      const actions = page.entries.map((e) => e.action);
      expect(actions.slice(0, 2)).to.deep.equal(['api_key.revoked', 'api_key.created']);
      expect(actions).to.include.members(['member.invited', 'member.joined']);
      const seqs = page.entries.map((e) => e.seq);
      expect(seqs).to.deep.equal([...seqs].sort((x, y) => y - x));
      expect(page.entries[0]).to.deep.include({ orgId, target: { type: 'api_key', id: key.id } });
      expect(page.entries[0]?.at).to.match(/^\d{4}-\d\d-\d\dT/);

      const created = await owner.auditLog(orgId, { action: 'api_key.created' });
      expect(created.entries.map((e) => e.action)).to.deep.equal(['api_key.created']);
      expect(created.entries[0]?.data).to.include({ name: 'audited' });

      const first = await owner.auditLog(orgId, { limit: 1 });
      expect(first.entries).to.have.length(1);
      expect(first.next).to.be.a('string');
      const second = await owner.auditLog(orgId, { limit: 1, cursor: first.next as string });
      expect(second.entries[0]?.seq).to.be.lessThan(first.entries[0]?.seq as number);

      expect(await owner.verifyAuditLog(orgId)).to.deep.equal({ valid: true, checked: seqs.length });

      const bad = await rejection(owner.auditLog(orgId, { action: 'Not An Action' }));
      expect(bad).to.include({ code: 'invalid_request', status: 400 });
      expect(bad.errors.map((e) => e.path)).to.include('action');
      expect(await rejection(member.auditLog(orgId))).to.include({ code: 'forbidden', status: 403 });
      expect(await rejection(member.verifyAuditLog(orgId))).to.include({ status: 403 });
      const stranger = createAuthClient({ baseUrl });
      await signedUp(stranger);
      expect(await rejection(stranger.auditLog(orgId))).to.include({ status: 404 });

      // The account's own log: ending the other sessions is an entry of no org.
      await owner.endOtherSessions();
      const mine = await owner.accountAuditLog({ limit: 5 });
      expect(mine.entries.map((e) => [e.action, e.orgId, e.data.reason])).to.deep.equal([['session.revoked', null, 'others_ended']]);
      expect((await rejection(owner.accountAuditLog({ since: 'yesterday' })))).to.include({ code: 'invalid_request', status: 400 });
      for (const c of [owner, member, stranger]) await c.logout();
    });

    it('webhooks: register the example receiver (secret once), a signed delivery arrives, deliveries, redeliver, rotate, update, delete', async () => {
      const { owner, member, orgId } = await ownerAndMember();
      const url = `${example.url}/demo/webhook-receiver`;
      const created = await owner.createWebhook(orgId, { url, events: ['member.invited'] });
      expect(created).to.include({ url, enabled: true, consecutiveFailures: 0 });
      expect(created.events).to.deep.equal(['member.invited']);
      expect(created.secret).to.match(/^whsec_[A-Za-z0-9+/]+=*$/);
      const listed = await owner.webhooks(orgId);
      expect(listed.map((w) => w.id)).to.deep.equal([created.id]);
      expect(listed[0]).not.to.have.property('secret');

      const invitation = await owner.invite(orgId, {});
      const delivered = await until(async () => {
        const { deliveries } = await owner.webhookDeliveries(orgId, created.id);
        return deliveries[0]?.status === 'delivered' ? deliveries[0] : null;
      });
      expect(delivered).to.include({ eventType: 'member.invited', attempts: 1, lastStatusCode: 204 });

      // The receiver got it signed with the secret shown at registration.
      const got = (await (await owner.request('/demo/webhook-receiver')).json()) as { deliveries: { id: string; timestamp: string; signature: string; body: string }[] };
      const received = got.deliveries.find((d) => d.id === delivered.eventId);
      expect(received, 'the receiver kept the delivery').to.not.equal(undefined);
      expect(JSON.parse(received!.body)).to.deep.include({ type: 'member.invited' });
      expect(JSON.parse(received!.body).data.target).to.deep.equal({ type: 'invitation', id: invitation.id });
      const expected = createHmac('sha256', Buffer.from(created.secret.slice('whsec_'.length), 'base64')).update(`${received!.id}.${received!.timestamp}.${received!.body}`).digest('base64');
      expect(received!.signature.split(' ')).to.include(`v1,${expected}`);
      // Only the owners and admins of the organization see its deliveries there.
      expect((await member.request('/demo/webhook-receiver')).status).to.equal(403);

      const again = await owner.redeliverWebhook(orgId, created.id, delivered.id);
      expect(again).to.include({ eventId: delivered.eventId, status: 'pending' });
      expect(again.id).to.not.equal(delivered.id);
      const page = await owner.webhookDeliveries(orgId, created.id, { limit: 1 });
      expect(page.deliveries.map((d) => d.id)).to.deep.equal([again.id]);
      expect(page.next).to.equal(again.id);
      expect((await owner.webhookDeliveries(orgId, created.id, { limit: 1, before: page.next! })).deliveries.map((d) => d.id)).to.deep.equal([delivered.id]);

      const rotated = await owner.rotateWebhookSecret(orgId, created.id);
      expect(rotated.secret).to.match(/^whsec_/).and.not.equal(created.secret);
      const disabled = await owner.updateWebhook(orgId, created.id, { enabled: false, events: null });
      expect(disabled).to.include({ enabled: false, events: null });

      const badUrl = await rejection(owner.createWebhook(orgId, { url: 'http://example.com/hook' }));
      expect(badUrl).to.include({ code: 'invalid_webhook_url', status: 400 });
      expect(badUrl.errors.map((e) => e.path)).to.deep.equal(['url']);
      expect(await rejection(member.webhooks(orgId))).to.include({ code: 'forbidden', status: 403 });
      expect(await rejection(member.createWebhook(orgId, { url }))).to.include({ status: 403 });

      await owner.deleteWebhook(orgId, created.id);
      expect(await owner.webhooks(orgId)).to.deep.equal([]);
      expect(await rejection(owner.webhookDeliveries(orgId, created.id))).to.include({ code: 'webhook_not_found', status: 404 });
      expect(await rejection(owner.rotateWebhookSecret(orgId, created.id))).to.include({ code: 'webhook_not_found', status: 404 });
      for (const c of [owner, member]) await c.logout();
    });

    it('custom roles: lists built-in and custom roles, creates/updates/deletes one, assigns it to a member (403 -> 201 on the example\'s POST /api/projects); 400/401/403/404/409', async () => {
      const { owner, member, orgId } = await ownerAndMember();
      const memberId = member.claims?.sub as string;
      const listed = await owner.roles(orgId);
      expect(listed.permissions).to.deep.equal(['projects:read', 'projects:write', 'billing:manage']);
      expect(listed.builtIn).to.deep.equal([
        { name: 'owner', permissions: ['projects:read', 'projects:write', 'billing:manage'] },
        { name: 'admin', permissions: ['projects:read', 'projects:write'] },
        { name: 'member', permissions: ['projects:read'] },
      ]);
      expect(listed.custom).to.deep.equal([]);
      // Any member reads the list.
      expect((await member.roles(orgId)).builtIn).to.have.length(3);

      // A plain member reads projects but may not write them: 403 naming the missing permission.
      const read = await member.request('/api/projects');
      expect(read.status).to.equal(200);
      expect(await read.json()).to.deep.include({ orgId, role: 'member', permissions: ['projects:read'] });
      const refused = await member.request('/api/projects', { method: 'POST' });
      expect(refused.status).to.equal(403);
      expect(await refused.json()).to.include({ code: 'permission_denied', permission: 'projects:write' });

      const role = await owner.createRole(orgId, { name: 'Project editor', permissions: ['projects:write'], description: 'edits projects' });
      expect(role).to.include({ name: 'Project editor', description: 'edits projects' });
      expect(role.permissions).to.deep.equal(['projects:write']);
      expect(role.createdAt).to.match(/^\d{4}-\d\d-\d\dT/);
      expect((await owner.roles(orgId)).custom.map((c) => c.id)).to.deep.equal([role.id]);

      // The old signature still works, and the new argument gives the custom role.
      expect(await owner.changeRole(orgId, memberId, 'member', role.id)).to.deep.equal({ userId: memberId, orgId, role: 'member', customRoleId: role.id });
      expect((await owner.members(orgId)).find((m) => m.userId === memberId)?.customRoleId).to.equal(role.id);
      const allowed = await member.request('/api/projects', { method: 'POST' });
      expect(allowed.status).to.equal(201);
      expect(((await allowed.json()) as { permissions: string[] }).permissions).to.have.members(['projects:read', 'projects:write']);

      const renamed = await owner.updateRole(orgId, role.id, { name: 'Editor', description: null });
      expect(renamed).to.include({ id: role.id, name: 'Editor', description: null });
      expect(await rejection(owner.deleteRole(orgId, role.id))).to.include({ code: 'role_in_use', status: 409 });
      expect(await owner.changeRole(orgId, memberId, 'member')).to.deep.equal({ userId: memberId, orgId, role: 'member' });
      expect((await member.request('/api/projects', { method: 'POST' })).status).to.equal(403);
      // null takes the role away too, and the answer says so.
      await owner.changeRole(orgId, memberId, 'member', role.id);
      expect(await owner.changeRole(orgId, memberId, 'member', null)).to.deep.equal({ userId: memberId, orgId, role: 'member', customRoleId: null });
      expect((await owner.members(orgId)).find((m) => m.userId === memberId)?.customRoleId).to.equal(null);
      await owner.deleteRole(orgId, role.id);
      expect((await owner.roles(orgId)).custom).to.deep.equal([]);

      // Failure paths, as typed errors.
      const unknown = await rejection(owner.createRole(orgId, { name: 'x', permissions: ['projects:read', 'nope:nope'] }));
      expect(unknown).to.include({ code: 'invalid_request', status: 400 });
      expect(unknown.errors.map((e) => e.path)).to.deep.equal(['permissions.1']);
      expect(await rejection(owner.createRole(orgId, { name: 'admin', permissions: [] }))).to.include({ code: 'invalid_request', status: 400 });
      await owner.createRole(orgId, { name: 'Billing', permissions: ['billing:manage'] });
      expect(await rejection(owner.createRole(orgId, { name: 'Billing', permissions: [] }))).to.include({ code: 'role_name_taken', status: 409 });
      expect(await rejection(owner.updateRole(orgId, role.id, { name: 'gone' }))).to.include({ code: 'role_not_found', status: 404 });
      expect(await rejection(owner.changeRole(orgId, memberId, 'member', role.id))).to.include({ code: 'role_not_found', status: 404 });
      const withAdmin = await rejection(owner.changeRole(orgId, memberId, 'admin', (await owner.roles(orgId)).custom[0]?.id as string));
      expect(withAdmin).to.include({ code: 'invalid_request', status: 400 });
      expect(await rejection(member.createRole(orgId, { name: 'mine', permissions: [] }))).to.include({ code: 'forbidden', status: 403 });
      const stranger = createAuthClient({ baseUrl });
      await signedUp(stranger);
      expect(await rejection(stranger.roles(orgId))).to.include({ status: 404 });
      expect((await fetch(`${baseUrl}/orgs/${orgId}/roles`)).status).to.equal(401);
      for (const c of [owner, member, stranger]) await c.logout();
    });

    it('API keys limited to permissions: the key holds its subset on the example\'s routes; an unknown name is a 400 field error', async () => {
      const { owner, orgId } = await ownerAndMember();
      const created = await owner.createApiKey({ name: 'read only', permissions: ['projects:read'] });
      expect(created.permissions).to.deep.equal(['projects:read']);
      expect((await owner.apiKeys()).find((k) => k.id === created.id)?.permissions).to.deep.equal(['projects:read']);
      const headers = { 'x-api-key': created.key, 'x-tenant-id': orgId };
      expect((await fetch(`${example.url}/api/projects`, { headers })).status).to.equal(200);
      const write = await fetch(`${example.url}/api/projects`, { method: 'POST', headers });
      expect(write.status).to.equal(403);
      expect(await write.json()).to.include({ code: 'permission_denied', permission: 'projects:write' });
      // Without a subset a key holds what its role grants: an admin key writes projects.
      const full = await owner.createApiKey({ name: 'role key', role: 'admin' });
      expect(full).not.to.have.property('permissions');
      expect((await fetch(`${example.url}/api/projects`, { method: 'POST', headers: { 'x-api-key': full.key, 'x-tenant-id': orgId } })).status).to.equal(201);
      const bad = await rejection(owner.createApiKey({ name: 'bad', permissions: ['projects:delete'] }));
      expect(bad).to.include({ code: 'invalid_request', status: 400 });
      expect(bad.errors.map((e) => e.path)).to.deep.equal(['permissions.0']);
      await owner.logout();
    });

    it('policy: reads the defaults, changes them (enforced counts), refuses a lock-out (409) and bad input (400); 403 member, 404 outsider', async () => {
      const { owner, member, orgId } = await ownerAndMember();
      await owner.createApiKey({ name: 'ends with the policy' });
      expect(await owner.orgPolicy(orgId)).to.deep.equal({ orgId, requireMfa: false, allowedSignInMethods: null, maxSessionAge: null, apiKeyMaxLifetime: null, updatedAt: null });

      // The owner signed in with a password: a policy without it would end their own session.
      const lockout = await rejection(owner.updateOrgPolicy(orgId, { allowedSignInMethods: ['passkey'] }));
      expect(lockout).to.include({ code: 'policy_excludes_you', status: 409 });
      const bad = await rejection(owner.updateOrgPolicy(orgId, { maxSessionAge: 5 }));
      expect(bad).to.include({ code: 'invalid_request', status: 400 });
      expect(bad.errors.map((e) => e.path)).to.include('maxSessionAge');

      // Without api_key among the methods, the organization's keys end at once; password sessions stay.
      const changed = await owner.updateOrgPolicy(orgId, { allowedSignInMethods: ['password'], maxSessionAge: 3600 });
      expect(changed).to.deep.include({ orgId, allowedSignInMethods: ['password'], maxSessionAge: 3600, enforced: { sessionsEnded: 0, apiKeysRevoked: 1 } });
      expect(changed.updatedAt).to.be.a('string');
      expect(await owner.apiKeys()).to.deep.equal([]);
      expect((await member.me()).role).to.equal('member');
      const reset = await owner.updateOrgPolicy(orgId, { allowedSignInMethods: null, maxSessionAge: null });
      expect(reset).to.deep.include({ allowedSignInMethods: null, maxSessionAge: null, enforced: { sessionsEnded: 0, apiKeysRevoked: 0 } });
      expect(await owner.orgPolicy(orgId)).to.deep.include({ allowedSignInMethods: null, maxSessionAge: null });

      expect(await rejection(member.orgPolicy(orgId))).to.include({ code: 'forbidden', status: 403 });
      expect(await rejection(member.updateOrgPolicy(orgId, { requireMfa: false }))).to.include({ status: 403 });
      const stranger = createAuthClient({ baseUrl });
      await signedUp(stranger);
      expect(await rejection(stranger.orgPolicy(orgId))).to.include({ status: 404 });
      for (const c of [owner, member, stranger]) await c.logout();
    });
  });
}
