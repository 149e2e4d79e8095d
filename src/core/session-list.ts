import type { ClientInfo } from './client-info.js';
import { AuthError } from '../errors.js';
import type { SessionRecord } from '../ports.js';
import type { CoreContext } from './context.js';
import type { Sessions } from './sessions.js';

/** A live session of the user, marked when it is the one asking. */
export interface ListedSession extends SessionRecord {
  current: boolean;
}

/**
 * The signed-in user's sessions (refresh families, app sessions included): listing them
 * and ending them one at a time or all but the current one. Ending one revokes its
 * family in storage and in every instance's revocation list, so its access tokens are
 * refused at once here and on other instances within the revocation poll interval.
 */
export function createSessionList(ctx: CoreContext, sessions: Sessions) {
  const { storage, clock, audit } = ctx;

  /** `currentId`: the `sid` of the token asking; undefined when its tokens name no session (`claims: 'minimal'`). */
  async function list(userId: string, currentId: string | undefined): Promise<ListedSession[]> {
    const live = await storage.refreshTokens.listLiveSessions(userId, clock.now());
    return live.map((session) => ({ ...session, current: session.id === currentId }));
  }

  /**
   * Ends one of the user's sessions. Another user's session and an unknown id answer the
   * same 404, so ids of others leak nothing. One of theirs that already ended (until
   * the family would have expired) answers 204 again: a retried call after a failure
   * between the two writes completes the revocation.
   */
  async function end(userId: string, sessionId: string, client?: ClientInfo): Promise<void> {
    const session = await storage.refreshTokens.findSession(sessionId);
    if (!session || session.userId !== userId || session.expiresAt <= clock.now()) {
      throw new AuthError('session_not_found', 'no such session among yours');
    }
    await sessions.revokeFamily(session.id, session.expiresAt);
    await audit.record(storage, { client, orgId: session.orgId, actor: { type: 'user', id: userId }, action: 'session.revoked', target: { type: 'session', id: session.id }, data: { reason: 'ended' } });
  }

  /**
   * Ends every session of the user but `currentId`. A token that names no session
   * (`claims: 'minimal'`) cannot tell its own apart: then every session ends, its own
   * refresh token included, and the access token lives until it expires.
   */
  async function endOthers(userId: string, currentId: string | undefined, client?: ClientInfo): Promise<void> {
    await sessions.revokeUserSessions(userId, currentId === undefined ? undefined : { exceptFamilyId: currentId });
    await audit.record(storage, { client, orgId: null, actor: { type: 'user', id: userId }, action: 'session.revoked', target: null, data: { reason: 'others_ended' } });
  }

  return { list, end, endOthers };
}

export type SessionList = ReturnType<typeof createSessionList>;
