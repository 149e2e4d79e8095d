import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { ApplicationRecord, Role, SignedToken, UserRecord } from '../ports.js';
import { timeOrderedId, tokenIdKey } from '../tokens/token-ids.js';
import type { Accounts } from './accounts.js';
import { clientFields, type ClientInfo } from './client-info.js';
import type { CoreContext } from './context.js';
import { mapConflicts } from './conflicts.js';
import { requireRole } from './membership-checks.js';
import { firstFactorOf, recordedFactor, type Mfa } from './mfa.js';
import type { SessionScope, Sessions, TokenPair } from './sessions.js';

/** Which application a sign-in is for: its id, or a URL it is registered under. */
export type AppSelector = { appId: string } | { url: string };

export interface AppSignIn {
  kind: 'tokens';
  user: UserRecord;
  app: ApplicationRecord;
  access: SignedToken;
}

export type AppSignInResult = AppSignIn | { kind: 'mfa_required'; user: UserRecord; mfaToken: string };

/**
 * `https://MyApp.example.com/sub/` → `myapp.example.com/sub`. Sign-in matches a URL,
 * a host or a host/path the same way, whatever scheme or trailing slash it comes with.
 */
export function urlKey(url: string): string | null {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    return null;
  }
  if (!parsed.hostname) return null;
  const path = parsed.pathname.replace(/\/+$/, '');
  return `${parsed.host.toLowerCase()}${path}`;
}

/**
 * Where sign-in may send the browser: https, or http to this machine only (local
 * development). `javascript:`, `data:` and the like would run in the signing-in page.
 */
export function isAllowedRedirectUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:') return parsed.hostname !== '';
  // The URL parser has already normalised 127.1, 0x7f.0.0.1 and the like to dotted quads.
  return parsed.protocol === 'http:' && (parsed.hostname === 'localhost' || parsed.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(parsed.hostname));
}

export const REDIRECT_URL_RULE = 'must be an https: URL (http: only for localhost, 127.0.0.0/8 or [::1])';

