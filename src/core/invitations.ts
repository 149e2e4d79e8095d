import type { ClientInfo } from './client-info.js';
import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { InvitationRecord, MembershipRecord, Repositories, Role, UserRecord } from '../ports.js';
import type { CoreContext } from './context.js';
import { mapConflicts } from './conflicts.js';
import { atLeast } from './roles.js';
import { randomSecret, sha256Hex } from './secrets.js';
import { requireRole } from './membership-checks.js';
import type { MailSender } from './mail-tokens.js';

export interface NewInvitationInput {
  email?: string | null;
  role?: Role;
  expiresInHours?: number;
  /** Mail the code (with a link) to `email`. Default true; false when the inviter passes the code on themselves. */
  sendEmail?: boolean;
}

/** An invitation as just created: the only time its code is visible. */
export interface CreatedInvitation {
  invitation: InvitationRecord;
  code: string;
}

export function createInvitations(ctx: CoreContext, mail: MailSender) {
  const { storage, clock, config, audit } = ctx;

  async function create(actorId: string, orgId: string, input: NewInvitationInput, client?: ClientInfo): Promise<CreatedInvitation> {
    const role = input.role ?? 'member';
    const assertMayInvite = async (repos: Repositories) => {
      const actor = await requireRole(repos, actorId, orgId, 'admin');
      if (!atLeast(actor.role, role)) throw new AuthError('forbidden', `an ${actor.role} cannot invite with role ${role}`);
    };
    // Before the invited address's send limit is spent; and again in the transaction below.
    await assertMayInvite(storage);
    const hours = input.expiresInHours ?? config.invitationTtl / 3600;
    if (hours * 3600 > config.invitationMaxTtl) {
      throw new AuthError('invalid_request', `expiresInHours must be at most ${config.invitationMaxTtl / 3600}`, {
        errors: [{ path: 'expiresInHours', message: `must be at most ${config.invitationMaxTtl / 3600}` }],
      });
    }
    const email = input.email ?? null;
    const mailed = email !== null && input.sendEmail !== false;
    // Per invited address, so an admin cannot bomb one mailbox with invitations.
    if (mailed) await mail.assertCanSend({ account: email });
    const now = clock.now();
    const code = randomSecret(18, 'inv_');
    return audit.transaction(async (tx) => {
      // The inviter's role as stored, under the org's lock: a removal or a demotion takes it
      // too and revokes the invitations it no longer allows after it commits, so it either
      // finds this one or is what this reads (and no mail goes out for a refused one).
      await tx.memberships.lockOrg(orgId);
      await assertMayInvite(tx);
      const invitation = await tx.invitations.create({
        id: randomUUID(),
        orgId,
        codeHash: sha256Hex(code),
        role,
        email,
        expiresAt: now + Math.round(hours * 3600 * 1000),
        createdBy: actorId,
        createdAt: now,
        mailedAt: mailed ? now : null,
      });
      if (mailed) {
        const org = await tx.orgs.findById(orgId);
        const data = { orgName: org?.name ?? '', role, code, link: mail.link('invitation', code), expiresAt: invitation.expiresAt };
        await mail.queue(tx, 'invitation', email, data);
      }
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'member.invited', target: { type: 'invitation', id: invitation.id }, data: { role, email, mailed } });
      return { invitation, code };
    });
  }

  async function list(actorId: string, orgId: string): Promise<InvitationRecord[]> {
    await requireRole(storage, actorId, orgId, 'admin');
    return storage.invitations.listActive(orgId, clock.now());
  }

  async function revoke(actorId: string, orgId: string, invitationId: string, client?: ClientInfo): Promise<void> {
    await requireRole(storage, actorId, orgId, 'admin');
    await audit.transaction(async (tx) => {
      if (!(await tx.invitations.revoke(orgId, invitationId, clock.now()))) {
        throw new AuthError('invitation_not_found', 'no such pending invitation in this organization');
      }
      await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'invitation.revoked', target: { type: 'invitation', id: invitationId } });
    });
  }

  /**
   * Consumes the code for `user` and makes the membership, inside the caller's
   * transaction: if anything after the consume fails, the invitation stays unused.
   */
  async function accept(tx: Repositories, code: string, user: UserRecord, client: ClientInfo | undefined): Promise<MembershipRecord> {
    const codeHash = sha256Hex(code);
    const now = clock.now();
    const invitation = await tx.invitations.consume(codeHash, user.id, user.email, now);
    if (!invitation) throw await whyUnusable(tx, codeHash, user.email, now);
    // The code is only as good as whoever made it: they must still be able to invite
    // with this role (removal and demotion revoke their invitations; this closes the races).
    const creator = await tx.memberships.find(invitation.createdBy, invitation.orgId);
    if (!creator || !atLeast(creator.role, 'admin') || !atLeast(creator.role, invitation.role)) {
      throw new AuthError('invitation_invalid', 'the invitation code is not valid', { errors: [{ path: 'invitationCode', message: 'cannot be used' }] });
    }
    const membership = await mapConflicts(() => tx.memberships.add({ userId: user.id, orgId: invitation.orgId, role: invitation.role, createdAt: now }));
    // The code came by mail to this very address: whoever holds it reads that mailbox.
    if (invitation.mailedAt !== null && invitation.email === user.email) await tx.users.markEmailVerified(user.id, now);
    await audit.record(tx, { client, orgId: invitation.orgId, actor: { type: 'user', id: user.id }, action: 'member.joined', target: { type: 'invitation', id: invitation.id }, data: { role: invitation.role } });
    return membership;
  }

  return { create, list, revoke, accept };
}

async function whyUnusable(tx: Repositories, codeHash: string, email: string, now: number): Promise<AuthError> {
  const found = await tx.invitations.findByCodeHash(codeHash);
  const field = { errors: [{ path: 'invitationCode', message: 'cannot be used' }] };
  if (!found || found.revokedAt !== null) return new AuthError('invitation_invalid', 'the invitation code is not valid', field);
  if (found.usedAt !== null) return new AuthError('invitation_used', 'the invitation code has already been used', field);
  if (found.expiresAt <= now) return new AuthError('invitation_expired', 'the invitation code has expired', field);
  if (found.email !== null && found.email !== email) {
    return new AuthError('invitation_email_mismatch', 'the invitation was issued for another email address', field);
  }
  return new AuthError('invitation_invalid', 'the invitation code is not valid', field);
}

export type Invitations = ReturnType<typeof createInvitations>;
