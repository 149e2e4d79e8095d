import express, { type Router } from 'express';
import { createServices, type Services } from './core/index.js';
import { AuthError } from './errors.js';
import { RevocationCache } from './core/revocation-cache.js';
import { Throttle } from './core/throttle.js';
import { mountEndpoints } from './http/endpoint.js';
import { createGuard, type RequireAuthOptions } from './http/guard.js';
import { problemHandler, sendProblem, toAuthError } from './http/problem.js';
import { accountEndpoints } from './http/routes/accounts.js';
import { apiKeyEndpoints } from './http/routes/api-keys.js';
import { mfaEndpoints } from './http/routes/mfa.js';
import { realtimeEndpoints } from './http/routes/realtime.js';
import { orgEndpoints } from './http/routes/orgs.js';
import { resolveOptions, type AuthRouterOptions } from './options.js';

export interface AuthRouter extends Router {
  /**
   * Middleware for the host app's own routes: accepts a valid, unrevoked access token
   * (or, unless `accept` says otherwise, an API key with its tenant id) and sets
   * `req.auth`; 401 (with `WWW-Authenticate: Bearer`) without one, 403 when `roles` is
   * given and the credential's role is not among them.
   */
  requireAuth(options?: RequireAuthOptions): express.RequestHandler;
  /** The business rules behind the routes, for use from the host app (for example in scripts or admin tools). */
  services: Services;
  /** Resolves once storage is migrated and revocations are loaded; requests wait for it on their own. */
  ready(): Promise<void>;
  /** Stops background polling. Does not close the storage you passed in. */
  close(): void;
}

/** Builds the auth router. Options are checked here: a bad option throws at startup, not on the first request. */
export function createAuthRouter(options: AuthRouterOptions): AuthRouter {
  const resolved = resolveOptions(options);
  const { storage, tokens, clock, logger } = resolved;
  const revocations = new RevocationCache(storage, clock, logger, { pollIntervalMs: resolved.pollIntervalMs, maxStalenessMs: resolved.maxStalenessMs });
  const ctx = {
    storage,
    tokens,
    passwords: resolved.passwords,
    clock,
    logger,
    throttle: new Throttle(resolved.throttle),
    revocations,
    config: resolved.config,
  };
  const defaults = createServices(ctx, { mfa: resolved.mfa, realtime: resolved.realtime });
  const services = resolved.overrideServices ? resolved.overrideServices(defaults) : defaults;

  let starting: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    if (revocations.isLoaded) return Promise.resolve();
    // A failed start (database down) is retried by the next request rather than cached.
    starting ??= (async () => {
      await storage.init?.();
      await revocations.start();
    })().catch((err: unknown) => {
      starting = undefined;
      throw err;
    });
    return starting;
  };

  const requireAuth = createGuard({
    sessions: services.sessions,
    apiKeys: services.apiKeys,
    verification: tokens.verification(),
    requireTenantId: resolved.requireTenantId,
    logger,
    ready,
  });
  const router = express.Router() as AuthRouter;
  router.use(express.json({ limit: '32kb', type: ['application/json', 'application/*+json'] }));
  router.use((_req, res, next) => {
    ready().then(
      () => next(),
      (err: unknown) => sendProblem(res, toAuthError(err, logger)),
    );
  });

  const jwks = tokens.jwks();
  if (jwks) router.get('/.well-known/jwks.json', (_req, res) => void res.json(jwks));

  mountEndpoints(
    router,
    [
      ...accountEndpoints(services),
      ...orgEndpoints(services),
      ...apiKeyEndpoints(services),
      ...mfaEndpoints(services),
      ...(services.realtime ? realtimeEndpoints(services.realtime) : []),
    ],
    { jwt: requireAuth({ accept: ['jwt'] }), any: requireAuth() },
  );
  router.use((_req, res) => sendProblem(res, new AuthError('not_found', 'no such route')));
  router.use(problemHandler(logger));

  return Object.assign(router, {
    requireAuth,
    services,
    ready,
    close: () => revocations.stop(),
  });
}
