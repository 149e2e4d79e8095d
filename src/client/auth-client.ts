import { backgroundTimeout, Emitter } from './emitter.js';
import { errorFromResponse, GatehouseError } from './errors.js';
import { decodeJwtPayload, lifetimeMs, type AccessClaims } from './jwt.js';
import { connectRealtime, type RealtimeConnection, type RealtimeOptions } from './realtime.js';
import { createTabSync, type TabMessage, type TabSync } from './tab-sync.js';
import type * as T from './types.js';

export interface Tokens {
  accessToken: string;
  /** Empty with `transport: 'cookie'`: the refresh token is in an HttpOnly cookie this code never sees. */
  refreshToken: string;
}

/** Why the client is signed out: this client logged out, the server refused the session, or the session ran out. */
export type SignOutReason = 'logout' | 'revoked' | 'expired';

export type AuthState = { status: 'signed-in'; claims: AccessClaims } | { status: 'signed-out'; reason: SignOutReason | null };

export type AuthClientEvents = {
  /** Signed in or out, or the token's scope (user, org, role) changed. */
  state: [AuthState];
  /** New tokens arrived (sign-in, refresh, org switch). */
  tokens: [Tokens, AccessClaims];
};

export interface AuthClientOptions {
  /** Where the auth router is mounted, for example 'https://api.example.com/auth' (relative in a browser: '/auth'). */
  baseUrl: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Refresh this long before the access token runs out; capped at a quarter of its lifetime. Default 60 s. */
  refreshLeadMs?: number;
  /** Start signed in with tokens kept elsewhere. */
  tokens?: Tokens;
  /**
   * Refresh on a timer before the access token runs out. Default true. When false,
   * refreshes happen on demand: before a request with an expired token, or after a
   * 401 `token_expired` (short scripts, or a host that schedules its own work).
   */
  autoRefresh?: boolean;
  /**
   * 'cookie': the refresh token travels as the router's HttpOnly cookie (the router needs
   * its `cookies` option): sign-in, refresh and logout send `X-Auth-Transport: cookie`
   * with credentials, only the access token is kept (in memory), `resume()` starts a new
   * tab from the cookie, and the tabs of one origin share each refresh. Default 'body'.
   */
  transport?: 'body' | 'cookie';
}

export type MfaFactor = string | { code: string } | { recoveryCode: string };

export interface SignedIn {
  status: 'signed-in';
  tokens: Tokens;
  claims: AccessClaims;
  /** From an identity provider sign-in: the user has no organization yet (call setupOrg). */
  needsOrg?: boolean;
}

export interface MfaChallenge {
  status: 'mfa-required';
  mfaToken: string;
  /** A 6-digit TOTP code or a recovery code (a string is told apart by its shape). */
  verifyMfa(factor: MfaFactor): Promise<SignedIn>;
}

export type SignInResult = SignedIn | MfaChallenge;

// 401 codes meaning the session itself is over; other 401s (a host route's own) leave it alone.
const SESSION_OVER = new Set(['token_revoked', 'invalid_token', 'token_expired', 'refresh_token_reused']);
const NETWORK_RETRY_MS = 5_000;
// The routes that issue, rotate or end a pair: only these read or set the refresh cookie.
const PAIR_ROUTES = new Set(['/signin', '/mfa/verify', '/google', '/setup-org', '/switch-org', '/refresh', '/logout', '/passkeys/authentication/verify']);

type Json = Record<string, unknown> | undefined;

/**
 * A signed-in session against a gatehouse router: tokens live in memory only, the
 * access token is refreshed before its lifetime (`exi`) runs out, and a session the
 * server ends (logout elsewhere, revocation) turns into a 'signed-out' state event.
 */
export class AuthClient extends Emitter<AuthClientEvents> {
  readonly #fetch: typeof fetch;
  readonly #base: string;
  readonly #lead: number;
  readonly #autoRefresh: boolean;
  #tokens: Tokens | null = null;
  #claims: AccessClaims | null = null;
  #expiresAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refreshing: Promise<Tokens> | null = null;
  #state: AuthState = { status: 'signed-out', reason: null };
  #nextRefreshAt = 0;
  readonly #cookie: boolean;
  readonly #tabs: TabSync | null;

