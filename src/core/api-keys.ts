import { clientNow, type ClientInfo } from './client-info.js';
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { ApiKeyRecord, MembershipRecord, Repositories, Role } from '../ports.js';
import type { CoreContext } from './context.js';
import { mapConflicts } from './conflicts.js';
import { requireRole } from './membership-checks.js';
import { atLeast, ROLES } from './roles.js';
import { sha256Hex } from './secrets.js';
import { createPolicyRules, type PolicyRules } from './org-policies.js';
import { grantsOf } from './permissions.js';

/** Who an API key acts for: its org, its creator, and the lower of the key's and the creator's roles. */
export interface ApiKeyPrincipal {
  keyId: string;
  orgId: string;
  userId: string;
  role: Role;
  expiresAt: number | null;
  /** The permissions the key is limited to; absent: its role's (both within its creator's). */
  permissions?: readonly string[];
}

export interface NewApiKeyInput {
  name: string;
  role?: Role;
  expiresAt?: number | null;
  /** Limits the key to these permissions, each of which the creator must hold. */
  permissions?: string[];
}

// `ghk_<16 hex: public lookup prefix>_<43 base64url: 256-bit secret>`. The fixed
// shape lets a malformed key be refused before any storage read.
const KEY_PATTERN = /^ghk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;
const CACHE_LIMIT = 10_000;
const TOUCH_EVERY_MS = 60_000;

interface CachedKey {
  principal: ApiKeyPrincipal;
  loadedAt: number;
}

// Any failure is the same error, so a caller learns nothing about which part was wrong.
const invalidKey = () => new AuthError('invalid_api_key', 'the API key is not valid for this tenant');

