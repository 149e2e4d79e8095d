/**
 * HTTP endpoints for EMQX 5's HTTP authenticator and HTTP authorization source,
 * on top of a RealtimeAuthorizer.
 *
 * EMQX reads the answer from a 200 JSON body (`result`: allow | deny | ignore);
 * a 4xx/5xx makes it `ignore` the source and move on down its chain. Example
 * configuration (HOCON), assuming the router is mounted at `/mqtt`:
 *
 * ```hocon
 * authentication = [{
 *   mechanism = password_based
 *   backend = http
 *   method = post
 *   url = "http://gatehouse.internal:3000/mqtt/authn"
 *   headers { "content-type" = "application/json" }
 *   body { clientid = "${clientid}", username = "${username}", password = "${password}" }
 * }]
 *
 * authorization {
 *   # The default `file` source ends with {allow, all}: replace the sources, do not
 *   # append to them, and deny what no source matched.
 *   no_match = deny
 *   deny_action = disconnect
 *   # Cached answers outlive the token by up to the cache TTL; `expire_at` (below)
 *   # disconnects the client at expiry anyway on EMQX >= 5.8.
 *   cache { enable = true, ttl = 30s }
 *   sources = [{
 *     type = http
 *     method = post
 *     url = "http://gatehouse.internal:3000/mqtt/authz"
 *     headers { "content-type" = "application/json" }
 *     body { clientid = "${clientid}", username = "${username}", topic = "${topic}", action = "${action}" }
 *   }]
 * }
 * ```
 *
 * Keep these endpoints on a private network: they answer anyone who can reach them.
 *
 * Revocation: with an authorizer that sees revocations (`auth.realtimeAuthorizer()`),
 * `/authn` refuses revoked credentials and `/authz` denies their checks (with
 * `deny_action = disconnect` that ends the connection at its next uncached check). To
 * end live connections at once, pass `kickOut: emqxKickOut({ url, apiKey, apiSecret })`:
 * for each client admitted by `/authn` whose session, API key or membership is then
 * revoked, it calls EMQX's `DELETE /api/v5/clients/{clientid}`. Create the API key in
 * the EMQX dashboard (System → API Keys) and keep its secret like the signing key.
 */

import express, { type ErrorRequestHandler, type Router } from 'express';
import { z } from 'zod';
import type { Logger } from '../ports.js';
import { isRealtimeAuthError, type RealtimeAuthorizer, type RealtimeSession } from './authorizer.js';
import { trackLiveSessions } from './live-sessions.js';

const authnBody = z.object({
  clientid: z.string(),
  username: z.string(),
  // EMQX substitutes '' for a missing password; null is tolerated for hand-written configs.
  password: z.string().nullish(),
});

const authzBody = z.object({
  clientid: z.string(),
  username: z.string(),
  topic: z.string().min(1),
  action: z.enum(['publish', 'subscribe']),
});

/**
 * `POST /authn` → 200 `{ result: 'allow', is_superuser: false, expire_at }` or
 * `{ result: 'deny', is_superuser: false }`. `expire_at` (epoch seconds, EMQX >= 5.8)
 * makes EMQX disconnect the client when its token expires.
 */
export interface EmqxAuthnResponse {
  result: 'allow' | 'deny';
  is_superuser: false;
  expire_at?: number;
}

/** `POST /authz` → 200 `{ result: 'allow' | 'deny' }`. */
export interface EmqxAuthzResponse {
  result: 'allow' | 'deny';
}

export interface EmqxHttpOptions {
  /** Told about unexpected errors (never about tokens or routine denials). */
  logger?: Pick<Logger, 'error'>;
  /**
   * Disconnects a client from EMQX, called for each client admitted here whose
   * credentials are then revoked; usually `emqxKickOut(...)`. A rejection is logged.
   */
  kickOut?: (clientId: string) => Promise<void>;
}

