import type { ClientInfo } from './client-info.js';
import { AuthError } from '../errors.js';
import type { MembershipWithOrg, MembershipWithUser, Role } from '../ports.js';
import type { Accounts, OrgChoice } from './accounts.js';
import type { ApiKeys } from './api-keys.js';
import type { CoreContext } from './context.js';
import type { OrgRoles } from './org-roles.js';
import { requireRole } from './membership-checks.js';
import { atLeast, ROLES } from './roles.js';
import type { Sessions, TokenPair } from './sessions.js';

export function createOrgs(ctx: CoreContext, sessions: Sessions, accounts: Accounts, apiKeys: ApiKeys, orgRoles?: Pick<OrgRoles, 'forget'>) {
  const { storage, clock, audit } = ctx;

  /**
   * The user's orgs, each with whether its policy gives the session asking (begun with
   * `method`; null or undefined: unknown) a token for it: `allowed`, or the code a switch
   * to it would answer. A user whose sign-in landed elsewhere, or in no org, learns why here.
   */
  async function listMine(userId: string, method?: string | null): Promise<Array<MembershipWithOrg & { access: OrgAccess }>> {
    const memberships = await storage.memberships.listForUser(userId);
    return Promise.all(
      memberships.map(async (m) => {
        const refused = await sessions.policies.refusal(userId, await sessions.policies.policyOf(m.orgId), method);
        return { ...m, access: refused === null ? 'allowed' : (refused.code as Exclude<OrgAccess, 'allowed'>) };
      }),
    );
  }

  async function listMembers(actorId: string, orgId: string): Promise<MembershipWithUser[]> {
    await requireRole(storage, actorId, orgId, 'member');
    return storage.memberships.listForOrg(orgId);
  }

  /**
   * Only an owner changes roles; the last owner cannot be demoted. Takes effect at the
   * member's next refresh. A demotion also caps what the member made above the new
   * role: their API keys are lowered to it, their pending invitations above it are
   * revoked, and their application tokens (which carry the role for their whole life) end.
   * `customRoleId` gives a `member` one of the org's custom roles (null: none); the
   * permissions follow at once on this instance, on others within the poll interval.
   */
  async function changeRole(actorId: string, orgId: string, targetId: string, role: Role, customRoleId: string | null = null, client?: ClientInfo): Promise<void> {
    if (customRoleId !== null && role !== 'member') {
      throw new AuthError('invalid_request', 'a custom role goes with the member role', { errors: [{ path: 'customRoleId', message: 'needs role "member"' }] });
    }
    const previous = await audit.transaction(async (tx) => {
      // Before any read: the owner count below must not change until this commits.
      await tx.memberships.lockOrg(orgId);
      await requireRole(tx, actorId, orgId, 'owner');
      const target = await tx.memberships.find(targetId, orgId);
      if (!target) throw new AuthError('member_not_found', 'no such member in this organization');
      if (target.role === 'owner' && role !== 'owner' && (await tx.memberships.countOwners(orgId)) <= 1) {
        throw new AuthError('last_owner', 'the last owner cannot be demoted; make someone else owner first');
      }
      const custom = customRoleId === null ? null : await tx.orgRoles.find(orgId, customRoleId);
      if (customRoleId !== null && !custom) throw new AuthError('role_not_found', 'no such role in this organization');
      await tx.memberships.updateRole(targetId, orgId, role, customRoleId);
      const before = target.customRoleId ?? null;
      // Only a change that involves a custom role names them, so other entries keep their shape.
      const data: Record<string, string | null> = { from: target.role, to: role };
      if (before !== null || customRoleId !== null) Object.assign(data, { fromCustomRoleId: before, toCustomRoleId: customRoleId });
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'member.role_changed', target: { type: 'user', id: targetId }, data });
      return target.role;
    });
    orgRoles?.forget(orgId, targetId);
    if (!atLeast(role, previous)) await capDemoted(orgId, targetId, role);
  }

  /** What a demotion to `role` ends: see `changeRole`. */
  async function capDemoted(orgId: string, userId: string, role: Role): Promise<void> {
    const above = ROLES.filter((r) => !atLeast(role, r));
    await storage.invitations.revokeByCreator(orgId, userId, clock.now(), above);
    await apiKeys.capMemberKeys(orgId, userId, role);
    await sessions.revokeUserSessions(userId, { orgId, appsOnly: true });
  }

  /**
   * Hands the org over (owners only): the member `targetId` becomes owner and the caller
   * an admin, in one transaction, as GitHub's transfer does; the caller's demotion then
   * caps what they made above admin, as `changeRole` does.
   */
  async function transferOwnership(actorId: string, orgId: string, targetId: string, client?: ClientInfo): Promise<void> {
    await audit.transaction(async (tx) => {
      await tx.memberships.lockOrg(orgId);
      const actor = await requireRole(tx, actorId, orgId, 'owner');
      if (targetId === actorId) {
        throw new AuthError('invalid_request', 'transfer the organization to another member', { errors: [{ path: 'userId', message: 'must be another member' }] });
      }
      const target = await tx.memberships.find(targetId, orgId);
      if (!target) throw new AuthError('member_not_found', 'no such member in this organization');
      await tx.memberships.updateRole(targetId, orgId, 'owner');
      await tx.memberships.updateRole(actorId, orgId, 'admin');
      const by = { type: 'user', id: actorId } as const;
      await audit.record(tx, { client, orgId, actor: by, action: 'member.role_changed', target: { type: 'user', id: targetId }, data: { from: target.role, to: 'owner', transfer: true } });
      await audit.record(tx, { client, orgId, actor: by, action: 'member.role_changed', target: { type: 'user', id: actorId }, data: { from: actor.role, to: 'admin', transfer: true } });
    });
    orgRoles?.forget(orgId, targetId);
    orgRoles?.forget(orgId, actorId);
    await capDemoted(orgId, actorId, 'admin');
  }

  /**
   * Removes a member, or lets a member leave. Admins remove members; only an owner
   * removes an admin or owner; the last owner cannot leave. The removed member's
   * sessions in the org are revoked at once, and so are the API keys and pending
   * invitations they created there and their access to its applications: re-joining
   * later does not bring them back.
   */
  async function removeMember(actorId: string, orgId: string, targetId: string, client?: ClientInfo): Promise<void> {
    await audit.transaction(async (tx) => {
      await tx.memberships.lockOrg(orgId);
      const actor = await requireRole(tx, actorId, orgId, 'member');
      const target = actorId === targetId ? actor : await tx.memberships.find(targetId, orgId);
      if (!target) throw new AuthError('member_not_found', 'no such member in this organization');
      if (actorId !== targetId) {
        const needed: Role = target.role === 'member' ? 'admin' : 'owner';
        await requireRole(tx, actorId, orgId, needed);
      }
      if (target.role === 'owner' && (await tx.memberships.countOwners(orgId)) <= 1) {
        throw new AuthError('last_owner', 'the last owner cannot leave or be removed; make someone else owner first');
      }
      await tx.memberships.remove(targetId, orgId);
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'member.removed', target: { type: 'user', id: targetId }, data: { role: target.role, left: actorId === targetId } });
    });
    orgRoles?.forget(orgId, targetId);
    await sessions.revokeUserSessions(targetId, { orgId });
    await storage.invitations.revokeByCreator(orgId, targetId, clock.now());
    await apiKeys.revokeMemberKeys(orgId, targetId);
    await storage.applications.revokeGrantsInOrg(orgId, targetId);
  }

  /** Creates or joins an org for a signed-in user and returns a pair scoped to it. */
  /** `authTime`: the sign-in time of the session asking, carried on (step-up); null when unknown. */
  async function setup(userId: string, choice: OrgChoice, authTime: number | null = null, sessionId?: string, client?: ClientInfo): Promise<TokenPair> {
    // The new pair continues the session it is asked from: same first factor, checked against the org's policy.
    const method = await sessions.methodOfSession(sessionId);
    const membership = await audit.transaction(async (tx) => {
      const user = await tx.users.findById(userId);
      if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
      const entered = (await accounts.enterOrg(tx, user, choice, client)).membership;
      // Refused: the invitation stays unused (the transaction rolls back).
      await sessions.policies.assertAdmits(userId, entered.orgId, method, tx);
      return entered;
    });
    return sessions.issuePair({ userId, orgId: membership.orgId, role: membership.role, ...(authTime === null ? {} : { authTime }), ...(method === undefined ? {} : { method }) }, undefined, undefined, client);
  }

  /** A new pair scoped to another org the user belongs to. */
  async function switchTo(userId: string, orgId: string, authTime: number | null = null, sessionId?: string, client?: ClientInfo): Promise<TokenPair> {
    // Not a sign-in: the new session is only as fresh as the one it came from, and began with its first factor.
    return sessions.start(userId, orgId, authTime, client, await sessions.methodOfSession(sessionId));
  }

  return { listMine, listMembers, changeRole, transferOwnership, removeMember, setup, switchTo };
}

export type Orgs = ReturnType<typeof createOrgs>;

/** Whether an org's policy gives a session a token for it, or the refusal a switch would answer. */
export type OrgAccess = 'allowed' | 'mfa_enrollment_required' | 'sign_in_method_not_allowed';
