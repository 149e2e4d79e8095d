/**
 * Wires a RealtimeAuthorizer into an aedes broker: 1.x (MQTT 3.1/3.1.1) or
 * 2.x (MQTT 3.1/3.1.1 and 5), whose hooks have the same signatures.
 *
 * aedes is typed structurally here so gatehouse's public types do not depend on
 * the aedes package (it is an optional, dev-time dependency); a real `Aedes`
 * instance satisfies `AedesLike<Client>`.
 */

import type { Clock, Logger } from '../ports.js';
import { isRealtimeAuthError, type RealtimeAuthorizer, type RealtimeSession } from './authorizer.js';
import { trackLiveSessions } from './live-sessions.js';
import { isAllowedTopic } from './topics.js';

/** The part of an aedes client we use. */
export interface AedesClientLike {
  readonly id: string;
  close(callback?: () => void): void;
  /**
   * aedes 2.x: sends an MQTT 5 client a DISCONNECT with the reason code, then closes
   * (an MQTT 3.1.1 client, which has no server DISCONNECT, is just closed). aedes 1.x
   * has none: its clients are closed.
   */
  disconnect?(options: { reasonCode: number; properties?: { reasonString?: string } }, callback?: () => void): void;
}

/** A PUBLISH as aedes hands it to the hooks; only the topic matters here. */
export interface AedesPublishLike {
  topic: string;
}

/** A SUBSCRIBE entry as aedes hands it to `authorizeSubscribe`. */
export interface AedesSubscriptionLike {
  topic: string;
}

/**
 * CONNACK return codes of MQTT 3.1.1 §3.2.2.3 that aedes lets `authenticate` choose.
 * aedes 2.x sends an MQTT 5 client the matching reason code instead: 2 → 0x85
 * (client identifier not valid), 3 → 0x88 (server unavailable), 4 → 0x86 (bad
 * user name or password), 5 → 0x87 (not authorized); the hook cannot pick others.
 */
export type ConnackReturnCode = 2 | 3 | 4 | 5;

/**
 * The part of an aedes broker we use, with its hook signatures (the same in aedes 1.x and 2.x).
 * The hooks are declared as methods on purpose: method parameters compare
 * bivariantly, which lets aedes' own (richer) packet and subscription types
 * satisfy these minimal ones.
 */
export interface AedesLike<C extends AedesClientLike> {
  authenticate(
    client: C,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (error: (Error & { returnCode: number }) | null, success: boolean | null) => void,
  ): void;
  authorizeSubscribe(client: C, subscription: AedesSubscriptionLike, done: (error: Error | null, subscription?: AedesSubscriptionLike | null) => void): void;
  authorizePublish(client: C | null, packet: AedesPublishLike, done: (error?: Error | null) => void): void;
  authorizeForward(client: C, packet: AedesPublishLike): AedesPublishLike | null | void;
  on(event: 'clientReady' | 'clientDisconnect', listener: (client: NoInfer<C>) => void): unknown;
  removeListener(event: 'clientReady' | 'clientDisconnect', listener: (client: NoInfer<C>) => void): unknown;
}

export interface AttachAuthorizerOptions {
  /** Clock for the expiry timers. Default: `Date.now`. */
  clock?: Clock;
  /** Told about unexpected errors (never about tokens or routine denials). */
  logger?: Pick<Logger, 'error'>;
}

export interface AttachedAuthorizer<C extends AedesClientLike> {
  /** The session of an authenticated client, if any. */
  sessionOf(client: C): RealtimeSession | undefined;
  /** Restores the broker's previous hooks, removes listeners and clears timers. */
  detach(): void;
}

/** setTimeout stores delays in a signed 32-bit int; longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Why the broker ends a connection, as MQTT 5 DISCONNECT reason codes (MQTT 5.0
 * §3.14.2.1), so a client can tell an expiry (fetch new credentials and reconnect)
 * from a revocation (the session, key or membership is gone).
 */
const REALTIME_DISCONNECT = {
  /** 0xA0 Maximum connect time: the realtime token has expired. */
  expired: { reasonCode: 0xa0, properties: { reasonString: 'the realtime token has expired' } },
  /** 0x98 Administrative action: the session, API key or membership behind the token was revoked. */
  revoked: { reasonCode: 0x98, properties: { reasonString: 'the credentials were revoked' } },
} as const;

function end(client: AedesClientLike, why: (typeof REALTIME_DISCONNECT)[keyof typeof REALTIME_DISCONNECT]): void {
  if (typeof client.disconnect === 'function') client.disconnect(why);
  else client.close();
}

/** The error aedes turns into a refusing CONNACK; its message never holds the token. */
function connackError(err: unknown, logger: AttachAuthorizerOptions['logger']): Error & { returnCode: ConnackReturnCode } {
  if (isRealtimeAuthError(err)) return Object.assign(new Error(err.message), { returnCode: err.code === 'client_id_mismatch' ? 2 : 4 } as const);
  // Not a verdict on the credentials but a failure of ours: let the client retry.
  logger?.error('gatehouse: realtime authentication failed unexpectedly', { error: err instanceof Error ? err.message : String(err) });
  return Object.assign(new Error('realtime authentication is unavailable'), { returnCode: 3 } as const);
}

