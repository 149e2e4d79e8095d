import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { ApiKeyRecord, Role } from '../ports.js';
import type { CoreContext } from './context.js';
import { mapConflicts } from './conflicts.js';
import { requireRole } from './membership-checks.js';
import { atLeast, ROLES } from './roles.js';
import { sha256Hex } from './secrets.js';

/** Who an API key acts for: its org, its creator, and the lower of the key's and the creator's roles. */
export interface ApiKeyPrincipal {
  keyId: string;
  orgId: string;
  userId: string;
  role: Role;
  expiresAt: number | null;
}

export interface NewApiKeyInput {
  name: string;
  role?: Role;
  expiresAt?: number | null;
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

export function createApiKeys(ctx: CoreContext) {
  const { storage, clock, config, revocations, logger, audit } = ctx;
  // Keyed by the SHA-256 of the whole key, so a hit has already proven the secret.
  const cache = new Map<string, CachedKey>();
  const touched = new Map<string, number>();

  async function create(actorId: string, orgId: string, input: NewApiKeyInput): Promise<{ record: ApiKeyRecord; key: string }> {
    const actor = await requireRole(storage, actorId, orgId, 'admin');
    const role = input.role ?? 'member';
    if (!atLeast(actor.role, role)) throw new AuthError('forbidden', `an ${actor.role} cannot create a key with role ${role}`);
    const now = clock.now();
    if (input.expiresAt != null && input.expiresAt <= now) {
      throw new AuthError('invalid_request', 'expiresAt must be in the future', { errors: [{ path: 'expiresAt', message: 'must be in the future' }] });
    }
    const prefix = randomBytes(8).toString('hex');
    const key = `ghk_${prefix}_${randomBytes(32).toString('base64url')}`;
    const record = await audit.transaction(async (tx) => {
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
          expiresAt: input.expiresAt ?? null,
        }),
      );
      await audit.record(tx, { orgId, actor: { type: 'user', id: actorId }, action: 'api_key.created', target: { type: 'api_key', id: created.id }, data: { name: created.name, role, expiresAt: created.expiresAt } });
      return created;
    });
    return { record, key };
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
      expiresAt: now + config.accountKeyTtl * 1000,
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
  async function revoke(actorId: string, orgId: string, keyId: string): Promise<void> {
    await requireRole(storage, actorId, orgId, 'admin');
    const record = await audit.transaction(async (tx) => {
      const revoked = await tx.apiKeys.revoke(orgId, keyId, clock.now());
      if (!revoked) throw new AuthError('api_key_not_found', 'no such API key in this organization');
      await audit.record(tx, { orgId, actor: { type: 'user', id: actorId }, action: 'api_key.revoked', target: { type: 'api_key', id: keyId }, data: { name: revoked.name } });
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
  async function authenticate(key: string, tenantId: string | undefined): Promise<ApiKeyPrincipal> {
    const cached = authenticateCached(key, tenantId);
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
    return admit(entry, tenantId, now);
  }

  /**
   * `authenticate` without a storage read, for the guard to answer in the same tick: the
   * principal of a key this instance verified within `apiKeys.cacheTtl`, else undefined
   * (then `authenticate` reads storage). The per-request checks (revocation, expiry by
   * the clock, tenant) run on every call, cached or not.
   */
  function authenticateCached(key: string, tenantId: string | undefined): ApiKeyPrincipal | undefined {
    // The hash is only computed for a key of the right shape, as in authenticate.
    if (!KEY_PATTERN.test(key)) throw invalidKey();
    const now = clock.now();
    const entry = cache.get(sha256Hex(key));
    if (!entry || now - entry.loadedAt > config.apiKeyCacheTtl * 1000) return undefined;
    return admit(entry, tenantId, now);
  }

  function admit({ principal }: CachedKey, tenantId: string | undefined, now: number): ApiKeyPrincipal {
    revocations.assertFresh();
    if (revocations.has('api_key', principal.keyId)) throw invalidKey();
    if (principal.expiresAt !== null && principal.expiresAt <= now) throw invalidKey();
    if (tenantId !== undefined && tenantId !== principal.orgId) throw invalidKey();
    noteUse(principal.keyId, now);
    return principal;
  }

  async function load(prefix: string, hash: string): Promise<ApiKeyPrincipal | null> {
    const record = await storage.apiKeys.findByPrefix(prefix);
    if (!record || !timingSafeEqual(Buffer.from(record.secretHash, 'hex'), Buffer.from(hash, 'hex'))) return null;
    if (record.revokedAt !== null) return null;
    // A key never acts above its creator's current role, and dies with the creator's membership.
    const creator = await storage.memberships.find(record.createdBy, record.orgId);
    if (!creator) return null;
    const role = atLeast(creator.role, record.role) ? record.role : creator.role;
    return { keyId: record.id, orgId: record.orgId, userId: record.createdBy, role, expiresAt: record.expiresAt };
  }

  function remember(hash: string, entry: CachedKey): void {
    if (cache.size >= CACHE_LIMIT) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(hash, entry);
  }

  // lastUsedAt is informational: written at most once a minute per key, off the request path.
  function noteUse(keyId: string, now: number): void {
    if (now - (touched.get(keyId) ?? 0) < TOUCH_EVERY_MS) return;
    touched.set(keyId, now);
    if (touched.size > CACHE_LIMIT) touched.clear();
    storage.apiKeys.touch(keyId, now).catch((err: unknown) => {
      logger.warn('gatehouse: could not record API key use', { keyId, error: (err as Error).message });
    });
  }

  return { create, list, revoke, authenticate, authenticateCached, accountKey, revokeAccountKeys, revokeMemberKeys, capMemberKeys };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
