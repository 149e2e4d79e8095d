import type { ClientInfo } from './client-info.js';
import { randomUUID } from 'node:crypto';
import { AuthError, StorageConflictError } from '../errors.js';
import type { OrgRoleRecord, Role } from '../ports.js';
import type { CoreContext } from './context.js';
import { requireRole } from './membership-checks.js';
import { grantsOf, PermissionCache, type PermissionConfig, type PermissionSubject } from './permissions.js';
import { ROLES } from './roles.js';

export interface NewOrgRoleInput {
  name: string;
  permissions: string[];
  description?: string | null;
}

export type OrgRoleChanges = Partial<NewOrgRoleInput>;

/** The roles of an org as listed: the built-in ones with what they grant, then its custom roles. */
export interface OrgRoleList {
  builtIn: Array<{ name: Role; permissions: string[] }>;
  custom: OrgRoleRecord[];
}

const nameTaken = () => new AuthError('role_name_taken', 'this organization has a role of that name', { errors: [{ path: 'name', message: 'is taken' }] });

/**
 * Custom roles of organizations (owners define them from the host's permission
 * vocabulary; any member lists them) and the permissions a member or key holds, which
 * `requireAuth({ permissions })` reads through the in-memory cache.
 */
export function createOrgRoles(ctx: CoreContext, config: PermissionConfig) {
  const { storage, clock, audit } = ctx;
  const cache = new PermissionCache(storage, clock, config);

  /** 400 naming each permission not in the vocabulary (`path` from `field`), else the names once each, in the order given. */
  function checkKnown(names: readonly string[], field: string): string[] {
    const errors = names.flatMap((name, i) => (config.known.has(name) ? [] : [{ path: `${field}.${i}`, message: `"${name}" is not a permission of this service` }]));
    if (errors.length > 0) throw new AuthError('invalid_request', 'unknown permission', { errors });
    return [...new Set(names)];
  }

  function checkName(name: string): void {
    if ((ROLES as readonly string[]).includes(name.toLowerCase())) {
      throw new AuthError('invalid_request', 'that is the name of a built-in role', { errors: [{ path: 'name', message: 'is a built-in role name' }] });
    }
  }

  async function list(actorId: string, orgId: string): Promise<OrgRoleList> {
    await requireRole(storage, actorId, orgId, 'member');
    return {
      builtIn: ROLES.map((name) => ({ name, permissions: [...config.byRole[name]] })),
      custom: await storage.orgRoles.listForOrg(orgId),
    };
  }

  async function create(actorId: string, orgId: string, input: NewOrgRoleInput, client?: ClientInfo): Promise<OrgRoleRecord> {
    await requireRole(storage, actorId, orgId, 'owner');
    checkName(input.name);
    const permissions = checkKnown(input.permissions, 'permissions');
    const now = clock.now();
    return audit.transaction(async (tx) => {
      const role = await renamed(() =>
        tx.orgRoles.create({ id: randomUUID(), orgId, name: input.name, description: input.description ?? null, permissions, createdAt: now, updatedAt: now }),
      );
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'role.created', target: { type: 'role', id: role.id }, data: { name: role.name, permissions: permissions.join(',') } });
      return role;
    });
  }

  /** Takes effect at once on this instance, and on others within the revocation poll interval. */
  async function update(actorId: string, orgId: string, roleId: string, changes: OrgRoleChanges, client?: ClientInfo): Promise<OrgRoleRecord> {
    await requireRole(storage, actorId, orgId, 'owner');
    if (changes.name !== undefined) checkName(changes.name);
    const permissions = changes.permissions === undefined ? undefined : checkKnown(changes.permissions, 'permissions');
    const role = await audit.transaction(async (tx) => {
      const before = await tx.orgRoles.find(orgId, roleId);
      if (!before) throw roleNotFound();
      const fields = {
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(permissions !== undefined ? { permissions } : {}),
      };
      const after = await renamed(() => tx.orgRoles.update(orgId, roleId, fields, clock.now()));
      if (!after) throw roleNotFound();
      // Audit data holds scalars: permission lists are comma-separated, as a webhook's events are.
      const data: Record<string, string> = { name: after.name };
      if (after.name !== before.name) data.previousName = before.name;
      if (permissions !== undefined) {
        data.added = permissions.filter((p) => !before.permissions.includes(p)).join(',');
        data.removed = before.permissions.filter((p) => !permissions.includes(p)).join(',');
      }
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'role.updated', target: { type: 'role', id: roleId }, data });
      return after;
    });
    cache.forget(orgId);
    return role;
  }

  /** Refused (409 `role_in_use`) while a member holds the role: re-assign them first. */
  async function remove(actorId: string, orgId: string, roleId: string, client?: ClientInfo): Promise<void> {
    await audit.transaction(async (tx) => {
      // The same lock as role changes: no member is given the role between the count and the delete.
      await tx.memberships.lockOrg(orgId);
      await requireRole(tx, actorId, orgId, 'owner');
      const role = await tx.orgRoles.find(orgId, roleId);
      if (!role) throw roleNotFound();
      const holders = await tx.orgRoles.countHolders(orgId, roleId);
      if (holders > 0) throw new AuthError('role_in_use', `${holders} member(s) hold this role: give them another role first`, { holders });
      await tx.orgRoles.delete(orgId, roleId);
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'role.deleted', target: { type: 'role', id: roleId }, data: { name: role.name, permissions: role.permissions.join(',') } });
    });
    cache.forget(orgId);
  }

  /** What the member holds in the org now, read from storage (not the cache): for checks before a change. */
  async function grantsOfMember(orgId: string, userId: string): Promise<ReadonlySet<string>> {
    return grantsOf(storage, config, await storage.memberships.find(userId, orgId));
  }

  return {
    list,
    create,
    update,
    remove,
    grantsOfMember,
    /** Validates permission names against the vocabulary (400 with `field.<i>` paths); returns them once each. */
    checkKnown,
    /** The subject's permissions in its org, from memory when loaded within the poll interval; undefined otherwise. */
    cachedPermissionsOf: (subject: PermissionSubject) => cache.cached(subject),
    /** The subject's permissions in its org, read from storage when not in memory. */
    permissionsOf: (subject: PermissionSubject) => cache.load(subject),
    /** Drops this instance's cached permissions of the org (or of one member): after a change made here. */
    forget: (orgId: string, userId?: string) => cache.forget(orgId, userId),
    /** The host's vocabulary and what the built-in roles grant. */
    config,
  };
}

function roleNotFound(): AuthError {
  return new AuthError('role_not_found', 'no such role in this organization');
}

async function renamed<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof StorageConflictError && err.field === 'name') throw nameTaken();
    throw err;
  }
}

export type OrgRoles = ReturnType<typeof createOrgRoles>;
