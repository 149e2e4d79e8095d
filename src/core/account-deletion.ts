import type { ClientInfo } from './client-info.js';
import { AuthError } from '../errors.js';
import type { EpochMs, Repositories, RevocationRecord } from '../ports.js';
import type { CoreContext } from './context.js';
import { requireRole } from './membership-checks.js';
import type { Mfa } from './mfa.js';
import type { StepUp, StepUpProof } from './step-up.js';

type Revocation = Omit<RevocationRecord, 'createdAt'>;

/** The caller as the guard saw them: who, and when they signed in (`auth_time`). */
export interface Deleter {
  userId: string;
  authTime: number | undefined;
}

/**
 * Deleting an account or an organization with everything that exists for it. Each runs
 * in one transaction, and the revocations of what it minted (sessions, API keys) are
 * written in that same transaction, then applied here once it commits: guards refuse
 * those tokens and keys at once on this instance, and on others at their next poll.
 *
 * Both ask for a proof (`StepUp.checkProof`: the password, or a TOTP code when TOTP is
 * on), so a stolen access token alone cannot delete. An account with neither (external
 * sign-in only) proves itself with a recent sign-in instead (`stepUp.maxAge`).
 */
export function createAccountDeletion(ctx: CoreContext, deps: { stepUp: StepUp; mfa: Mfa }) {
  const { storage, clock, config, revocations, audit } = ctx;
  const { stepUp, mfa } = deps;

  async function confirm(deleter: Deleter, proof: StepUpProof | undefined, client: ClientInfo | undefined): Promise<void> {
    const user = await storage.users.findById(deleter.userId);
    if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
    if (proof !== undefined) return stepUp.checkProof(user, proof, client);
    if (user.passwordHash !== null || (await mfa.isEnabled(user.id))) {
      throw new AuthError('invalid_request', 'confirm with the password, or with a code from the authenticator app when TOTP is on', {
        errors: [{ path: 'password', message: 'is required' }],
      });
    }
    stepUp.assertFresh(deleter.authTime);
  }

  function familyRevocations(families: Array<{ familyId: string; familyExpiresAt: EpochMs }>): Revocation[] {
    // An access token minted just before the family ended can outlive it by one access TTL.
    return families.map((f) => ({ kind: 'family', key: f.familyId, expiresAt: f.familyExpiresAt + config.accessTtl * 1000 }));
  }

  function keyRevocations(keys: Array<{ id: string; expiresAt: EpochMs | null }>, now: EpochMs): Revocation[] {
    // Other instances may serve a verified key from memory for one cache TTL.
    const cachedUntil = now + config.apiKeyCacheTtl * 1000;
    return keys.map((k) => ({ kind: 'api_key', key: k.id, expiresAt: k.expiresAt === null ? cachedUntil : Math.min(k.expiresAt, cachedUntil) }));
  }

  /** Deletes the org on `tx` (the caller holds its lock) and returns what to revoke: its sessions and API keys. */
  async function removeOrg(tx: Repositories, orgId: string, now: EpochMs, deleter: string, reason: 'deleted' | 'account_deleted', client: ClientInfo | undefined): Promise<Revocation[]> {
    // Written before the org goes (the log has no foreign keys and outlives it); its webhooks go with it, so only `onAuditEvent` hears of this.
    await audit.record(tx, { client, orgId, actor: { type: 'user', id: deleter }, action: 'org.deleted', target: { type: 'org', id: orgId }, data: { reason } });
    const families = await tx.refreshTokens.revokeFamiliesOfOrg(orgId, now);
    const keys = await tx.apiKeys.listForOrg(orgId);
    await tx.orgs.delete(orgId);
    return [...familyRevocations(families), ...keyRevocations(keys, now)];
  }

  /**
   * Deletes the account: its memberships, sessions, API keys, identities and second
   * factor; each org where it is the only member goes with it. 409 `last_owner` (naming
   * the orgs in `orgIds`) when it is the only owner of an org that has other members:
   * make someone else owner (POST /orgs/:orgId/transfer) or remove them first. In orgs
   * that stay, the invitations it created are revoked, as when a member is removed.
   */
  async function deleteAccount(deleter: Deleter, proof: StepUpProof | undefined, client?: ClientInfo): Promise<void> {
    await confirm(deleter, proof, client);
    const { userId } = deleter;
    const apply = await audit.transaction(async (tx) => {
      const now = clock.now();
      // Locked in one order, so two deletions sharing orgs cannot deadlock.
      const orgIds = (await tx.memberships.listForUser(userId)).map((m) => m.orgId).sort();
      const alone: string[] = [];
      const staying: string[] = [];
      const blocked: string[] = [];
      for (const orgId of orgIds) {
        // Before the reads: a member joining or an owner leaving meanwhile must wait for this decision.
        await tx.memberships.lockOrg(orgId);
        const members = await tx.memberships.listForOrg(orgId);
        const others = members.filter((m) => m.userId !== userId);
        if (others.length === 0) alone.push(orgId);
        else if (members.some((m) => m.userId === userId && m.role === 'owner') && !others.some((m) => m.role === 'owner')) blocked.push(orgId);
        else staying.push(orgId);
      }
      if (blocked.length > 0) {
        throw new AuthError('last_owner', 'you are the only owner of an organization with other members: make one of them owner (or remove them) first', { orgIds: blocked });
      }
      const revoked: Revocation[] = [];
      for (const orgId of alone) revoked.push(...(await removeOrg(tx, orgId, now, userId, 'account_deleted', client)));
      for (const orgId of staying) {
        await tx.invitations.revokeByCreator(orgId, userId, now);
        revoked.push(...keyRevocations(await tx.apiKeys.revokeByCreator(orgId, userId, now), now));
      }
      revoked.push(...familyRevocations(await tx.refreshTokens.revokeFamiliesOfUser(userId, now)));
      if (!(await tx.users.delete(userId))) throw new AuthError('invalid_token', 'the account no longer exists');
      await audit.record(tx, { client, orgId: null, actor: { type: 'user', id: userId }, action: 'account.deleted', data: { orgsDeleted: alone.length } });
      return revocations.stage(tx, revoked);
    });
    apply();
  }

  /**
   * Deletes the org (owners only) with its memberships, invitations, API keys and
   * applications; every session scoped to it (app sessions included) ends. Members keep
   * their accounts and other orgs.
   */
  async function deleteOrg(deleter: Deleter, orgId: string, proof: StepUpProof | undefined, client?: ClientInfo): Promise<void> {
    // Role first: a non-owner learns nothing from, and spends no attempts on, the proof.
    await requireRole(storage, deleter.userId, orgId, 'owner');
    await confirm(deleter, proof, client);
    const apply = await audit.transaction(async (tx) => {
      await tx.memberships.lockOrg(orgId);
      // Again under the lock: the role may have changed while the proof was checked.
      await requireRole(tx, deleter.userId, orgId, 'owner');
      return revocations.stage(tx, await removeOrg(tx, orgId, clock.now(), deleter.userId, 'deleted', client));
    });
    apply();
  }

  return { deleteAccount, deleteOrg };
}

export type AccountDeletion = ReturnType<typeof createAccountDeletion>;
