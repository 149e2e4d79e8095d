import type { ClientInfo } from './client-info.js';
import { AuthError } from '../errors.js';
import type { ApiKeyRecord, OrgPolicyRecord, Repositories } from '../ports.js';
import type { ApiKeys } from './api-keys.js';
import type { CoreContext } from './context.js';
import { requireRole } from './membership-checks.js';
import type { Sessions } from './sessions.js';

/** The sign-in methods every installation knows; configured external issuers add their provider names. */
export const BUILT_IN_SIGN_IN_METHODS = ['password', 'passkey', 'google', 'api_key'] as const;

/**
 * Where a member without a second factor enrolls one, relative to the router's mount
 * path; the router answers it as an absolute path when it knows the mount (see router.ts).
 */
export const MFA_ENROLL_PATH = 'mfa/totp/setup';

/** An organization's security policy as the routes show it: `updatedAt` null while the org has the defaults. */
export interface OrgPolicy {
  orgId: string;
  requireMfa: boolean;
  /** Null: every method. */
  allowedSignInMethods: string[] | null;
  /** Seconds; null: the router's `sessionMaxAge`. */
  maxSessionAge: number | null;
  /** Seconds; null: no limit. */
  apiKeyMaxLifetime: number | null;
  updatedAt: number | null;
}

/** A change to a policy: the fields given are set, null resets one to its default. */
export interface OrgPolicyChange {
  requireMfa?: boolean;
  allowedSignInMethods?: string[] | null;
  maxSessionAge?: number | null;
  apiKeyMaxLifetime?: number | null;
}

/** What a change ended at once: the org's sessions and API keys it no longer allows. */
export interface PolicyEnforcement {
  sessionsEnded: number;
  apiKeysRevoked: number;
}

const defaults = (orgId: string): OrgPolicy => ({ orgId, requireMfa: false, allowedSignInMethods: null, maxSessionAge: null, apiKeyMaxLifetime: null, updatedAt: null });

// Issuance (sign-in, every refresh) reads the policy: from memory for a second, so a
// refresh costs no extra read. Another instance's change is seen within that second;
// what it ends goes through stored revocations, within the poll interval.
const CACHE_MS = 1000;
const CACHE_LIMIT = 10_000;

/** The checks every issuance of a token or key for an org runs (sessions, applications, API keys). */
export function createPolicyRules(ctx: Pick<CoreContext, 'storage' | 'clock'>) {
  const { storage, clock } = ctx;
  const cache = new Map<string, { policy: OrgPolicy; at: number }>();

  /** The org's policy (the defaults when none is stored). With `repos` (a transaction) read from it, not from memory. */
  async function policyOf(orgId: string, repos?: Repositories): Promise<OrgPolicy> {
    const now = clock.now();
    if (repos === undefined) {
      const hit = cache.get(orgId);
      if (hit && now - hit.at < CACHE_MS) return hit.policy;
    }
    const record = await (repos ?? storage).orgPolicies.find(orgId);
    const policy: OrgPolicy = record === null ? defaults(orgId) : { ...record };
    if (repos === undefined) {
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(orgId, { policy, at: now });
    }
    return policy;
  }

  function forget(orgId: string): void {
    cache.delete(orgId);
  }

  /** A confirmed TOTP or a passkey. */
  async function hasSecondFactor(userId: string, repos: Repositories = storage): Promise<boolean> {
    if ((await repos.mfa.findTotp(userId))?.enabledAt != null) return true;
    return (await repos.passkeys.listForUser(userId)).length > 0;
  }

  /** Whether a session begun with `method` (undefined or null: unknown) may be scoped to an org with `policy`. */
  function allowsMethod(policy: Pick<OrgPolicy, 'allowedSignInMethods'>, method: string | null | undefined): boolean {
    return policy.allowedSignInMethods === null || (typeof method === 'string' && policy.allowedSignInMethods.includes(method));
  }

  /** Why the user, signed in with `method`, gets no token for the org; null when they may have one. */
  async function refusal(userId: string, policy: OrgPolicy, method: string | null | undefined, repos?: Repositories): Promise<AuthError | null> {
    if (!allowsMethod(policy, method)) return methodNotAllowed(policy);
    if (policy.requireMfa && !(await hasSecondFactor(userId, repos))) return mfaEnrollmentRequired();
    return null;
  }

  /** Throws `refusal` for the user in the org. */
  async function assertAdmits(userId: string, orgId: string, method: string | null | undefined, repos?: Repositories): Promise<void> {
    const refused = await refusal(userId, await policyOf(orgId, repos), method, repos);
    if (refused) throw refused;
  }

  /** The end (epoch ms) of a session begun at `startedAt` in an org with `policy`, given the end it would have otherwise. */
  function sessionEnd(policy: OrgPolicy, startedAt: number, otherwise: number): number {
    return policy.maxSessionAge === null ? otherwise : Math.min(otherwise, startedAt + policy.maxSessionAge * 1000);
  }

  return { policyOf, forget, hasSecondFactor, allowsMethod, refusal, assertAdmits, sessionEnd };
}