  constructor(options: AuthClientOptions) {
    super();
    // Calling the global fetch as a method of another object throws in browsers, hence the wrapper.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const here = (globalThis as { location?: { href: string } }).location?.href;
    this.#base = new URL(options.baseUrl, here).href.replace(/\/+$/, '');
    this.#lead = options.refreshLeadMs ?? 60_000;
    this.#autoRefresh = options.autoRefresh ?? true;
    this.#cookie = options.transport === 'cookie';
    // Tabs share a session only through the cookie; with body tokens each tab has a session of its own.
    this.#tabs = this.#cookie ? createTabSync(`gatehouse-refresh:${this.#base}`, (message) => this.#fromTab(message)) : null;
    if (options.tokens) this.#accept(options.tokens, 'restored');
  }

  get state(): AuthState {
    return this.#state;
  }

  /** Claims of the current access token (decoded, not verified), or null when signed out. */
  get claims(): AccessClaims | null {
    return this.#claims;
  }

  get tokens(): Tokens | null {
    return this.#tokens;
  }

  /** Epoch ms when the access token runs out by this device's clock (0 when signed out). */
  get accessExpiresAt(): number {
    return this.#expiresAt;
  }

  /** Epoch ms of the next scheduled refresh, or 0 when signed out. */
  get nextRefreshAt(): number {
    return this.#nextRefreshAt;
  }

  async signup(input: T.SignupInput): Promise<T.User> {
    return this.#json(await this.#send('POST', '/signup', input));
  }

  /** Email and password. With MFA on, the result is a challenge to complete with `verifyMfa`. */
  async signin(email: string, password: string): Promise<SignInResult> {
    return this.#signInAnswer(await this.#send('POST', '/signin', { email, password }));
  }

  /** Google sign-in with an authorization code (and PKCE verifier) or an ID token; the route exists when the server enables it. */
  async signInWithGoogle(input: { code: string; codeVerifier?: string; redirectUri?: string; nonce?: string } | { idToken: string; nonce?: string }): Promise<SignInResult> {
    return this.#signInAnswer(await this.#send('POST', '/google', input));
  }

  /**
   * Signs in with a passkey: asks for the options, runs `ceremony` with them (the browser's
   * part; with @simplewebauthn/browser `(optionsJSON) => startAuthentication({ optionsJSON })`)
   * and sends the assertion it returns. `email` names that account's passkeys, for security
   * keys that hold none. A passkey without user verification leaves TOTP to do, as `signin` does.
   */
  async signInWithPasskey(ceremony: (options: T.PasskeyOptions) => Promise<unknown>, input: { email?: string } = {}): Promise<SignInResult> {
    const options = await this.#json<T.PasskeyOptions>(await this.#send('POST', '/passkeys/authentication/options', input));
    const credential = await ceremony(options);
    return this.#signInAnswer(await this.#send('POST', '/passkeys/authentication/verify', { credential }));
  }

  /**
   * Registers a passkey for the signed-in user (needs a recent sign-in: `reauthenticate`
   * first when it is not): `ceremony` gets the options, e.g.
   * `(optionsJSON) => startRegistration({ optionsJSON })` with @simplewebauthn/browser.
   */
  async registerPasskey(ceremony: (options: T.PasskeyOptions) => Promise<unknown>, input: { name?: string } = {}): Promise<T.Passkey> {
    const options = await this.#authed<T.PasskeyOptions>('POST', '/passkeys/registration/options', {});
    const credential = await ceremony(options);
    return this.#authed<T.Passkey>('POST', '/passkeys/registration/verify', { credential, ...input });
  }

  /** A single-use nonce to put in the Google ID token request; `/google` with an `idToken` needs one. */
  async googleNonce(): Promise<{ nonce: string; expiresAt: string }> {
    return this.#json(await this.#send('GET', '/google/nonce'));
  }

