import { AuthError } from '../errors.js';
import type { MembershipRecord, Repositories, Role } from '../ports.js';
import { atLeast } from './roles.js';

/**
 * The actor's membership in `orgId`, with at least `minimum` role. A non-member gets
 * 404 as if the org did not exist, so org ids of others leak nothing.
 */
export async function requireRole(repos: Repositories, actorId: string, orgId: string, minimum: Role): Promise<MembershipRecord> {
  const membership = await repos.memberships.find(actorId, orgId);
  if (!membership) throw new AuthError('org_not_found', 'no such organization among yours');
  if (!atLeast(membership.role, minimum)) throw new AuthError('forbidden', `this needs the ${minimum} role or above`);
  return membership;
}