export type PolicyRules = ReturnType<typeof createPolicyRules>;

export function mfaEnrollmentRequired(): AuthError {
  return new AuthError('mfa_enrollment_required', 'this organization requires a second factor: enroll one (TOTP or a passkey), then sign in again', {
    enroll: MFA_ENROLL_PATH,
  });
}

/**
 * The error with its `enroll` path made absolute: the router's mount path (`basePath`)
 * and the route as the preset serves it. Unchanged for other errors, or when the
 * preset has no enrollment route (the relative path stays).
 */
export function withEnrollPath(error: AuthError, basePath: string, route: string | undefined): AuthError {
  if (error.code !== 'mfa_enrollment_required' || route === undefined) return error;
  return new AuthError(error.code, error.message, { ...error.details, enroll: `${basePath}${route}` });
}

function methodNotAllowed(policy: OrgPolicy): AuthError {
  return new AuthError('sign_in_method_not_allowed', 'this organization does not allow this sign-in method; sign in with one it allows', {
    allowedSignInMethods: policy.allowedSignInMethods,
  });
}

/** Whether an API key outlives what the policy allows (a key without expiry always does when there is a limit). */
function keyTooLong(policy: OrgPolicy, key: Pick<ApiKeyRecord, 'createdAt' | 'expiresAt'>): boolean {
  if (policy.apiKeyMaxLifetime === null) return false;
  return key.expiresAt === null || key.expiresAt - key.createdAt > policy.apiKeyMaxLifetime * 1000;
}