  /**
   * Confirms the signed-in user again for the routes that need a recent sign-in (TOTP
   * setup, API keys, making someone owner): the password, or a TOTP code when TOTP is
   * on. The client switches to the answer's access token (same session, `auth_time` now).
   */
  async reauthenticate(proof: { password: string } | { code: string }): Promise<AccessClaims> {
    const body = await this.#authed<{ access_token: string }>('POST', '/reauthenticate', proof);
    const current = this.#tokens;
    if (!current || typeof body?.access_token !== 'string') throw new GatehouseError('signed_out', 'signed out while reauthenticating');
    return this.#accept({ accessToken: body.access_token, refreshToken: current.refreshToken });
  }

  /** Second step of a sign-in, for callers that kept only the `mfaToken`. */
  async verifyMfa(mfaToken: string, factor: MfaFactor): Promise<SignedIn> {
    const proof = typeof factor !== 'string' ? factor : /^\d{6}$/.test(factor.trim()) ? { code: factor.trim() } : { recoveryCode: factor };
    const body = await this.#json<T.TokenPairBody>(await this.#send('POST', '/mfa/verify', { mfa_token: mfaToken, ...proof }));
    return this.#signedIn(body);
  }

  /**
   * A new pair now. Concurrent calls share one request; with `transport: 'cookie'` so do
   * the tabs of the origin: one refreshes, the others take its access token.
   */
  refresh(): Promise<Tokens> {
    // Refresh tokens rotate: a second refresh with the same token looks like theft to the server, which then ends the session.
    this.#refreshing ??= this.#sharedRefresh(false).finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /**
   * With `transport: 'cookie'`: signs in from the refresh cookie, for a page that opens
   * or reloads after a sign-in. Resolves with the state: signed out (reason null) when
   * there is no live cookie. Already signed in, or with body tokens, it changes nothing.
   */
  async resume(): Promise<AuthState> {
    if (!this.#cookie || this.#tokens) return this.#state;
    try {
      this.#refreshing ??= this.#sharedRefresh(true).finally(() => {
        this.#refreshing = null;
      });
      await this.#refreshing;
    } catch (err) {
      if (!(err instanceof GatehouseError && err.status === 401)) throw err;
    }
    return this.#state;
  }

