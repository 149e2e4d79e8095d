import { ipOf, type ClientInfo } from './client-info.js';
import { AuthError } from '../errors.js';
import type { Repositories, UserRecord } from '../ports.js';
import { mapConflicts } from './conflicts.js';
import type { CoreContext } from './context.js';
import type { MailSender, MailTokens } from './mail-tokens.js';

/** What POST /email/verify answers. */
export interface VerifiedEmail {
  email: string;
  emailVerified: true;
}

/**
 * Proving an address: the verification mail (at sign-up, on request) and the use of a
 * mailed token, which also completes an email change (the token of a `change_email`
 * mail proves the new address, so the switch happens only then).
 */
export function createEmailVerification(ctx: CoreContext, mailTokens: MailTokens, mail: MailSender) {
  const { storage, clock, audit } = ctx;

  /** Issues a verification token and queues its mail on `tx`. */
  async function send(tx: Repositories, user: UserRecord): Promise<void> {
    const { token, link, expiresAt } = await mailTokens.issue(tx, 'verify_email', user.id, user.email);
    await mail.queue(tx, 'verify_email', user.email, { email: user.email, token, link, expiresAt });
  }

  /** A new verification mail for the signed-in user (earlier links stop working). */
  async function request(userId: string, client?: ClientInfo): Promise<void> {
    const user = await storage.users.findById(userId);
    if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
    if (user.emailVerifiedAt !== null) throw new AuthError('email_already_verified', 'this email address is verified already');
    await mail.assertCanSend({ account: user.id, ip: ipOf(client) });
    await storage.transaction((tx) => send(tx, user));
  }

  /**
   * Uses a `verify_email` or `change_email` token. The token is consumed in the same
   * transaction as the change, so a failed switch (address taken meanwhile) leaves it usable.
   */
  async function verify(token: string, client?: ClientInfo): Promise<VerifiedEmail> {
    return audit.transaction(async (tx) => {
      const record = await mailTokens.consume(tx, token, ['verify_email', 'change_email']);
      const user = await tx.users.findById(record.userId);
      if (!user) throw new AuthError('invalid_token', 'the account no longer exists', { errors: [{ path: 'token', message: 'cannot be used' }] });
      const now = clock.now();
      if (record.kind === 'verify_email') {
        // Mailed to an address the account no longer has: it proves nothing about the current one.
        if (record.email !== user.email) throw new AuthError('invalid_token', 'the account’s email address has changed since this link was sent', { errors: [{ path: 'token', message: 'cannot be used' }] });
        await tx.users.markEmailVerified(user.id, now);
        return { email: user.email, emailVerified: true };
      }
      await mapConflicts(() => tx.users.updateEmail(user.id, record.email, now));
      // Links mailed to the old address (reset, verification) must not act on the account any more.
      await tx.mailTokens.revokeForUser(user.id, 'reset_password', now);
      await tx.mailTokens.revokeForUser(user.id, 'verify_email', now);
      await mail.queue(tx, 'email_changed', user.email, { oldEmail: user.email, newEmail: record.email });
      await audit.record(tx, { client, orgId: null, actor: { type: 'user', id: user.id }, action: 'email.changed', data: { oldEmail: user.email, newEmail: record.email } });
      return { email: record.email, emailVerified: true };
    });
  }

  return { send, request, verify };
}

export type EmailVerification = ReturnType<typeof createEmailVerification>;