export interface EmqxKickOutOptions {
  /** Base URL of the EMQX REST API, e.g. `http://emqx.internal:18083`. */
  url: string;
  /** An EMQX API key and its secret (sent as HTTP Basic credentials). */
  apiKey: string;
  apiSecret: string;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * The `kickOut` hook for EMQX 5: `DELETE /api/v5/clients/{clientid}`. 204 (kicked) and
 * 404 (already gone) are success; anything else rejects.
 */
export function emqxKickOut({ url, apiKey, apiSecret, fetch: fetchImpl = fetch }: EmqxKickOutOptions): (clientId: string) => Promise<void> {
  const base = new URL(url);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`emqxKickOut: url must be http(s) (got ${JSON.stringify(url)})`);
  const authorization = `Basic ${Buffer.from(`${apiKey}:${apiSecret}`).toString('base64')}`;
  return async (clientId) => {
    const target = new URL(`api/v5/clients/${encodeURIComponent(clientId)}`, base.href.endsWith('/') ? base : `${base.href}/`);
    const res = await fetchImpl(target, { method: 'DELETE', headers: { authorization }, signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
    if (res.status !== 204 && res.status !== 404) throw new Error(`EMQX answered ${res.status} to the kick-out of a client`);
  };
}

/** The hooks as an Express router, with `close()` to stop listening for revocations. */
export type EmqxHttpHandlers = Router & { close(): void };

export function createEmqxHttpHandlers(authorizer: RealtimeAuthorizer, options: EmqxHttpOptions = {}): EmqxHttpHandlers {
  const router = express.Router() as EmqxHttpHandlers;
  const { kickOut } = options;
  // EMQX does not tell us about disconnects: clients are tracked until their token expires.
  const live = kickOut
    ? trackLiveSessions<string>(authorizer, (clientId) => {
        kickOut(clientId).catch((err: unknown) => options.logger?.error('gatehouse: EMQX kick-out failed', { error: err instanceof Error ? err.message : String(err) }));
      })
    : undefined;
  let lastPrune = Date.now();
  router.close = () => live?.close();
  // The bodies are a few hundred bytes; a small limit keeps a misconfigured or
  // hostile caller from making us buffer much.
  router.use(express.json({ limit: '16kb' }));

  /** The session for the CONNECT credentials, or null when they are refused. */
  const tryAuthenticate = (clientId: string, username: string, password?: string | null): RealtimeSession | null => {
    try {
      return authorizer.authenticate(clientId, username, password);
    } catch (err) {
      if (isRealtimeAuthError(err)) return null;
      throw err;
    }
  };

  router.post('/authn', (req, res) => {
    const body = authnBody.safeParse(req.body);
    if (!body.success) return void res.status(400).json({ error: 'invalid_request' });
    const session = tryAuthenticate(body.data.clientid, body.data.username, body.data.password);
    if (session && live) {
      if (Date.now() - lastPrune > 60_000) {
        lastPrune = Date.now();
        live.pruneExpired();
      }
      live.add(session.clientId, session);
    }
    const answer: EmqxAuthnResponse = session
      ? { result: 'allow', is_superuser: false, expire_at: Math.floor(session.expiresAt / 1000) }
      : { result: 'deny', is_superuser: false };
    res.json(answer);
  });

  // EMQX's authorization request carries the username but not the password, so
  // the token is verified again on every check: that also enforces expiry.
  router.post('/authz', (req, res) => {
    const body = authzBody.safeParse(req.body);
    if (!body.success) return void res.status(400).json({ error: 'invalid_request' });
    const { clientid, username, topic, action } = body.data;
    const session = tryAuthenticate(clientid, username);
    const allowed = session !== null && (action === 'publish' ? authorizer.canPublish(session, topic) : authorizer.canSubscribe(session, topic));
    const answer: EmqxAuthzResponse = { result: allowed ? 'allow' : 'deny' };
    res.json(answer);
  });

  // Body-parser failures carry a 4xx `status`; anything else is ours. Either way
  // EMQX treats a non-200 as `ignore`, and the body never echoes the request.
  const onError: ErrorRequestHandler = (err: unknown, _req, res, next) => {
    if (res.headersSent) return next(err);
    const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    if (status >= 500) options.logger?.error('gatehouse: EMQX hook failed unexpectedly', { error: err instanceof Error ? err.message : String(err) });
    res.status(status >= 400 && status < 500 ? status : 500).json({ error: status >= 500 ? 'internal_error' : 'invalid_request' });
  };
  router.use(onError);

  return router;
}
