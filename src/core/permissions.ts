import type { Clock, MembershipRecord, Repositories, Role } from '../ports.js';
import { ROLES } from './roles.js';

/** `resource:action`-like: letters first, then letters, digits, `_`, `-` or `.`, with at least one `:` between parts. */
export const PERMISSION_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*(?::[A-Za-z][A-Za-z0-9_.-]*)+$/;
export const PERMISSION_MAX_LENGTH = 128;
const VOCABULARY_MAX = 1000;

/** What each built-in role grants: every permission (`'*'`) or a list from `permissions`. */
export interface RolePermissionOptions {
  /** Default '*': every permission in the vocabulary. */
  owner?: readonly string[] | '*';
  /** Default '*': every permission in the vocabulary. */
  admin?: readonly string[] | '*';
  /** Default none: members get permissions from a custom role (or from this list). */
  member?: readonly string[] | '*';
}

/** The host's permission vocabulary and what the built-in roles grant, resolved from the options. */
export interface PermissionConfig {
  /** The vocabulary, in the order given. */
  vocabulary: readonly string[];
  known: ReadonlySet<string>;
  byRole: Readonly<Record<Role, ReadonlySet<string>>>;
  /** How long a member's resolved permissions are served from memory (the revocation poll interval). */
  ttlMs: number;
}

/** Validates `permissions` and `rolePermissions`. Throws a TypeError that says what to fix. */
export function resolvePermissionOptions(permissions: unknown, rolePermissions: unknown, ttlMs: number): PermissionConfig {
  if (permissions !== undefined && !Array.isArray(permissions)) throw new TypeError('options.permissions must be an array of permission names such as "projects:read"');
  const vocabulary = (permissions ?? []) as unknown[];
  if (vocabulary.length > VOCABULARY_MAX) throw new TypeError(`options.permissions may hold at most ${VOCABULARY_MAX} names`);
  const known = new Set<string>();
  vocabulary.forEach((name, i) => {
    if (typeof name !== 'string' || name.length > PERMISSION_MAX_LENGTH || !PERMISSION_PATTERN.test(name)) {
      throw new TypeError(`options.permissions[${i}] must be a name such as "projects:read" (letters, digits, "_", "-", "." in parts joined by ":"; at most ${PERMISSION_MAX_LENGTH} characters), not ${JSON.stringify(name)}`);
    }
    if (known.has(name)) throw new TypeError(`options.permissions lists "${name}" twice`);
    known.add(name);
  });
  if (rolePermissions !== undefined && (typeof rolePermissions !== 'object' || rolePermissions === null || Array.isArray(rolePermissions))) {
    throw new TypeError('options.rolePermissions must be an object such as { admin: ["projects:read"], member: [] }');
  }
  const given = (rolePermissions ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(ROLES as readonly string[]).includes(key)) throw new TypeError(`options.rolePermissions.${key} is not a role: use owner, admin or member (custom roles are defined per org)`);
  }
  const defaults: Record<Role, '*' | readonly string[]> = { owner: '*', admin: '*', member: [] };
  const byRole = {} as Record<Role, ReadonlySet<string>>;
  for (const role of ROLES) {
    const value = given[role] === undefined ? defaults[role] : given[role];
    if (value === '*') {
      byRole[role] = known;
      continue;
    }
    if (!Array.isArray(value)) throw new TypeError(`options.rolePermissions.${role} must be '*' or an array of names from options.permissions`);
    for (const name of value as unknown[]) {
      if (typeof name !== 'string' || !known.has(name)) {
        throw new TypeError(`options.rolePermissions.${role} names ${JSON.stringify(name)}, which is not in options.permissions`);
      }
    }
    byRole[role] = new Set(value as string[]);
  }
  return { vocabulary: [...known], known, byRole, ttlMs };
}

/** Who a permission check is about: the fields of `req.auth` it reads. */
export interface PermissionSubject {
  userId: string;
  orgId: string | null;
  role: Role | null;
  via: 'jwt' | 'api_key';
  /** The subset an API key is limited to; absent: its role's permissions. */
  apiKeyPermissions?: readonly string[];
}

const NONE: ReadonlySet<string> = new Set();

/**
 * What a membership grants: its role's permissions and, for a `member`, those of its
 * custom role. Names no longer in the vocabulary grant nothing.
 */
export async function grantsOf(repos: Repositories, config: PermissionConfig, membership: MembershipRecord | null): Promise<ReadonlySet<string>> {
  if (!membership) return NONE;
  const base = config.byRole[membership.role];
  if (membership.role !== 'member' || !membership.customRoleId) return base;
  const custom = await repos.orgRoles.find(membership.orgId, membership.customRoleId);
  if (!custom) return base;
  return new Set([...base, ...custom.permissions.filter((name) => config.known.has(name))]);
}

interface Entry {
  held: ReadonlySet<string>;
  list: readonly string[];
  loadedAt: number;
}

const CACHE_MAX = 10_000;

/**
 * A member's permissions in an org, in memory: an entry lives at most `ttlMs` (the
 * revocation poll interval), so a role edited or a member re-assigned on another
 * instance counts there within it; a change made here drops the entries at once.
 * Bounded, least recently used out first. Only routes that ask for permissions read it.
 */
export class PermissionCache {
  private readonly entries = new Map<string, Entry>();
  // A load that began before a change must not store what it read then.
  private generation = 0;

  constructor(
    private readonly repos: Repositories,
    private readonly clock: Clock,
    readonly config: PermissionConfig,
    private readonly max = CACHE_MAX,
  ) {}

  /** The subject's permissions (an API key's capped by its subset or role), or undefined when not cached. */
  cached(subject: PermissionSubject): readonly string[] | undefined {
    if (subject.orgId === null) return [];
    const key = `${subject.orgId}\u0000${subject.userId}`;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.clock.now() - entry.loadedAt >= this.config.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return this.capped(entry, subject);
  }

  /** The same, read from storage when not cached. */
  async load(subject: PermissionSubject): Promise<readonly string[]> {
    const hit = this.cached(subject);
    if (hit !== undefined) return hit;
    const orgId = subject.orgId as string;
    const generation = this.generation;
    const loadedAt = this.clock.now();
    const held = await grantsOf(this.repos, this.config, await this.repos.memberships.find(subject.userId, orgId));
    // Frozen: handed to every request as `req.auth.permissions`, so no handler can change the cached copy.
    const entry = { held, list: Object.freeze([...held]), loadedAt };
    if (generation === this.generation) {
      if (this.entries.size >= this.max) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      this.entries.set(`${orgId}\u0000${subject.userId}`, entry);
    }
    return this.capped(entry, subject);
  }

  /** Drops the org's entries (a custom role changed), or one member's. */
  forget(orgId: string, userId?: string): void {
    this.generation++;
    if (userId !== undefined) {
      this.entries.delete(`${orgId}\u0000${userId}`);
      return;
    }
    const prefix = `${orgId}\u0000`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  /** An API key acts with its creator's permissions, within its subset (or, without one, its role's). */
  private capped(entry: Entry, subject: PermissionSubject): readonly string[] {
    if (subject.via !== 'api_key') return entry.list;
    const subset = subject.apiKeyPermissions;
    const limit = subset === undefined ? (subject.role === null ? NONE : this.config.byRole[subject.role]) : new Set(subset);
    return entry.list.filter((name) => limit.has(name));
  }
}