  /** Stops the refresh timer and leaves the other tabs' channel; the tokens stay as they are. */
  close(): void {
    clearTimeout(this.#timer);
    this.#nextRefreshAt = 0;
    this.#tabs?.close();
  }

  /** Ends the session on the server and forgets the tokens (also when the server cannot be reached). */
  async logout(): Promise<void> {
    if (!this.#tokens) return;
    try {
      const token = await this.#currentAccessToken();
      const body = this.#cookie ? {} : { refresh_token: this.#tokens?.refreshToken };
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const res = await this.#fetchOrFail(this.#url('/logout'), this.#transport('/logout', { method: 'POST', headers, body: JSON.stringify(body) }));
      // 401: the session had already ended on the server, which is what logout wants.
      if (!res.ok && res.status !== 401) throw await errorFromResponse(res);
    } catch (err) {
      const alreadyOver = err instanceof GatehouseError && (err.status === 401 || err.code === 'signed_out');
      if (!alreadyOver) throw err;
    } finally {
      this.#signOut('logout');
    }
  }

  /**
   * fetch() with the access token: relative URLs resolve against `baseUrl`
   * ('me' → <baseUrl>/me, '/api/hello' → the same origin's /api/hello). A 401
   * `token_expired` is answered by one refresh and one retry, so the body must be
   * re-sendable (a string, Blob, FormData…). A 401 that means the session is over
   * signs the client out and is returned as is.
   */
  async request(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = typeof input === 'string' ? new URL(input, `${this.#base}/`) : input;
    const send = (token: string) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      return this.#fetchOrFail(url, { ...init, headers });
    };
    const token = await this.#currentAccessToken();
    const res = await send(token);
    if (res.status !== 401) return res;
    const code = await problemCode(res);
    if (!SESSION_OVER.has(code)) return res;
    const replaced = this.#tokens?.accessToken !== token;
    if (code !== 'token_expired' && !replaced) {
      this.#signOut('revoked');
      return res;
    }
    // The token ran out in flight, or a concurrent refresh replaced it: one refresh, one retry.
    if (!replaced) await this.refresh();
    const fresh = await this.#currentAccessToken();
    const retry = await send(fresh);
    if (retry.status === 401 && this.#tokens?.accessToken === fresh && SESSION_OVER.has(await problemCode(retry))) this.#signOut('revoked');
    return retry;
  }

  me = () => this.#authed<T.Me>('GET', '/me');
  orgs = () => this.#authed<{ organizations: T.MyOrganization[] }>('GET', '/orgs').then((b) => b.organizations);
  members = (orgId: string) => this.#authed<{ members: T.Member[] }>('GET', `/orgs/${enc(orgId)}/members`).then((b) => b.members);
  /**
   * Changes a member's role (owners). `customRoleId` (with role `member`) gives one of the
   * org's custom roles, null takes it away; any role change without it ends the custom role.
   */
  changeRole = (orgId: string, userId: string, role: T.Role, customRoleId?: string | null) =>
    this.#authed<T.RoleChanged>('PATCH', `/orgs/${enc(orgId)}/members/${enc(userId)}`, customRoleId === undefined ? { role } : { role, customRoleId });
  removeMember = (orgId: string, userId: string) => this.#authed<void>('DELETE', `/orgs/${enc(orgId)}/members/${enc(userId)}`);
  invite = (orgId: string, input: T.CreateInvitationInput = {}) => this.#authed<T.CreatedInvitation>('POST', `/orgs/${enc(orgId)}/invitations`, input);
  invitations = (orgId: string) => this.#authed<{ invitations: T.Invitation[] }>('GET', `/orgs/${enc(orgId)}/invitations`).then((b) => b.invitations);
  revokeInvitation = (orgId: string, id: string) => this.#authed<void>('DELETE', `/orgs/${enc(orgId)}/invitations/${enc(id)}`);
  apiKeys = () => this.#authed<{ apiKeys: T.ApiKey[] }>('GET', '/api-keys').then((b) => b.apiKeys);
  createApiKey = (input: T.CreateApiKeyInput) => this.#authed<T.CreatedApiKey>('POST', '/api-keys', input);
  revokeApiKey = (id: string) => this.#authed<void>('DELETE', `/api-keys/${enc(id)}`);
  mfaStatus = () => this.#authed<T.MfaStatus>('GET', '/mfa');
  setupTotp = () => this.#authed<T.TotpEnrolment>('POST', '/mfa/totp/setup');
  enableTotp = (code: string) => this.#authed<{ recoveryCodes: string[] }>('POST', '/mfa/totp/enable', { code }).then((b) => b.recoveryCodes);
  disableTotp = (proof: { code: string } | { recoveryCode: string } | { password: string }) => this.#authed<void>('POST', '/mfa/totp/disable', proof);
  passkeys = () => this.#authed<{ passkeys: T.Passkey[] }>('GET', '/passkeys').then((b) => b.passkeys);
  removePasskey = (id: string) => this.#authed<void>('DELETE', `/passkeys/${enc(id)}`);
  iotCredentials = (envSlug?: string) => this.#authed<T.RealtimeCredentials>('GET', `/iot-credentials${envSlug === undefined ? '' : `?envSlug=${enc(envSlug)}`}`);

  /** A page of the organization's audit log, newest first (owners and admins); pass the page's `next` as `cursor` for the older one. */
  auditLog = (orgId: string, query: T.AuditQuery = {}) => this.#authed<T.AuditPage>('GET', `/orgs/${enc(orgId)}/audit${search(query)}`);
  /** A page of your own account log (password, email, MFA and passkey changes, other sessions ended), newest first. */
  accountAuditLog = (query: T.AuditQuery = {}) => this.#authed<T.AuditPage>('GET', `/me/audit${search(query)}`);
  /** Recomputes the organization's audit hash chain (owners). */
  verifyAuditLog = (orgId: string) => this.#authed<T.AuditVerification>('GET', `/orgs/${enc(orgId)}/audit/verify`);
  /** The organization's webhook endpoints, without secrets (owners and admins). */
  webhooks = (orgId: string) => this.#authed<{ webhooks: T.Webhook[] }>('GET', `/orgs/${enc(orgId)}/webhooks`).then((b) => b.webhooks);
  /** Registers an endpoint (needs a recent sign-in); the answer holds its `whsec_` secret, shown only this once. */
  createWebhook = (orgId: string, input: T.CreateWebhookInput) => this.#authed<T.WebhookWithSecret>('POST', `/orgs/${enc(orgId)}/webhooks`, input);
  /** Changes the URL (needs a recent sign-in), the event filter or `enabled`. */
  updateWebhook = (orgId: string, id: string, changes: T.UpdateWebhookInput) => this.#authed<T.Webhook>('PATCH', `/orgs/${enc(orgId)}/webhooks/${enc(id)}`, changes);
  deleteWebhook = (orgId: string, id: string) => this.#authed<void>('DELETE', `/orgs/${enc(orgId)}/webhooks/${enc(id)}`);
  /** A new signing secret at once (needs a recent sign-in), shown only in this answer. */
  rotateWebhookSecret = (orgId: string, id: string) => this.#authed<T.WebhookWithSecret>('POST', `/orgs/${enc(orgId)}/webhooks/${enc(id)}/rotate-secret`);
  /** The endpoint's delivery log, newest first; pass the page's `next` as `before` for the older one. */
  webhookDeliveries = (orgId: string, id: string, page: { limit?: number; before?: string } = {}) =>
    this.#authed<T.WebhookDeliveryPage>('GET', `/orgs/${enc(orgId)}/webhooks/${enc(id)}/deliveries${search(page)}`);
  /** Sends a delivered or given-up delivery again, as a new delivery with the same `webhook-id`. */
  redeliverWebhook = (orgId: string, id: string, deliveryId: string) =>
    this.#authed<T.WebhookDelivery>('POST', `/orgs/${enc(orgId)}/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}/redeliver`);
  /** The organization's security policy (owners). */
  orgPolicy = (orgId: string) => this.#authed<T.OrgPolicy>('GET', `/orgs/${enc(orgId)}/policy`);
  /**
   * Changes the policy (owners; needs a recent sign-in): any subset of its fields, null
   * resets one. `enforced` counts the sessions and API keys it ended at once. 409
   * `policy_excludes_you` when it would shut the caller out.
   */
  updateOrgPolicy = (orgId: string, changes: T.OrgPolicyChanges) => this.#authed<T.UpdatedOrgPolicy>('PATCH', `/orgs/${enc(orgId)}/policy`, changes);
  /** The organization's roles (any member): the built-in ones with their permissions, its custom roles, and every permission of the service. */
  roles = (orgId: string) => this.#authed<T.OrgRoles>('GET', `/orgs/${enc(orgId)}/roles`);
  /** Defines a custom role from the service's permissions (owners); 409 `role_name_taken` for a name in use. */
  createRole = (orgId: string, input: T.CreateRoleInput) => this.#authed<T.CustomRole>('POST', `/orgs/${enc(orgId)}/roles`, input);
  /** Renames a custom role or changes its permissions or description (owners); its holders follow. */
  updateRole = (orgId: string, roleId: string, changes: T.UpdateRoleInput) => this.#authed<T.CustomRole>('PATCH', `/orgs/${enc(orgId)}/roles/${enc(roleId)}`, changes);
  /** Deletes a custom role (owners); 409 `role_in_use` while a member holds it. */
  deleteRole = (orgId: string, roleId: string) => this.#authed<void>('DELETE', `/orgs/${enc(orgId)}/roles/${enc(roleId)}`);

  /** Mails a new verification link to the signed-in user's address; earlier links stop working. */
  requestEmailVerification = () => this.#authed<unknown>('POST', '/email/verification').then(() => undefined);

  /** Uses the token of a verification or email-change link (its `token` query parameter); no session needed. */
  async verifyEmail(token: string): Promise<T.VerifiedEmail> {
    return this.#json(await this.#send('POST', '/email/verify', { token }));
  }

  /** Asks for a password reset link. The server answers the same whether or not the address has an account. */
  async forgotPassword(email: string): Promise<void> {
    await this.#json(await this.#send('POST', '/password/forgot', { email }));
  }

  /**
   * Sets a new password with the token of a reset link. Every session of that user ends
   * on the server; this client does not know whose token it was, so it stays as it is
   * until its next call finds out.
   */
  async resetPassword(token: string, password: string): Promise<void> {
    await this.#json(await this.#send('POST', '/password/reset', { token, password }));
  }

  /** Changes the password, proving the current one. The user's other sessions end; this one stays. */
  changePassword = (currentPassword: string, newPassword: string) => this.#authed<void>('POST', '/password/change', { currentPassword, newPassword });

  /** Mails a link to `newEmail`; the address changes when that link's token is given to `verifyEmail`. */
  changeEmail = (newEmail: string, password: string) => this.#authed<unknown>('POST', '/email/change', { newEmail, password }).then(() => undefined);

  /** The user's live sessions, most recently used first; `current` marks this one. */
  sessions = () => this.#authed<{ sessions: T.Session[] }>('GET', '/sessions').then((b) => b.sessions);

  /** Ends one of the user's sessions at once. Ending this client's own session signs it out. */
  async endSession(id: string): Promise<void> {
    await this.#authed<void>('DELETE', `/sessions/${enc(id)}`);
    if (this.#claims?.sid === id) this.#signOut('logout');
  }

  /** Ends every session of the user except this one. */
  endOtherSessions = () => this.#authed<void>('DELETE', '/sessions');

  /**
   * Deletes the account: with the password, or a TOTP code when TOTP is on (an account
   * with neither needs a recent sign-in and no proof). The client is signed out. 409
   * `last_owner` while the user is the only owner of an organization with other members.
   */
  async deleteAccount(proof?: T.DeletionProof): Promise<void> {
    await this.#authed<void>('DELETE', '/me', proof);
    this.#signOut('logout');
  }

  /**
   * Deletes an organization (owners), proven as `deleteAccount` is. Every session scoped
   * to it ends, so a client whose token is scoped to it is signed out.
   */
  async deleteOrg(orgId: string, proof?: T.DeletionProof): Promise<void> {
    await this.#authed<void>('DELETE', `/orgs/${enc(orgId)}`, proof);
    if (this.#claims?.org === orgId) this.#signOut('logout');
  }

  /**
   * Makes the member `userId` owner of the organization; the caller becomes admin. Needs
   * a recent sign-in (`reauthenticate`). When this client is scoped to that organization
   * it refreshes, so its claims carry the new role.
   */
  async transferOrg(orgId: string, userId: string): Promise<T.OrgTransfer> {
    const result = await this.#authed<T.OrgTransfer>('POST', `/orgs/${enc(orgId)}/transfer`, { userId });
    // The transfer is done either way; a failed refresh signs out or retries on its own.
    if (this.#claims?.org === orgId) await this.refresh().catch(() => {});
    return result;
  }

  /** A new pair scoped to another organization of the user; the client switches to it. */
  async switchOrg(orgId: string): Promise<SignedIn> {
    return this.#signedIn(await this.#authed<T.TokenPairBody>('POST', '/switch-org', { orgId }));
  }

  /** Creates or joins an organization (after an identity-provider sign-in without one); the client switches to it. */
  async setupOrg(choice: T.OrgChoice): Promise<SignedIn> {
    return this.#signedIn(await this.#authed<T.TokenPairBody>('POST', '/setup-org', choice));
  }

  /**
   * Connects to the realtime broker with credentials from /iot-credentials and keeps
   * the connection alive across credential expiry. Closed when the client signs out.
   */
  async connectRealtime(options: Omit<RealtimeOptions, 'getCredentials'> & { envSlug?: string }): Promise<RealtimeConnection> {
    const { envSlug, ...rest } = options;
    const connection = await connectRealtime({ ...rest, getCredentials: () => this.iotCredentials(envSlug) });
    const off = this.on('state', (state) => {
      if (state.status === 'signed-out') void connection.close();
    });
    connection.on('close', off);
    return connection;
  }

  #url(path: string): string {
    return `${this.#base}${path}`;
  }

  async #fetchOrFail(url: string | URL, init: RequestInit): Promise<Response> {
    try {
      return await this.#fetch(url, init);
    } catch (err) {
      throw new GatehouseError('network_error', `could not reach ${String(url)}`, { cause: err });
    }
  }

  /** With the cookie transport, a pair route gets the header that makes the router use the cookie, and the cookie itself. */
  #transport(path: string, init: RequestInit & { headers: Record<string, string> }): RequestInit {
    if (!this.#cookie || !PAIR_ROUTES.has(path)) return init;
    return { ...init, headers: { ...init.headers, 'x-auth-transport': 'cookie' }, credentials: 'include' };
  }

  #send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.#fetchOrFail(this.#url(path), this.#transport(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }));
  }

  async #authed<R>(method: string, path: string, body?: unknown): Promise<R> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.#json<R>(await this.request(this.#url(path), this.#transport(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })));
  }

  async #json<R>(res: Response): Promise<R> {
    if (!res.ok) throw await errorFromResponse(res);
    if (res.status === 204) return undefined as R;
    try {
      return (await res.json()) as R;
    } catch (err) {
      throw new GatehouseError('bad_response', `${res.url} did not answer with JSON`, { status: res.status, cause: err });
    }
  }