/** The org-level service: reading and changing an org's policy (owners), and ending what a change no longer allows. */
export function createOrgPolicies(
  ctx: CoreContext,
  deps: { rules: PolicyRules; sessions: Sessions; apiKeys: Pick<ApiKeys, 'revokeWhere'>; methods: () => readonly string[] },
) {
  const { storage, clock, audit } = ctx;
  const { rules, sessions, apiKeys } = deps;

  async function get(actorId: string, orgId: string): Promise<OrgPolicy> {
    await requireRole(storage, actorId, orgId, 'owner');
    return rules.policyOf(orgId, storage);
  }

  /** Refuses a change that would shut out the owner making it from the session they make it with. */
  async function assertKeepsActor(actorId: string, sessionId: string | undefined, change: OrgPolicyChange): Promise<void> {
    if (change.requireMfa === true && !(await rules.hasSecondFactor(actorId))) {
      throw new AuthError('policy_excludes_you', 'requiring a second factor would shut you out: enroll one (TOTP or a passkey) first', { field: 'requireMfa' });
    }
    if (change.allowedSignInMethods == null && change.maxSessionAge == null) return;
    const session = sessionId === undefined ? null : await storage.refreshTokens.findSession(sessionId);
    if (change.allowedSignInMethods != null && !rules.allowsMethod({ allowedSignInMethods: change.allowedSignInMethods }, session?.method)) {
      const how = session?.method == null ? 'your session does not say how you signed in' : `you signed in with ${session.method}`;
      throw new AuthError('policy_excludes_you', `this would end your own session (${how}): include that method, or sign in with one of the listed methods first`, {
        field: 'allowedSignInMethods',
      });
    }
    if (change.maxSessionAge != null && session !== null && session.createdAt + change.maxSessionAge * 1000 <= clock.now()) {
      throw new AuthError('policy_excludes_you', 'your own session is older than that: sign in again first, or choose a longer maxSessionAge', { field: 'maxSessionAge' });
    }
  }

  /**
   * Changes the org's policy (owners). Recorded as `org.policy_updated` in the same
   * transaction; then the org's sessions and API keys the new policy no longer allows
   * are ended through stored revocations, so every instance honours it within the
   * revocation poll interval.
   */
  async function update(
    actor: { userId: string; sessionId: string | undefined },
    orgId: string,
    change: OrgPolicyChange,
    client?: ClientInfo,
  ): Promise<OrgPolicy & { enforced: PolicyEnforcement }> {
    await requireRole(storage, actor.userId, orgId, 'owner');
    if (change.allowedSignInMethods) {
      const known = deps.methods();
      const unknown = change.allowedSignInMethods.filter((m) => !known.includes(m));
      if (unknown.length > 0) {
        const message = `unknown sign-in method${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; allowed: ${known.join(', ')}`;
        throw new AuthError('invalid_request', message, { errors: [{ path: 'allowedSignInMethods', message }] });
      }
    }
    await assertKeepsActor(actor.userId, actor.sessionId, change);
    // Read, written and audited under the org's lock: concurrent changes apply one after
    // another, and each entry's old values are what the one before it wrote.
    const next = await audit.transaction(async (tx) => {
      await tx.memberships.lockOrg(orgId);
      await requireRole(tx, actor.userId, orgId, 'owner');
      const previous = await rules.policyOf(orgId, tx);
      const changed: OrgPolicy = { ...previous, ...change, updatedAt: clock.now() };
      await tx.orgPolicies.save(changed as OrgPolicyRecord);
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actor.userId }, action: 'org.policy_updated', target: { type: 'org', id: orgId }, data: changedFields(previous, changed) });
      return changed;
    });
    rules.forget(orgId);
    return { ...next, enforced: await enforce(orgId, next, change) };
  }

  /** Ends the org's sessions and keys that `policy` no longer allows, for the fields `change` set. */
  async function enforce(orgId: string, policy: OrgPolicy, change: OrgPolicyChange): Promise<PolicyEnforcement> {
    const now = clock.now();
    let sessionsEnded = 0;
    let apiKeysRevoked = 0;
    if (change.allowedSignInMethods != null) sessionsEnded += await sessions.revokeOrgSessions(orgId, { methodsNotIn: change.allowedSignInMethods });
    if (change.maxSessionAge != null) sessionsEnded += await sessions.revokeOrgSessions(orgId, { startedBefore: now - change.maxSessionAge * 1000 });
    if (change.requireMfa === true) {
      const without: string[] = [];
      for (const member of await storage.memberships.listForOrg(orgId)) if (!(await rules.hasSecondFactor(member.userId))) without.push(member.userId);
      if (without.length > 0) {
        sessionsEnded += await sessions.revokeOrgSessions(orgId, { userIds: without });
        // A key acts for its creator: one made by a member without a second factor goes with their sessions.
        apiKeysRevoked += await apiKeys.revokeWhere(orgId, (key) => without.includes(key.createdBy));
      }
    }
    if (change.allowedSignInMethods != null && !rules.allowsMethod(policy, 'api_key')) apiKeysRevoked += await apiKeys.revokeWhere(orgId, () => true);
    else if (change.apiKeyMaxLifetime != null) apiKeysRevoked += await apiKeys.revokeWhere(orgId, (key) => keyTooLong(policy, key));
    return { sessionsEnded, apiKeysRevoked };
  }

  return { get, update };
}

export type OrgPolicies = ReturnType<typeof createOrgPolicies>;

const FIELDS = ['requireMfa', 'allowedSignInMethods', 'maxSessionAge', 'apiKeyMaxLifetime'] as const;

/** The audit entry's data: each changed field's old and new value (`<field>` and `<field>Was`); lists as JSON. */
function changedFields(before: OrgPolicy, after: OrgPolicy): Record<string, string | number | boolean | null> {
  const flat = (value: OrgPolicy[(typeof FIELDS)[number]]) => (Array.isArray(value) ? JSON.stringify(value) : value);
  const data: Record<string, string | number | boolean | null> = {};
  for (const field of FIELDS) {
    const [was, now] = [flat(before[field]), flat(after[field])];
    if (was === now) continue;
    data[field] = now;
    data[`${field}Was`] = was;
  }
  return data;
}
