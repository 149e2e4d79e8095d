import { ipOf, type ClientInfo } from './client-info.js';
import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { Repositories, UserRecord } from '../ports.js';
import type { Accounts } from './accounts.js';
import type { ApiKeys } from './api-keys.js';
import type { CoreContext } from './context.js';
import type { MailSender, MailTokens } from './mail-tokens.js';
import { checkNewPassword } from './password-policy.js';
import { randomSecret, sha256Hex } from './secrets.js';
import type { Sessions } from './sessions.js';

/** Forgotten passwords (a mailed reset link) and changing the password while signed in. */
export function createPasswordRecovery(ctx: CoreContext, deps: { accounts: Accounts; sessions: Sessions; apiKeys: ApiKeys; mailTokens: MailTokens; mail: MailSender }) {
  const { storage, passwords, clock, config, logger, audit } = ctx;
  const { accounts, sessions, apiKeys, mailTokens, mail } = deps;

  /**
   * Mails a reset link when the address belongs to an account; answers the same either
   * way. An unknown address goes through the same steps (a token made and hashed, a
   * transaction that revokes nothing), so it does not stand out by what it costs.
   */
  async function forgot(email: string, client?: ClientInfo): Promise<void> {
    await mail.assertCanSend({ account: email, ip: ipOf(client) });
    const user = await storage.users.findByEmail(email);
    await storage.transaction(async (tx) => {
      if (user) {
        const { token, link, expiresAt } = await mailTokens.issue(tx, 'reset_password', user.id, user.email);
        await mail.queue(tx, 'reset_password', user.email, { email: user.email, token, link, expiresAt });
      } else {
        sha256Hex(randomSecret(32));
        await tx.mailTokens.revokeForUser(randomUUID(), 'reset_password', clock.now());
      }
    });
  }

  /** Ends every session and the account keys derived from the password state, after a change to it. */
  async function endSessions(userId: string, exceptFamilyId?: string): Promise<void> {
    await sessions.revokeUserSessions(userId, exceptFamilyId === undefined ? undefined : { exceptFamilyId });
    await apiKeys.revokeAccountKeys(userId);
  }

  async function savePassword(tx: Repositories, user: UserRecord, passwordHash: string, via: 'reset' | 'change', client: ClientInfo | undefined): Promise<void> {
    await tx.users.updatePasswordHash(user.id, passwordHash);
    await audit.record(tx, { client, orgId: null, actor: { type: 'user', id: user.id }, action: 'password.changed', data: { via } });
    // Every reset link out there dies with the old password.
    await tx.mailTokens.revokeForUser(user.id, 'reset_password', clock.now());
    await mail.queue(tx, 'password_changed', user.email, { email: user.email });
  }

  /**
   * Sets a new password with a mailed token: every session of the user ends. The policy
   * check and the hash come before the token is used, so a refused password leaves it usable.
   */
  async function reset(token: string, password: string, client?: ClientInfo): Promise<void> {
    await checkNewPassword(password, config.passwordPolicy, logger);
    const passwordHash = await passwords.hash(password);
    const userId = await audit.transaction(async (tx) => {
      const record = await mailTokens.consume(tx, token, ['reset_password']);
      const user = await tx.users.findById(record.userId);
      if (!user) throw new AuthError('invalid_token', 'the account no longer exists', { errors: [{ path: 'token', message: 'cannot be used' }] });
      await savePassword(tx, user, passwordHash, 'reset', client);
      // The link reached this mailbox: that proves the address, as a verification link would.
      if (record.email === user.email) await tx.users.markEmailVerified(user.id, clock.now());
      return user.id;
    });
    await endSessions(userId);
  }

  /**
   * Changes the password of the signed-in user, who proves it with the current one
   * (throttled like a sign-in): their other sessions end, the calling one stays.
   */
  async function change(session: { userId: string; sessionId?: string | undefined }, currentPassword: string, newPassword: string, client?: ClientInfo): Promise<void> {
    const user = await storage.users.findById(session.userId);
    if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
    if (user.passwordHash === null) throw new AuthError('invalid_credentials', 'this account has no password: set one with POST /password/forgot');
    await accounts.verifyPassword(user.email, currentPassword, client);
    await checkNewPassword(newPassword, config.passwordPolicy, logger).catch((err: unknown) => {
      throw err instanceof AuthError && err.code === 'weak_password' ? new AuthError('weak_password', err.message, { errors: err.details?.errors?.map((e) => ({ ...e, path: 'newPassword' })) }) : err;
    });
    const passwordHash = await passwords.hash(newPassword);
    await audit.transaction((tx) => savePassword(tx, user, passwordHash, 'change', client));
    await endSessions(user.id, session.sessionId);
  }

  return { forgot, reset, change };
}

export type PasswordRecovery = ReturnType<typeof createPasswordRecovery>;