  async #signInAnswer(res: Response): Promise<SignInResult> {
    if (res.status === 403) {
      const err = await errorFromResponse(res);
      const mfaToken = err.body?.mfa_token;
      if (err.code !== 'mfa_required' || typeof mfaToken !== 'string') throw err;
      return { status: 'mfa-required', mfaToken, verifyMfa: (factor) => this.verifyMfa(mfaToken, factor) };
    }
    const body = await this.#json<T.TokenPairBody & { needsOrg?: boolean }>(res);
    return { ...this.#signedIn(body), ...(body.needsOrg ? { needsOrg: true } : {}) };
  }

  #signedIn(body: T.TokenPairBody): SignedIn {
    // With the cookie transport the refresh token is in the Set-Cookie header, out of this code's reach.
    const refreshToken = this.#cookie ? '' : body?.refresh_token;
    if (typeof body?.access_token !== 'string' || typeof refreshToken !== 'string') throw new GatehouseError('bad_response', 'the answer holds no token pair');
    const tokens = { accessToken: body.access_token, refreshToken };
    return { status: 'signed-in', tokens, claims: this.#accept(tokens) };
  }

  async #currentAccessToken(): Promise<string> {
    if (!this.#tokens) throw new GatehouseError('signed_out', 'not signed in');
    // Timers of a sleeping laptop or a background tab may not have fired: check the clock too.
    if (Date.now() >= this.#expiresAt - 1_000) await this.refresh();
    const tokens = this.#tokens as Tokens | null;
    if (!tokens) throw new GatehouseError('signed_out', 'not signed in');
    return tokens.accessToken;
  }

  /** One refresh for all tabs: the lock holder refreshes, and a tab that waited for the lock takes the token it was sent meanwhile. */
  #sharedRefresh(resuming: boolean): Promise<Tokens> {
    const seen = this.#tokens?.accessToken;
    const run = (): Promise<Tokens> => {
      const now = this.#tokens;
      if (now && now.accessToken !== seen) return Promise.resolve(now);
      return this.#doRefresh(resuming);
    };
    return this.#tabs ? this.#tabs.exclusive(run) : run();
  }

