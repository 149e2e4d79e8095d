/**
 * Connected clients indexed by what can revoke them, for the broker bindings: a
 * revocation (made on this instance or polled from storage) finds its connections
 * with one map lookup instead of a scan over every client.
 */

import type { Clock } from '../ports.js';
import { revocationKeysOf, type RealtimeAuthorizer, type RealtimeSession } from './authorizer.js';

export interface LiveSessions<C> {
  /** Tracks a connected client; ends it at once if its session was revoked meanwhile. */
  add(client: C, session: RealtimeSession): void;
  /** Stops tracking a client (it disconnected). */
  remove(client: C): void;
  /** Drops clients whose token has expired: for bindings that never hear of disconnects. */
  pruneExpired(): void;
  /** How many clients are tracked. */
  readonly size: number;
  /** Stops listening for revocations. */
  close(): void;
}

/**
 * `end` is called once per tracked client whose session is revoked, after the client
 * has been dropped from tracking; it must not throw (log and swallow instead).
 */
export function trackLiveSessions<C>(
  authorizer: RealtimeAuthorizer,
  end: (client: C, session: RealtimeSession) => void,
  clock: Clock = { now: () => Date.now() },
): LiveSessions<C> {
  const sessions = new Map<C, RealtimeSession>();
  const byKey = new Map<string, Set<C>>();

  const remove = (client: C) => {
    const session = sessions.get(client);
    if (session === undefined) return;
    sessions.delete(client);
    for (const key of revocationKeysOf(session)) {
      const clients = byKey.get(key);
      clients?.delete(client);
      if (clients?.size === 0) byKey.delete(key);
    }
  };

  const unsubscribe = authorizer.onRevocation((entry) => {
    const clients = byKey.get(`${entry.kind}:${entry.key}`);
    if (clients === undefined) return;
    for (const client of [...clients]) {
      const session = sessions.get(client) as RealtimeSession;
      remove(client);
      end(client, session);
    }
  });

  return {
    add(client, session) {
      remove(client);
      // A revocation that arrived between CONNECT and now was not seen by the listener.
      if (authorizer.isRevoked(session)) return end(client, session);
      sessions.set(client, session);
      for (const key of revocationKeysOf(session)) {
        let clients = byKey.get(key);
        if (clients === undefined) byKey.set(key, (clients = new Set()));
        clients.add(client);
      }
    },
    remove,
    pruneExpired() {
      const now = clock.now();
      for (const [client, session] of sessions) if (session.expiresAt <= now) remove(client);
    },
    get size() {
      return sessions.size;
    },
    close: unsubscribe,
  };
}