/**
 * Replaces the broker's `authenticate`, `authorizeSubscribe`, `authorizePublish`
 * and `authorizeForward` hooks, and ends each connection when its token expires.
 * On aedes 2.x an MQTT 5 client is sent a DISCONNECT saying why first
 * (`REALTIME_DISCONNECT`: 0xA0 at expiry, 0x98 at revocation); MQTT 3.1.1 clients,
 * and every client on aedes 1.x, are just closed.
 *
 * - CONNECT refused: return code 2 (identifier rejected; MQTT 5: 0x85 client
 *   identifier not valid) for a client id that is not the token's, 4 (bad username
 *   or password; 0x86) for any other token problem, 3 (server unavailable; 0x88)
 *   when the token issuer itself failed.
 * - SUBSCRIBE outside the prefix: SUBACK 0x80 for that filter (MQTT 5 on aedes
 *   2.x: 0x87 not authorized), connection kept.
 * - PUBLISH outside the prefix: the hook's only way to refuse is an error. On
 *   MQTT 3.1.1 aedes drops the message and closes the connection (MQTT-3.3.5-2
 *   allows closing; 3.1.1 has no negative PUBACK). On MQTT 5 aedes 2.x drops it
 *   and keeps the connection: PUBACK/PUBREC 0x87 (not authorized) at QoS 1/2,
 *   nothing at QoS 0. Wills go through the same check.
 * - Revocation: with an authorizer that sees revocations (`auth.realtimeAuthorizer()`),
 *   a client whose session, API key or membership is revoked is ended (0x98 on MQTT 5)
 *   as soon as this process learns of it (at once, or within `revocation.pollInterval`).
 */
export function attachAuthorizer<C extends AedesClientLike>(
  aedes: AedesLike<C>,
  authorizer: RealtimeAuthorizer,
  options: AttachAuthorizerOptions = {},
): AttachedAuthorizer<C> {
  const clock = options.clock ?? { now: () => Date.now() };
  const sessions = new WeakMap<C, RealtimeSession>();
  const timers = new Map<C, NodeJS.Timeout>();
  const previous = {
    authenticate: aedes.authenticate,
    authorizeSubscribe: aedes.authorizeSubscribe,
    authorizePublish: aedes.authorizePublish,
    authorizeForward: aedes.authorizeForward,
  };

  aedes.authenticate = (client, username, password, done) => {
    let session: RealtimeSession;
    try {
      session = authorizer.authenticate(client.id, username, password);
    } catch (err) {
      done(connackError(err, options.logger), null);
      return;
    }
    sessions.set(client, session);
    done(null, true);
  };

  // `null` as the subscription is aedes' way to answer SUBACK 0x80 (failure; 0x87
  // on MQTT 5) for this filter while keeping the connection; an error would close it.
  aedes.authorizeSubscribe = (client, subscription, done) => {
    const session = sessions.get(client);
    done(null, session !== undefined && authorizer.canSubscribe(session, subscription.topic) ? subscription : null);
  };

  // A null client is a will published after its client is gone: no session, deny.
  // `$SYS/...` is denied by the topic rules (nothing under a prefix starts with `$`).
  aedes.authorizePublish = (client, packet, done) => {
    const session = client === null ? undefined : sessions.get(client);
    if (session !== undefined && authorizer.canPublish(session, packet.topic)) done(null);
    else done(new Error('publish not authorized'));
  };

  // Defence in depth: even if a subscription slipped through (or was added
  // server-side), never deliver a message outside the client's prefix.
  aedes.authorizeForward = (client, packet) => {
    const session = sessions.get(client);
    return session !== undefined && isAllowedTopic(session.topicPrefix, packet.topic) ? packet : null;
  };

  const clearTimer = (client: C) => {
    clearTimeout(timers.get(client));
    timers.delete(client);
  };

  const arm = (client: C, expiresAt: number) => {
    const delay = expiresAt - clock.now();
    const timer = setTimeout(() => {
      timers.delete(client);
      // Re-arm when the delay was clamped; otherwise the token has expired.
      if (delay > MAX_TIMER_MS) arm(client, expiresAt);
      else end(client, REALTIME_DISCONNECT.expired);
    }, Math.min(Math.max(delay, 0), MAX_TIMER_MS));
    // An expiry timer alone should not keep the process alive.
    timer.unref();
    timers.set(client, timer);
  };

  // Closes the clients whose session, API key or membership is revoked, here or (polled) elsewhere.
  const live = trackLiveSessions<C>(authorizer, (client) => end(client, REALTIME_DISCONNECT.revoked), clock);

  const onReady = (client: C) => {
    const session = sessions.get(client);
    if (session === undefined) return;
    arm(client, session.expiresAt);
    live.add(client, session);
  };

  aedes.on('clientReady', onReady);
  aedes.on('clientDisconnect', clearTimer);
  aedes.on('clientDisconnect', live.remove);

  return {
    sessionOf: (client) => sessions.get(client),
    detach() {
      aedes.removeListener('clientReady', onReady);
      aedes.removeListener('clientDisconnect', clearTimer);
      aedes.removeListener('clientDisconnect', live.remove);
      live.close();
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      Object.assign(aedes, previous);
    },
  };
}
