import { clientNow, ipOf, type ClientInfo } from './client-info.js';
import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { MembershipRecord, OrgRecord, Repositories, Role, UserRecord } from '../ports.js';
import type { CoreContext } from './context.js';
import { mapConflicts } from './conflicts.js';
import { checkNewPassword } from './password-policy.js';
import { isValidUsername, USERNAME_RULE } from './usernames.js';
import type { EmailVerification } from './email-verification.js';
import type { Invitations } from './invitations.js';
import type { Mfa } from './mfa.js';
import type { Sessions, TokenPair } from './sessions.js';
import { accountIpKey } from './throttle.js';
import { rehashIfNeeded } from './password-rehash.js';

export interface OrgInput {
  name: string;
  slug: string;
  description?: string | null;
}

/** Create a new org (the user becomes its owner) or join one with an invitation code. */
export type OrgChoice = { action: 'create'; org: OrgInput } | { action: 'join'; invitationCode: string };

export interface SignupInput {
  email: string;
  password: string;
  username?: string | null;
  firstName?: string | null;
  lastName?: string | null;
}

export interface Account {
  user: UserRecord;
  org: OrgRecord | null;
  role: Role | null;
}

/** A session, or (when the user has a second factor) the token to present it with at /mfa/verify. */
export type SignInResult = { kind: 'tokens'; user: UserRecord; tokens: TokenPair } | { kind: 'mfa_required'; user: UserRecord; mfaToken: string };