export function createApiKeys(ctx: CoreContext, policies: PolicyRules = createPolicyRules(ctx)) {
  const { storage, clock, config, revocations, logger, audit } = ctx;
  // Keyed by the SHA-256 of the whole key, so a hit has already proven the secret.
  const cache = new Map<string, CachedKey>();
  const touched = new Map<string, number>();

  async function create(actorId: string, orgId: string, input: NewApiKeyInput, client?: ClientInfo): Promise<{ record: ApiKeyRecord; key: string }> {
    const role = input.role ?? 'member';
    const now = clock.now();
    if (input.expiresAt != null && input.expiresAt <= now) {
      throw new AuthError('invalid_request', 'expiresAt must be in the future', { errors: [{ path: 'expiresAt', message: 'must be in the future' }] });
    }
    const prefix = randomBytes(8).toString('hex');
    const key = `ghk_${prefix}_${randomBytes(32).toString('base64url')}`;
    const record = await audit.transaction(async (tx) => {
      // The creator's role and the org's policy as stored, under the org's lock: a role
      // change, a removal or a policy change takes it too and sweeps the keys it no longer
      // allows after it commits, so it either finds this key or is what this reads.
      await tx.memberships.lockOrg(orgId);
      const actor = await requireRole(tx, actorId, orgId, 'admin');
      if (!atLeast(actor.role, role)) throw new AuthError('forbidden', `an ${actor.role} cannot create a key with role ${role}`);
      const expiresAt = await policyExpiry(orgId, input.expiresAt ?? null, now, tx);
      const permissions = input.permissions === undefined ? undefined : await checkSubset(input.permissions, actor, tx);
      const created = await mapConflicts(() =>
        tx.apiKeys.create({
          id: randomUUID(),
          orgId,
          name: input.name,
          prefix,
          secretHash: sha256Hex(key),
          role,
          createdBy: actorId,
          createdAt: now,
          expiresAt,
          ...(permissions === undefined ? {} : { permissions }),
        }),
      );
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'api_key.created', target: { type: 'api_key', id: created.id }, data: { name: created.name, role, expiresAt: created.expiresAt, ...(permissions === undefined ? {} : { permissions: permissions.join(',') }) } });
      return created;
    });
    return { record, key };
  }

  /** A key's subset: names of the vocabulary (400 otherwise) that the creator holds now (403 otherwise), once each. */
  async function checkSubset(names: string[], actor: MembershipRecord, repos: Repositories): Promise<string[]> {
    const { known } = config.permissions;
    const errors = names.flatMap((name, i) => (known.has(name) ? [] : [{ path: `permissions.${i}`, message: `"${name}" is not a permission of this service` }]));
    if (errors.length > 0) throw new AuthError('invalid_request', 'unknown permission', { errors });
    const held = await grantsOf(repos, config.permissions, actor);
    const missing = names.find((name) => !held.has(name));
    if (missing !== undefined) throw new AuthError('permission_denied', `you do not hold the permission ${missing}, so a key of yours cannot either`, { permission: missing });
    return [...new Set(names)];
  }

  /**
   * The org's policy at key creation: `api_key` among its methods (403 otherwise), and an
   * expiry within `apiKeyMaxLifetime` (400 beyond it; none asked: capped to it).
   */
  async function policyExpiry(orgId: string, asked: number | null, now: number, repos: Repositories): Promise<number | null> {
    const policy = await policies.policyOf(orgId, repos);
    if (!policies.allowsMethod(policy, 'api_key')) throw new AuthError('api_keys_not_allowed', 'this organization does not allow API keys');
    if (policy.apiKeyMaxLifetime === null) return asked;
    const latest = now + policy.apiKeyMaxLifetime * 1000;
    if (asked === null) return latest;
    if (asked > latest) {
      const message = `must be at most ${policy.apiKeyMaxLifetime} s from now (the organization's apiKeyMaxLifetime)`;
      throw new AuthError('invalid_request', `expiresAt ${message}`, { errors: [{ path: 'expiresAt', message }] });
    }
    return asked;
  }

  /** Revokes the org's live keys that `test` picks (an org policy no longer allows them). Returns how many. */
  async function revokeWhere(orgId: string, test: (record: ApiKeyRecord) => boolean): Promise<number> {
    let count = 0;
    for (const record of await storage.apiKeys.listForOrg(orgId)) {
      if (record.revokedAt === null && test(record) && (await revokeRecord(orgId, record.id))) count++;
    }
    return count;
  }

  const ACCOUNT_KEY_NAME = 'account';
  // An account key's secret is an HMAC of its id: it can be shown again at every
  // sign-in (as some wire contracts do) while storage still holds only its hash.
  const accountKeyOf = (record: Pick<ApiKeyRecord, 'id' | 'prefix'>) =>
    `ghk_${record.prefix}_${createHmac('sha256', config.accountKeySecret).update(record.id).digest('base64url')}`;

  // Only a key whose secret is the HMAC of its id is an account key: a key someone
  // created by hand and named "account" is not one.
  const isAccountKey = (record: ApiKeyRecord, userId: string) =>
    record.createdBy === userId && record.name === ACCOUNT_KEY_NAME && record.secretHash === sha256Hex(accountKeyOf(record));

  /**
   * The user's account key in the org, in clear: the live one, or a new one when there
   * is none (first use, expired, revoked). It lives `accountKeyTtl`, with the role the
   * user has now (and never acts above their current role, as any key).
   */
  async function accountKey(userId: string, orgId: string): Promise<string> {
    const now = clock.now();
    const existing = (await storage.apiKeys.listForOrg(orgId)).filter((k) => isAccountKey(k, userId));
    const live = existing.find((k) => k.expiresAt !== null && k.expiresAt > now);
    if (live) return accountKeyOf(live);
    // Keys of earlier versions never expired: ended here rather than left to work forever.
    for (const old of existing) if (old.expiresAt === null) await revokeRecord(orgId, old.id);
    const membership = await requireRole(storage, userId, orgId, 'member');
    const id = randomUUID();
    const prefix = randomBytes(8).toString('hex');
    const key = accountKeyOf({ id, prefix });
    await storage.apiKeys.create({
      id,
      orgId,
      name: ACCOUNT_KEY_NAME,
      prefix,
      secretHash: sha256Hex(key),
      role: membership.role,
      createdBy: userId,
      createdAt: now,
      // Within the org's apiKeyMaxLifetime, when it sets one.
      expiresAt: Math.min(now + config.accountKeyTtl * 1000, now + ((await policies.policyOf(orgId)).apiKeyMaxLifetime ?? Infinity) * 1000),
    });
    return key;
  }

  /**
   * Revokes the user's account keys in every org they belong to (the next sign-in
   * makes a new one): called when their sessions end all at once, on logout and on MFA changes.
   */
  async function revokeAccountKeys(userId: string): Promise<void> {
    for (const { orgId } of await storage.memberships.listForUser(userId)) {
      for (const record of await storage.apiKeys.listForOrg(orgId)) {
        if (isAccountKey(record, userId)) await revokeRecord(orgId, record.id);
      }
    }
  }

  /** Revokes every key the member created in the org: on removal, so re-joining does not bring them back. */
  async function revokeMemberKeys(orgId: string, userId: string): Promise<void> {
    for (const record of await storage.apiKeys.revokeByCreator(orgId, userId, clock.now())) await publish(record);
    forget(orgId, userId);
  }

  /** Lowers the member's keys in the org to `role` at most: on demotion. */
  async function capMemberKeys(orgId: string, userId: string, role: Role): Promise<void> {
    await storage.apiKeys.capRoleByCreator(orgId, userId, role, ROLES.filter((r) => !atLeast(role, r)));
    // Other instances see the new role when their cached copy expires (apiKeys.cacheTtl).
    forget(orgId, userId);
  }

  /** Drops this instance's cached principals of the member's keys in the org. */
  function forget(orgId: string, userId: string): void {
    for (const [hash, entry] of cache) {
      if (entry.principal.orgId === orgId && entry.principal.userId === userId) cache.delete(hash);
    }
  }

  async function list(actorId: string, orgId: string): Promise<ApiKeyRecord[]> {
    await requireRole(storage, actorId, orgId, 'admin');
    return storage.apiKeys.listForOrg(orgId);
  }

  /** Revokes at once on this instance; other instances drop it within the revocation poll interval. */
  async function revoke(actorId: string, orgId: string, keyId: string, client?: ClientInfo): Promise<void> {
    await requireRole(storage, actorId, orgId, 'admin');
    const record = await audit.transaction(async (tx) => {
      const revoked = await tx.apiKeys.revoke(orgId, keyId, clock.now());
      if (!revoked) throw new AuthError('api_key_not_found', 'no such API key in this organization');
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'api_key.revoked', target: { type: 'api_key', id: keyId }, data: { name: revoked.name } });
      return revoked;
    });
    await publish(record);
  }

  async function revokeRecord(orgId: string, keyId: string): Promise<boolean> {
    const record = await storage.apiKeys.revoke(orgId, keyId, clock.now());
    if (record) await publish(record);
    return record !== null;
  }

  /** Tells every instance to stop serving a revoked key from its cache. */
  async function publish(record: ApiKeyRecord): Promise<void> {
    const cachedUntil = clock.now() + config.apiKeyCacheTtl * 1000;
    await revocations.revoke({ kind: 'api_key', key: record.id, expiresAt: record.expiresAt === null ? cachedUntil : Math.min(record.expiresAt, cachedUntil) });
  }

  /**
   * Resolves a presented key for the tenant it was sent with. Any failure is the same
   * `invalid_api_key`, so a caller learns nothing about which part was wrong. A hash
   * (not a password hash) identifies the key, and verified keys are served from memory.
   */
  async function authenticate(key: string, tenantId: string | undefined, client?: ClientInfo): Promise<ApiKeyPrincipal> {
    const cached = authenticateCached(key, tenantId, client);
    if (cached) return cached;
    const match = KEY_PATTERN.exec(key);
    if (!match) throw invalidKey();
    const hash = sha256Hex(key);
    const now = clock.now();
    cache.delete(hash);
    const principal = await load(match[1] as string, hash);
    if (!principal) throw invalidKey();
    const entry = { principal, loadedAt: now };
    remember(hash, entry);
    return admit(entry, tenantId, now, client);
  }

  /**
   * `authenticate` without a storage read, for the guard to answer in the same tick: the
   * principal of a key this instance verified within `apiKeys.cacheTtl`, else undefined
   * (then `authenticate` reads storage). The per-request checks (revocation, expiry by
   * the clock, tenant) run on every call, cached or not.
   */
  function authenticateCached(key: string, tenantId: string | undefined, client?: ClientInfo): ApiKeyPrincipal | undefined {
    // The hash is only computed for a key of the right shape, as in authenticate.
    if (!KEY_PATTERN.test(key)) throw invalidKey();
    const now = clock.now();
    const entry = cache.get(sha256Hex(key));
    if (!entry || now - entry.loadedAt > config.apiKeyCacheTtl * 1000) return undefined;
    return admit(entry, tenantId, now, client);
  }

  function admit({ principal }: CachedKey, tenantId: string | undefined, now: number, client: ClientInfo | undefined): ApiKeyPrincipal {
    revocations.assertFresh();
    if (revocations.has('api_key', principal.keyId)) throw invalidKey();
    if (principal.expiresAt !== null && principal.expiresAt <= now) throw invalidKey();
    if (tenantId !== undefined && tenantId !== principal.orgId) throw invalidKey();
    noteUse(principal, now, client);
    return principal;
  }

  async function load(prefix: string, hash: string): Promise<ApiKeyPrincipal | null> {
    const record = await storage.apiKeys.findByPrefix(prefix);
    if (!record || !timingSafeEqual(Buffer.from(record.secretHash, 'hex'), Buffer.from(hash, 'hex'))) return null;
    if (record.revokedAt !== null) return null;
    // A key never acts above its creator's current role, and dies with the creator's membership.
    const creator = await storage.memberships.find(record.createdBy, record.orgId);
    if (!creator) return null;
    // An org whose policy excludes API keys refuses them all (its keys were revoked when it changed; this catches a race).
    const policy = await policies.policyOf(record.orgId);
    if (!policies.allowsMethod(policy, 'api_key')) return null;
    // Nor does a key work for a creator who has since dropped the second factor the org requires.
    if (policy.requireMfa && !(await policies.hasSecondFactor(record.createdBy))) return null;
    const role = atLeast(creator.role, record.role) ? record.role : creator.role;
    const principal: ApiKeyPrincipal = { keyId: record.id, orgId: record.orgId, userId: record.createdBy, role, expiresAt: record.expiresAt };
    // Checked against the creator's permissions of the moment by requireAuth({ permissions }).
    if (record.permissions != null) principal.permissions = Object.freeze([...record.permissions]);
    return principal;
  }

  function remember(hash: string, entry: CachedKey): void {
    if (cache.size >= CACHE_LIMIT) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(hash, entry);
  }

  /**
   * lastUsedAt is written at most once a minute per key, off the request path. The write
   * that finds it unset is the key's first use, recorded as `api_key.first_used` with it:
   * a key used for the first time long after it was made can be a leaked one.
   */
  function noteUse({ keyId, orgId }: ApiKeyPrincipal, now: number, asking: ClientInfo | undefined): void {
    if (now - (touched.get(keyId) ?? 0) < TOUCH_EVERY_MS) return;
    const client = clientNow(asking);
    touched.set(keyId, now);
    if (touched.size > CACHE_LIMIT) touched.clear();
    const key = { type: 'api_key', id: keyId } as const;
    audit
      .transaction(async (tx) => {
        if (await tx.apiKeys.touch(keyId, now)) await audit.record(tx, { client, orgId, actor: key, action: 'api_key.first_used', target: key });
      })
      .catch((err: unknown) => {
        logger.warn('gatehouse: could not record API key use', { keyId, error: (err as Error).message });
      });
  }

  return { create, list, revoke, authenticate, authenticateCached, accountKey, revokeAccountKeys, revokeMemberKeys, capMemberKeys, revokeWhere };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