/** Applications an org registers, who may use them, and sign-in scoped to one of them. */
export function createApplications(ctx: CoreContext, sessions: Sessions, accounts: Accounts, mfa: Mfa) {
  const { storage, clock, audit } = ctx;

  async function register(actorId: string, orgId: string, input: { name: string; url: string; redirectUrl?: string | null }, client?: ClientInfo): Promise<ApplicationRecord> {
    await requireRole(storage, actorId, orgId, 'admin');
    const key = urlKey(input.url);
    if (key === null) throw new AuthError('invalid_request', 'url must be a URL, a host or host/path', { errors: [{ path: 'url', message: 'is not a URL' }] });
    if (input.redirectUrl != null && !isAllowedRedirectUrl(input.redirectUrl)) {
      throw new AuthError('invalid_request', `redirectUrl ${REDIRECT_URL_RULE}`, { errors: [{ path: 'redirectUrl', message: REDIRECT_URL_RULE }] });
    }
    return audit.transaction(async (tx) => {
      const app = await mapConflicts(() =>
        tx.applications.create({
          id: randomUUID(),
          orgId,
          name: input.name,
          url: input.url,
          urlKey: key,
          redirectUrl: input.redirectUrl ?? null,
          createdAt: clock.now(),
        }),
      );
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'application.created', target: { type: 'application', id: app.id }, data: { name: app.name, url: app.url } });
      return app;
    });
  }

  async function ownApp(actorId: string, orgId: string, appId: string, minimum: Role): Promise<ApplicationRecord> {
    await requireRole(storage, actorId, orgId, minimum);
    const app = await storage.applications.findById(appId);
    if (!app || app.orgId !== orgId) throw new AuthError('application_not_found', 'no such application in this organization');
    return app;
  }

  async function list(actorId: string, orgId: string): Promise<ApplicationRecord[]> {
    await requireRole(storage, actorId, orgId, 'member');
    return storage.applications.listForOrg(orgId);
  }

  /** Deletes the application; every token signed in to it stops working. */
  async function remove(actorId: string, orgId: string, appId: string, client?: ClientInfo): Promise<void> {
    const app = await ownApp(actorId, orgId, appId, 'admin');
    // Deleted first, under the lock application sign-ins store their sessions under (see
    // issueFor), so no sign-in can start a session the revocation below would miss.
    await audit.transaction(async (tx) => {
      await tx.memberships.lockOrg(orgId);
      await tx.applications.remove(orgId, appId);
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'application.deleted', target: { type: 'application', id: appId }, data: { name: app.name } });
    });
    await sessions.revokeAppSessions(appId);
  }

  /** Gives a member of the org access to the application. */
  async function grant(actorId: string, orgId: string, appId: string, userId: string, client?: ClientInfo): Promise<void> {
    await ownApp(actorId, orgId, appId, 'admin');
    await audit.transaction(async (tx) => {
      // The member as stored, under the org's lock: a removal takes it too and then revokes
      // the member's access, so a grant racing it is found or refused, never left behind.
      await tx.memberships.lockOrg(orgId);
      if (!(await tx.memberships.find(userId, orgId))) throw new AuthError('member_not_found', 'only members of the organization can be given access');
      // Granting again changes nothing, and is not recorded again.
      if (await tx.applications.hasGrant(appId, userId)) return;
      await tx.applications.grant(appId, userId, clock.now());
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'application.access_granted', target: { type: 'user', id: userId }, data: { applicationId: appId } });
    });
  }

  async function revokeGrant(actorId: string, orgId: string, appId: string, userId: string, client?: ClientInfo): Promise<void> {
    await ownApp(actorId, orgId, appId, 'admin');
    await audit.transaction(async (tx) => {
      await tx.memberships.lockOrg(orgId);
      if (!(await tx.applications.revokeGrant(appId, userId))) throw new AuthError('member_not_found', 'this user has no access to the application');
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'application.access_revoked', target: { type: 'user', id: userId }, data: { applicationId: appId } });
    });
    await sessions.revokeAppSessions(appId, { userId });
  }

  async function listGrants(actorId: string, orgId: string, appId: string): Promise<string[]> {
    await ownApp(actorId, orgId, appId, 'admin');
    return storage.applications.listGrants(appId);
  }

  async function find(selector: AppSelector): Promise<ApplicationRecord | null> {
    if ('appId' in selector) return storage.applications.findById(selector.appId);
    const key = urlKey(selector.url);
    return key === null ? null : storage.applications.findByUrlKey(key);
  }

  /** The user's role in the application's org, when they have been given access to it. */
  async function roleIn(user: UserRecord, app: ApplicationRecord): Promise<Role> {
    const membership = await storage.memberships.find(user.id, app.orgId);
    if (!membership || !(await storage.applications.hasGrant(app.id, user.id))) throw noAccess();
    return membership.role;
  }

  /**
   * The app-scoped token for a verified user. Its `sid` names an app session stored as
   * a refresh family with no refresh token handed out, so everything that ends
   * families ends it: logout, removal from the org, MFA changes, a revoked grant, the
   * application deleted. It is stored in one transaction with its `signin.succeeded`
   * entry (`recorded`: the last factor passed), and ended at once when `stillHolds` (as
   * for `sessions.signIn`) says the account changed meanwhile.
   */
  async function issueFor(
    user: UserRecord,
    app: ApplicationRecord,
    role: Role,
    method: string | undefined,
    recorded: string,
    client: ClientInfo | undefined,
    stillHolds?: () => Promise<boolean>,
  ): Promise<AppSignIn> {
    // The org's policy holds for its applications' tokens too.
    await sessions.policies.assertAdmits(user.id, app.orgId, method);
    const scope: SessionScope = { userId: user.id, orgId: app.orgId, role, appId: app.id };
    const sid = randomUUID();
    const access = await sessions.signAccess(scope, sid);
    const now = clock.now();
    const session = {
      // No refresh token carries this id: the row only stands for the session.
      idHash: tokenIdKey(timeOrderedId(now)),
      familyId: sid,
      userId: user.id,
      orgId: app.orgId,
      appId: app.id,
      expiresAt: access.exp * 1000,
      familyExpiresAt: access.exp * 1000,
      createdAt: now,
      // The request's client, for the session list.
      ...clientFields(client),
      method: method ?? null,
    };
    const refused = await sessions.storeNewSession(session, async (tx, member) => {
      // The membership and the grant as read under the org's lock, which a revoked grant, a
      // deleted application and a role change take too: the one that commits first is what
      // the other sees, so a session is stored only while access holds, and a revocation
      // after it ends it.
      if (member?.role !== role || !(await tx.applications.hasGrant(app.id, user.id))) throw noAccess();
      const target = { type: 'session', id: sid };
      await audit.record(tx, { client, orgId: app.orgId, actor: { type: 'user', id: user.id }, action: 'signin.succeeded', target, data: { method: recorded, applicationId: app.id } });
    });
    if (refused) throw refused.code === 'org_not_found' ? noAccess() : refused;
    if (stillHolds && !(await stillHolds())) {
      await storage.refreshTokens.revokeFamily(sid, now);
      await audit.record(storage, { client, orgId: app.orgId, actor: { type: 'user', id: user.id }, action: 'session.revoked', target: { type: 'session', id: sid }, data: { reason: 'credentials_changed' } });
      throw noAccess();
    }
    return { kind: 'tokens', user, app, access };
  }

  /**
   * Password sign-in for one application. A wrong password, an unknown application
   * and a user without access all answer the same `invalid_credentials`, so the
   * answer tells nothing about which applications exist or who may use them.
   */
  async function signin(email: string, password: string, selector: AppSelector, client?: ClientInfo): Promise<AppSignInResult> {
    const user = await accounts.signInPassword(email, password, client);
    await accounts.assertMaySignIn(user);
    const app = await find(selector);
    if (!app) throw noAccess();
    const role = await roleIn(user, app);
    if (await mfa.isEnabled(user.id)) return { kind: 'mfa_required', user, mfaToken: await mfa.challenge(user.id, { app: app.id, amr: 'password' }, user.passwordHash) };
    return issueFor(user, app, role, 'password', 'password', client, accounts.unchangedSince(user, 'password'));
  }

  /**
   * Second step of a sign-in with MFA. A challenge from an application sign-in names
   * the application and ends in its token; any other ends in a normal session.
   */
  async function completeMfa(mfaToken: string, factor: Parameters<Mfa['passChallenge']>[1], client?: ClientInfo): Promise<AppSignIn | { kind: 'session'; tokens: TokenPair }> {
    const claims = await mfa.passChallenge(mfaToken, factor, client);
    const stillHolds = () => mfa.challengeHolds(claims);
    if (claims.app === undefined) return { kind: 'session', tokens: await sessions.signIn(claims.sub, firstFactorOf(claims), recordedFactor(factor), client, stillHolds) };
    const [user, app] = await Promise.all([storage.users.findById(claims.sub), typeof claims.app === 'string' ? storage.applications.findById(claims.app) : null]);
    if (!user || !app) throw noAccess();
    return issueFor(user, app, await roleIn(user, app), firstFactorOf(claims), recordedFactor(factor), client, stillHolds);
  }

  return { register, list, remove, grant, revokeGrant, listGrants, signin, completeMfa };
}

function noAccess(): AuthError {
  // Word for word the wrong-password answer, so no-access is indistinguishable from it.
  return new AuthError('invalid_credentials', 'wrong email or password');
}

export type Applications = ReturnType<typeof createApplications>;