export function createAccounts(ctx: CoreContext, sessions: Sessions, invitations: Invitations, mfa: Mfa, emailVerification: EmailVerification) {
  const { storage, passwords, clock, throttle, logger, config } = ctx;

  /** Makes the org (with the user as owner) or consumes the invitation, on the given transaction. */
  async function enterOrg(tx: Repositories, user: UserRecord, choice: OrgChoice, client: ClientInfo | undefined): Promise<{ org: OrgRecord; membership: MembershipRecord }> {
    const now = clock.now();
    if (choice.action === 'join') {
      const membership = await invitations.accept(tx, choice.invitationCode, user, client);
      const org = await tx.orgs.findById(membership.orgId);
      if (!org) throw new AuthError('invitation_invalid', 'the invitation points to an organization that no longer exists');
      return { org, membership };
    }
    const org = await mapConflicts(() =>
      tx.orgs.create({ id: randomUUID(), name: choice.org.name, slug: choice.org.slug, description: choice.org.description ?? null, createdAt: now }),
    );
    const membership = await tx.memberships.add({ userId: user.id, orgId: org.id, role: 'owner', createdAt: now });
    await ctx.audit.record(tx, { client, orgId: org.id, actor: { type: 'user', id: user.id }, action: 'org.created', target: { type: 'org', id: org.id }, data: { name: org.name, slug: org.slug } });
    return { org, membership };
  }

  /** Creates the user and their first membership in one transaction: all of it, or nothing. */
  async function signup(input: SignupInput, choice: OrgChoice, client?: ClientInfo): Promise<Account> {
    // The HTTP schema checks this too; hosts calling the service directly get the same rule.
    if (input.username != null && !isValidUsername(input.username)) {
      throw new AuthError('invalid_request', 'the username is invalid', { errors: [{ path: 'username', message: USERNAME_RULE }] });
    }
    await checkNewPassword(input.password, ctx.config.passwordPolicy, logger);
    const passwordHash = await passwords.hash(input.password);
    return ctx.audit.transaction(async (tx) => {
      const user = await mapConflicts(() =>
        tx.users.create({
          id: randomUUID(),
          email: input.email,
          username: input.username ?? null,
          firstName: input.firstName ?? null,
          lastName: input.lastName ?? null,
          passwordHash,
          createdAt: clock.now(),
          // Unverified until proven (issue 14): never a target for linking by email.
          emailVerifiedAt: null,
        }),
      );
      const { org, membership } = await enterOrg(tx, user, choice, client);
      // Joining with an invitation mailed to this address has proved it already.
      const joined = (await tx.users.findById(user.id)) ?? user;
      if (config.emailVerification !== 'off' && joined.emailVerifiedAt === null) await emailVerification.send(tx, joined);
      return { user: joined, org, role: membership.role };
    });
  }

  /**
   * Checks email and password. Unknown emails are verified against a dummy hash so
   * that they cost the same time and get the same answer as a wrong password. The
   * throttle reserves its points before the hash is compared (see Throttle.attempt),
   * so concurrent guesses cannot outrun it. The user comes back with the hash stored
   * once this check is done (a new one when it was upgraded).
   */
  async function verifyPassword(login: string, password: string, client?: ClientInfo, by: 'email' | 'username' = 'email'): Promise<UserRecord> {
    const ip = ipOf(client);
    const account = by === 'email' ? login : `username:${login.toLowerCase()}`;
    const user = await throttle.attempt({ accountIp: accountIpKey(account, ip), ip, account }, async () => {
      const found = by === 'email' ? await storage.users.findByEmail(login) : await storage.users.findByUsername(login);
      const ok = await passwords.verify(password, found?.passwordHash ?? (await passwords.dummyHash()));
      return ok && found?.passwordHash ? found : null;
    });
    if (!user?.passwordHash) throw new AuthError('invalid_credentials', `wrong ${by} or password`);
    // The sign-in itself succeeded; a failed upgrade is retried next time.
    const passwordHash = await rehashIfNeeded(ctx, user, password);
    return passwordHash === user.passwordHash ? user : { ...user, passwordHash };
  }

  /**
   * The end of a first factor (`method`: 'password', 'passkey', an identity provider):
   * the MFA step when the user has one, else a session, recorded as `signin.succeeded`.
   */
  async function finishSignIn(user: UserRecord, method: string, client?: ClientInfo): Promise<SignInResult> {
    await assertMaySignIn(user);
    // The challenge names the first factor: the session /mfa/verify starts began with it (org policies).
    if (await mfa.isEnabled(user.id)) return { kind: 'mfa_required', user, mfaToken: await mfa.challenge(user.id, { amr: method }, method === 'password' ? user.passwordHash : null) };
    return signedIn(user, method, client, unchangedSince(user, method));
  }

  /**
   * A session for a user past every factor, recorded as `signin.succeeded` by `method` in
   * the org it is scoped to; `stillHolds` as for `sessions.signIn`.
   */
  async function signedIn(user: UserRecord, method: string, client: ClientInfo | undefined, stillHolds?: () => Promise<boolean>): Promise<SignInResult> {
    return { kind: 'tokens', user, tokens: await sessions.signIn(user.id, method, method, client, stillHolds) };
  }

  /**
   * Whether what a sign-in by `method` alone checked on `user` (read before its password
   * compare) still holds: the same password hash for a password, and no second factor
   * turned on since. A password change or reset, or turning TOTP on, commits and then
   * ends the user's sessions; asked after the sign-in's own commit, this sees that change
   * whenever the sweep could have missed the session (one or the other sees the other).
   */
  function unchangedSince(user: UserRecord, method: string): () => Promise<boolean> {
    return async () => {
      if (method === 'password' && (await storage.users.findById(user.id))?.passwordHash !== user.passwordHash) return false;
      return !(await mfa.isEnabled(user.id));
    };
  }

  /**
   * With `emailVerification: 'required'`, refuses a user (already past the password)
   * whose address is not verified, after mailing a fresh link within the send limits:
   * that is how an unverified user who cannot sign in asks for one again.
   */
  async function assertMaySignIn(user: UserRecord): Promise<void> {
    if (config.emailVerification !== 'required' || user.emailVerifiedAt !== null) return;
    try {
      await emailVerification.request(user.id);
    } catch (err) {
      // Over the send limit, or already verified meanwhile: the refusal below stands either way.
      if (!(err instanceof AuthError)) throw err;
    }
    throw new AuthError('email_not_verified', 'verify your email address first: a link has been mailed to it');
  }

  async function signin(email: string, password: string, client?: ClientInfo): Promise<SignInResult> {
    return passwordSignIn(email, password, 'email', client);
  }

  /** Sign-in by username, for wire contracts whose users log in that way. */
  async function signinWithUsername(username: string, password: string, client?: ClientInfo): Promise<SignInResult> {
    return passwordSignIn(username, password, 'username', client);
  }

  /** A password sign-in, audited: `signin.succeeded` with the org the session is scoped to, `signin.failed` for a known account. */
  async function passwordSignIn(login: string, password: string, by: 'email' | 'username', client: ClientInfo | undefined): Promise<SignInResult> {
    return finishSignIn(await signInPassword(login, password, client, by), 'password', client);
  }

  /** The password step of a sign-in: `verifyPassword`, with a wrong password recorded as `signin.failed` for a known account. */
  async function signInPassword(login: string, password: string, client: ClientInfo | undefined, by: 'email' | 'username' = 'email'): Promise<UserRecord> {
    try {
      return await verifyPassword(login, password, client, by);
    } catch (err) {
      if (err instanceof AuthError && err.code === 'invalid_credentials') auditFailedSignIn(login, by, client);
      throw err;
    }
  }

  /**
   * Records a failed password sign-in of an existing account in the org its session
   * would have been scoped to. Not awaited: the answer must take the same time whether
   * the account exists or not (the lookup and the write happen after it).
   */
  function auditFailedSignIn(login: string, by: 'email' | 'username', asking: ClientInfo | undefined): void {
    const client = clientNow(asking);
    void (async () => {
      const user = by === 'email' ? await storage.users.findByEmail(login) : await storage.users.findByUsername(login);
      if (!user) return;
      const [first] = await storage.memberships.listForUser(user.id);
      if (!first) return;
      await ctx.audit.record(storage, { client, orgId: first.orgId, actor: { type: 'user', id: user.id }, action: 'signin.failed', data: { method: 'password' } });
    })().catch((err: unknown) => logger.error('gatehouse: could not record a failed sign-in', { error: err instanceof Error ? err.message : String(err) }));
  }

  /** The user with the org a token is scoped to and their current role there. */
  async function describe(userId: string, orgId: string | null): Promise<Account> {
    const user = await storage.users.findById(userId);
    if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
    if (orgId === null) return { user, org: null, role: null };
    const [membership, org] = await Promise.all([storage.memberships.find(userId, orgId), storage.orgs.findById(orgId)]);
    if (!membership || !org) return { user, org: null, role: null };
    return { user, org, role: membership.role };
  }

  return { signup, verifyPassword, signInPassword, signin, signinWithUsername, finishSignIn, signedIn, unchangedSince, assertMaySignIn, describe, enterOrg };
}

export type Accounts = ReturnType<typeof createAccounts>;
