import { AuthError } from '../errors.js';
import type { Accounts } from './accounts.js';
import { ipOf, type ClientInfo } from './client-info.js';
import type { CoreContext } from './context.js';
import type { MailSender, MailTokens } from './mail-tokens.js';

/**
 * Changing the address: the password proves the caller (this is the route's own step-up,
 * so a stolen access token alone cannot move the account), and a token mailed to the new
 * address proves that address; POST /email/verify with it makes the switch.
 */
export function createEmailChange(ctx: CoreContext, deps: { accounts: Accounts; mailTokens: MailTokens; mail: MailSender }) {
  const { storage } = ctx;
  const { accounts, mailTokens, mail } = deps;

  /** `newEmail` is already normalised (trimmed, lowercased). */
  async function request(userId: string, newEmail: string, password: string, client?: ClientInfo): Promise<void> {
    const user = await storage.users.findById(userId);
    if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
    if (user.passwordHash === null) throw new AuthError('invalid_credentials', 'this account has no password: set one with POST /password/forgot first');
    await accounts.verifyPassword(user.email, password, client);
    if (newEmail === user.email) {
      throw new AuthError('invalid_request', 'this is the account’s address already', { errors: [{ path: 'newEmail', message: 'is the current address' }] });
    }
    if (await storage.users.findByEmail(newEmail)) {
      throw new AuthError('email_taken', 'an account with this email already exists', { errors: [{ path: 'newEmail', message: 'is already registered' }] });
    }
    await mail.assertCanSend({ account: user.id, ip: ipOf(client) });
    await storage.transaction(async (tx) => {
      const { token, link, expiresAt } = await mailTokens.issue(tx, 'change_email', user.id, newEmail);
      await mail.queue(tx, 'change_email', newEmail, { newEmail, token, link, expiresAt });
    });
  }

  return { request };
}

export type EmailChange = ReturnType<typeof createEmailChange>;
