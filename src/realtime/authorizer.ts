/**
 * The broker-independent half of realtime auth: turns an MQTT CONNECT
 * (client id, username = realtime token, password) into a session, and answers
 * subscribe/publish questions for it. The broker adapters (aedes, EMQX, AWS IoT)
 * only translate their wire formats to these calls.
 *
 * Nothing here logs: the username is a bearer token.
 */

import { isAuthError } from '../errors.js';
import type { Clock, EpochMs, RevocationKind, RevocationRecord, TokenIssuer } from '../ports.js';
import { resolveTokenCacheMax, VerifiedTokenCache, type TokenCacheOptions } from '../tokens/verified-token-cache.js';
import { isAllowedFilter, isAllowedTopic, isValidPrefix } from './topics.js';

/**
 * `bad_credentials`: no/invalid/foreign token, or a password was sent.
 * `client_id_mismatch`: the CONNECT client id is not the one the token was issued for.
 * `token_expired`: the token was valid but its `exp` has passed.
 * `revoked`: the session, API key or access token the token was minted from has been revoked.
 */
export type RealtimeAuthErrorCode = 'bad_credentials' | 'client_id_mismatch' | 'token_expired' | 'revoked';

export class RealtimeAuthError extends Error {
  override readonly name = 'RealtimeAuthError';
  readonly code: RealtimeAuthErrorCode;