  async #doRefresh(resuming = false): Promise<Tokens> {
    const current = this.#tokens;
    if (!current && !resuming) throw new GatehouseError('signed_out', 'not signed in');
    let res: Response;
    try {
      res = await this.#send('POST', '/refresh', this.#cookie ? undefined : { refresh_token: current?.refreshToken });
    } catch (err) {
      if (current) this.#schedule(NETWORK_RETRY_MS);
      throw err;
    }
    if (!res.ok) {
      const err = await errorFromResponse(res);
      // 401: the refresh token is dead (expired, reused, revoked), so the session is over. Anything else may pass.
      if (res.status === 401) this.#signOut(err.code === 'token_expired' ? 'expired' : 'revoked');
      else if (current) this.#schedule(NETWORK_RETRY_MS);
      throw err;
    }
    if (this.#tokens !== current) {
      // A sign-in finished while resuming: its tokens win.
      if (resuming && this.#tokens) return this.#tokens;
      throw new GatehouseError('signed_out', 'signed out while refreshing');
    }
    return this.#signedIn(await this.#json<T.TokenPairBody>(res)).tokens;
  }

  /** What another tab of the origin (same cookie, so same session) did. */
  #fromTab(message: TabMessage): void {
    if (message.type === 'signed-out') return this.#signOut(message.reason, false);
    if (message.accessToken === this.#tokens?.accessToken) return;
    try {
      this.#accept({ accessToken: message.accessToken, refreshToken: '' }, 'tab');
    } catch {
      // Not a JWT: ignore what cannot be ours.
    }
  }

