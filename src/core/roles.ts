import type { Role } from '../ports.js';

export const ROLES: readonly Role[] = ['owner', 'admin', 'member'];

const rank: Record<Role, number> = { member: 1, admin: 2, owner: 3 };

/** True when `role` is `minimum` or above it (owner > admin > member). */
export function atLeast(role: Role, minimum: Role): boolean {
  return rank[role] >= rank[minimum];
}