  constructor(code: RealtimeAuthErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isRealtimeAuthError(err: unknown): err is RealtimeAuthError {
  return err instanceof RealtimeAuthError;
}

/** What one authenticated MQTT connection may do, taken from its token. */
export interface RealtimeSession {
  userId: string;
  orgId: string;
  /** `<namespace>/<orgId>`: the client may only touch topics strictly below it. */
  topicPrefix: string;
  /** The MQTT client id the token is bound to. */
  clientId: string;
  /** Epoch ms; the connection must end by then. */
  expiresAt: EpochMs;
  /** The token's `jti`, for logs and revocation lookups. */
  tokenId: string;
  /** The sign-in session (refresh family) the token was minted from (`sid` claim). */
  sessionId?: string;
  /** The access token the realtime token was minted with (`ati` claim). */
  accessTokenId?: string;
  /** The API key the realtime token was minted with (`kid` claim). */
  apiKeyId?: string;
}

/**
 * What the authorizer needs of a revocation list. The router's own list (handed over by
 * `auth.realtimeAuthorizer()`) is one: in memory, refreshed by polling storage, so a
 * check is a map lookup, never a database round trip.
 */
export interface RealtimeRevocationSource {
  /** False until the list has been read once; CONNECTs are refused as unavailable until then. */
  readonly isLoaded: boolean;
  has(kind: RevocationKind, key: string): boolean;
  /** Throws when the list may be missing revocations (storage unreadable for `revocation.maxStaleness`). */
  assertFresh(): void;
  /** Calls `listener` with each revocation as it is learnt (made here or polled); returns the unsubscribe function. */
  onRevoke(listener: (entry: Readonly<RevocationRecord>) => void): () => void;
}

/** A CONNECT password as brokers hand it over: aedes gives a Buffer, HTTP hooks a string. */
export type MqttPassword = string | Uint8Array | null | undefined;

export interface RealtimeAuthorizer {
  /** Throws `RealtimeAuthError`; never returns a session for a bad CONNECT. */
  authenticate(clientId: string | null | undefined, username: string | null | undefined, password?: MqttPassword): RealtimeSession;
  /** False once the session has expired or been revoked, or for any filter outside its prefix. */
  canSubscribe(session: RealtimeSession, filter: string): boolean;
  /** False once the session has expired or been revoked, or for any topic outside its prefix. */
  canPublish(session: RealtimeSession, topic: string): boolean;
  /** True once the session, API key or access token the session's token came from has been revoked. */
  isRevoked(session: RealtimeSession): boolean;
  /**
   * Calls `listener` with each revocation as it is learnt, so a broker binding can end the
   * connections it revokes (see `revokes`). Returns the unsubscribe function. Without a
   * revocation source nothing is ever called.
   */
  onRevocation(listener: (entry: Readonly<RevocationRecord>) => void): () => void;
}

export interface RealtimeAuthorizerOptions {
  tokens: TokenIssuer;
  /** Judges expiry: on every CONNECT (cached tokens included) and in `canSubscribe`/`canPublish`. Default: `Date.now`. */
  clock?: Clock;
  /**
   * Realtime tokens already verified are kept in memory (by their exact string, until
   * they expire), so a reconnect with the same token skips the signature check; the client
   * id, expiry and revocation are still checked on every CONNECT. `{ max }` bounds the
   * entries (default 10,000); `{ max: 0 }` turns it off, which a `tokens` issuer whose
   * verification keys change at run time needs (an entry would outlive a retired key).
   */
  tokenCache?: TokenCacheOptions;
  /**
   * Where revocations are read from. Without one (a broker with only the signing key)
   * credentials stay valid until they expire, whatever is revoked meanwhile.
   */
  revocations?: RealtimeRevocationSource;
}

/** The revocation keys a session answers to, as `kind:key`: what `revokes` matches. */
export function revocationKeysOf(session: RealtimeSession): string[] {
  const keys = [`token:${session.tokenId}`];
  if (session.sessionId !== undefined) keys.push(`family:${session.sessionId}`);
  if (session.accessTokenId !== undefined) keys.push(`token:${session.accessTokenId}`);
  if (session.apiKeyId !== undefined) keys.push(`api_key:${session.apiKeyId}`);
  return keys;
}

/** True when the revocation ends the session. */
export function revokes(entry: Pick<RevocationRecord, 'kind' | 'key'>, session: RealtimeSession): boolean {
  return revocationKeysOf(session).includes(`${entry.kind}:${entry.key}`);
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function readSession(claims: Record<string, unknown>): Omit<RealtimeSession, 'clientId'> & { cid: string } {
  const { sub, org, tp, cid, exp, jti, sid, ati, kid } = claims;
  if (!nonEmptyString(sub) || !nonEmptyString(org) || !nonEmptyString(tp) || !nonEmptyString(cid) || typeof exp !== 'number' || !nonEmptyString(jti)) {
    throw new RealtimeAuthError('bad_credentials', 'the realtime token lacks required claims');
  }
  // The org must be one whole level and the prefix must end with it: a token whose
  // `tp` names another org (or a broader prefix) is refused, however it was signed.
  if (org.includes('/') || !tp.endsWith(`/${org}`) || !isValidPrefix(tp)) {
    throw new RealtimeAuthError('bad_credentials', 'the realtime token has an inconsistent topic prefix');
  }
  return {
    userId: sub,
    orgId: org,
    topicPrefix: tp,
    cid,
    expiresAt: exp * 1000,
    tokenId: jti,
    ...(nonEmptyString(sid) ? { sessionId: sid } : {}),
    ...(nonEmptyString(ati) ? { accessTokenId: ati } : {}),
    ...(nonEmptyString(kid) ? { apiKeyId: kid } : {}),
  };
}

function hasPassword(password: MqttPassword): boolean {
  return password !== null && password !== undefined && password.length > 0;
}

type VerifiedRealtimeToken = ReturnType<typeof readSession>;

export function createRealtimeAuthorizer({ tokens, clock = { now: () => Date.now() }, revocations, tokenCache }: RealtimeAuthorizerOptions): RealtimeAuthorizer {
  // Only what a token says is cached, never a verdict: what can change (revocation, the
  // clock) and what the CONNECT brings (client id, password) are checked on every call.
  const verified = new VerifiedTokenCache<VerifiedRealtimeToken>(resolveTokenCacheMax(tokenCache, 'tokenCache'));
  const isRevoked = (session: RealtimeSession): boolean =>
    revocations !== undefined &&
    (revocations.has('token', session.tokenId) ||
      (session.sessionId !== undefined && revocations.has('family', session.sessionId)) ||
      (session.accessTokenId !== undefined && revocations.has('token', session.accessTokenId)) ||
      (session.apiKeyId !== undefined && revocations.has('api_key', session.apiKeyId)));
  const live = (session: RealtimeSession) => clock.now() < session.expiresAt && !isRevoked(session);

  return {
    authenticate(clientId, username, password) {
      if (!nonEmptyString(username)) throw new RealtimeAuthError('bad_credentials', 'the MQTT username must be the realtime token');
      // The token is the whole credential; a password would be ignored, and a client
      // that sends one probably expects another scheme. Refuse rather than guess.
      if (hasPassword(password)) throw new RealtimeAuthError('bad_credentials', 'the MQTT password must be empty');

      const now = clock.now();
      let token = verified.get(username, now);
      if (token === undefined) {
        let claims: Record<string, unknown>;
        try {
          claims = tokens.verify(username, 'realtime');
        } catch (err) {
          if (isAuthError(err) && err.code === 'token_expired') throw new RealtimeAuthError('token_expired', 'the realtime token has expired');
          if (isAuthError(err)) throw new RealtimeAuthError('bad_credentials', 'the realtime token is invalid');
          throw err;
        }
        token = readSession(claims);
        verified.set(username, token);
      }
      // By this authorizer's clock, as for a cached token (the issuer may keep another one).
      if (token.expiresAt <= now) throw new RealtimeAuthError('token_expired', 'the realtime token has expired');

      const { cid, ...session } = token;
      // Binding the token to one client id stops a leaked token from being used
      // alongside (or to take over the session of) the legitimate client.
      if (clientId !== cid) throw new RealtimeAuthError('client_id_mismatch', 'the MQTT client id does not match the realtime token');
      if (revocations !== undefined) {
        // Not a verdict on the credentials: the broker answers "server unavailable", and the client retries.
        if (!revocations.isLoaded) throw new Error('revocations are not loaded yet');
        revocations.assertFresh();
      }
      const result = { ...session, clientId: cid };
      if (isRevoked(result)) throw new RealtimeAuthError('revoked', 'the realtime token has been revoked');
      return result;
    },

    canSubscribe: (session, filter) => live(session) && isAllowedFilter(session.topicPrefix, filter),

    canPublish: (session, topic) => live(session) && isAllowedTopic(session.topicPrefix, topic),

    isRevoked,

    onRevocation: (listener) => (revocations === undefined ? () => {} : revocations.onRevoke(listener)),
  };
}