  /**
   * Takes a pair in. A pair just received (here, or by another tab a moment ago) lives
   * `exi` from now by this device's clock; one restored from elsewhere (`options.tokens`)
   * may be old, so its `exp` decides. Pairs received here are passed on to the other tabs.
   */
  #accept(tokens: Tokens, from: 'here' | 'restored' | 'tab' = 'here'): AccessClaims {
    const claims = decodeJwtPayload(tokens.accessToken) as AccessClaims;
    const now = Date.now();
    const lifetime = from !== 'restored' ? lifetimeMs(claims, now) : Math.max(0, claims.exp * 1000 - now);
    if (from === 'here') this.#tabs?.publish({ type: 'tokens', accessToken: tokens.accessToken });
    const before = this.#claims;
    this.#tokens = tokens;
    this.#claims = claims;
    this.#expiresAt = now + lifetime;
    this.#schedule(lifetime - Math.min(this.#lead, lifetime / 4));
    this.emit('tokens', tokens, claims);
    if (this.#state.status === 'signed-out' || before?.sub !== claims.sub || before.org !== claims.org || before.role !== claims.role) {
      this.#setState({ status: 'signed-in', claims });
    } else {
      this.#state = { status: 'signed-in', claims };
    }
    return claims;
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    if (!this.#autoRefresh) return;
    this.#nextRefreshAt = Date.now() + delayMs;
    this.#timer = backgroundTimeout(() => {
      // Failures are handled inside: a dead session signs out, a network error reschedules.
      this.refresh().catch(() => {});
    }, delayMs);
  }

  #signOut(reason: SignOutReason, tellTabs = true): void {
    if (this.#state.status === 'signed-out') return;
    // The tabs share the cookie, so a session that ended here ended there too.
    if (tellTabs) this.#tabs?.publish({ type: 'signed-out', reason });
    clearTimeout(this.#timer);
    this.#tokens = null;
    this.#claims = null;
    this.#expiresAt = 0;
    this.#nextRefreshAt = 0;
    this.#setState({ status: 'signed-out', reason });
  }

  #setState(state: AuthState): void {
    this.#state = state;
    this.emit('state', state);
  }
}

const enc = encodeURIComponent;

/** `?a=1&b=x` of the defined values, or '' when there are none. */
function search(query: object): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query) as [string, unknown][]) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function problemCode(res: Response): Promise<string> {
  try {
    const body = (await res.clone().json()) as Json;
    return typeof body?.code === 'string' ? body.code : '';
  } catch {
    return '';
  }
}

export function createAuthClient(options: AuthClientOptions): AuthClient {
  return new AuthClient(options);
}
