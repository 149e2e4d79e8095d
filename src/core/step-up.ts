import type { ClientInfo } from './client-info.js';
import { AuthError } from '../errors.js';
import type { Role, SignedToken, UserRecord } from '../ports.js';
import type { Accounts } from './accounts.js';
import type { CoreContext } from './context.js';
import type { Mfa } from './mfa.js';
import type { Sessions } from './sessions.js';

/** The session a step-up proof is given in: what the access token presented says. */
export interface StepUpSession {
  userId: string;
  orgId: string | null;
  role: Role | null;
  appId?: string | undefined;
  /** The refresh family; the new access token belongs to it, so logout still ends it. */
  sessionId: string | undefined;
}

/** The current password, or a TOTP code when the account has TOTP on. */
export type StepUpProof = { password: string } | { code: string };

/**
 * Step-up: sensitive changes (a second factor, API keys, making someone owner) need a
 * sign-in no older than `stepUpMaxAge`, so a stolen access token alone cannot make
 * them. `reauthenticate` renews the proof inside the same session.
 */
export function createStepUp(ctx: CoreContext, deps: { accounts: Accounts; mfa: Mfa; sessions: Sessions }) {
  const { clock, config, storage } = ctx;
  const { accounts, mfa, sessions } = deps;

  /** True when `authTime` (epoch s) is known and no older than the configured max age. */
  function isFresh(authTime: number | undefined): boolean {
    if (authTime === undefined) return false;
    const age = clock.now() / 1000 - authTime;
    // A sign-in from the future (a skewed instance) counts as now, never as older.
    return age <= config.stepUpMaxAge;
  }

  /** Throws 403 `reauthentication_required` unless the sign-in behind the token is recent. */
  function assertFresh(authTime: number | undefined): void {
    if (isFresh(authTime)) return;
    throw new AuthError('reauthentication_required', `this change needs a sign-in from the last ${config.stepUpMaxAge} s: confirm with POST /reauthenticate, then retry with the new access token`);
  }

  /**
   * Checks a proof of the user, throttled like a sign-in or a second-factor code: the
   * current password, or a TOTP code when TOTP is on. Also for changes that ask for the
   * proof itself rather than a fresh token (deleting the account or an org).
   */
  async function checkProof(user: UserRecord, proof: StepUpProof, client?: ClientInfo): Promise<void> {
    if ('password' in proof) {
      if (user.passwordHash === null) {
        throw new AuthError('invalid_credentials', 'this account has no password: confirm with a code from the authenticator app, or sign in again');
      }
      await accounts.verifyPassword(user.email, proof.password, client);
      return;
    }
    if (!(await mfa.isEnabled(user.id))) throw new AuthError('mfa_not_enabled', 'TOTP is not on for this account: confirm with the password, or sign in again');
    // A challenge of our own makes the code go through the same per-user throttle and
    // single-use time steps as the second step of a sign-in.
    await mfa.passChallenge(await mfa.challenge(user.id), { code: proof.code }, client);
  }

  /**
   * Checks the proof (throttled like a sign-in or a second-factor code) and signs a new
   * access token of the same session with `auth_time` now.
   */
  async function reauthenticate(session: StepUpSession, proof: StepUpProof, client?: ClientInfo): Promise<SignedToken> {
    const minimal = config.claims === 'minimal';
    const user = await storage.users.findById(session.userId);
    if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
    // Minimal tokens name no session (no `sid`): the renewed token is tied to none either.
    if (session.sessionId === undefined && !minimal) throw new AuthError('invalid_token', 'this token belongs to no session that can be renewed; sign in again');
    await checkProof(user, proof, client);
    const authTime = Math.floor(clock.now() / 1000);
    const scope = {
      userId: user.id,
      orgId: session.orgId,
      role: session.role,
      ...(session.appId === undefined ? {} : { appId: session.appId }),
      authTime,
    };
    // Minimal tokens carry no claims of their own, so `auth_time` is added explicitly.
    return sessions.signAccess(scope, session.sessionId, minimal ? { auth_time: authTime } : {});
  }

  return { isFresh, assertFresh, checkProof, reauthenticate, maxAge: config.stepUpMaxAge };
}

export type StepUp = ReturnType<typeof createStepUp>;
