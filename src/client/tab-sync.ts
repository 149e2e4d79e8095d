/**
 * Coordination between the tabs of one origin that share a refresh cookie: one of
 * them refreshes (the holder of a Web Lock), and every new access token or sign-out
 * reaches the others over a BroadcastChannel, so a rotation costs one request.
 */

export type TabMessage = { type: 'tokens'; accessToken: string } | { type: 'signed-out'; reason: 'logout' | 'revoked' | 'expired' };

export interface TabSync {
  /** Runs `fn` while no other tab of the origin runs its own (the lock is held across `fn`). */
  exclusive<R>(fn: () => Promise<R>): Promise<R>;
  publish(message: TabMessage): void;
  close(): void;
}

interface LockManagerLike {
  request<R>(name: string, callback: () => Promise<R>): Promise<R>;
}

// Lock grants and channel messages travel separate paths, so the next holder could get the lock before
// the message with the token it is waiting for; holding the lock this long after posting covers that.
const HANDOVER_MS = 100;

/** Null where Web Locks or BroadcastChannel are missing (Node, old browsers): each client then refreshes on its own. */
export function createTabSync(name: string, onMessage: (message: TabMessage) => void): TabSync | null {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (!locks || typeof globalThis.BroadcastChannel !== 'function') return null;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event: { data: unknown }) => {
    if (isTabMessage(event.data)) onMessage(event.data);
  };
  // Where a runtime has both (Node 22+), an open channel must not keep the process alive.
  (channel as { unref?: () => void }).unref?.();
  let posted = false;
  return {
    exclusive: (fn) =>
      locks.request(name, async () => {
        posted = false;
        const result = await fn();
        if (posted) await new Promise((done) => setTimeout(done, HANDOVER_MS));
        return result;
      }),
    publish(message) {
      posted = true;
      channel.postMessage(message);
    },
    close: () => channel.close(),
  };
}

function isTabMessage(data: unknown): data is TabMessage {
  if (typeof data !== 'object' || data === null) return false;
  const message = data as Record<string, unknown>;
  if (message.type === 'tokens') return typeof message.accessToken === 'string';
  return message.type === 'signed-out' && (message.reason === 'logout' || message.reason === 'revoked' || message.reason === 'expired');
}
