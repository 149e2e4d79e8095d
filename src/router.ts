import express, { type Router } from 'express';
import { createServices, type Services } from './core/index.js';
import { AuthError } from './errors.js';
import { RevocationCache } from './core/revocation-cache.js';
import { PurgeScheduler } from './core/purge-scheduler.js';
import { AuditLog } from './core/audit.js';
import { Throttle } from './core/throttle.js';
import { createPairTransport } from './http/cookies.js';
import { mountEndpoints } from './http/endpoint.js';
import { createGuard, type RequireAuthOptions } from './http/guard.js';
import { sendProblem, toAuthError } from './http/problem.js';
import { buildOpenApiDocument, errorFormat, jwksRoute, openApiRoute, type OpenApiDocument } from './http/openapi.js';
import { createIdentityProviders } from './identity/index.js';
import { resolveOptions, type AuthRouterOptions } from './options.js';
import { OutboxWorker } from './core/outbox-worker.js';
import { MFA_ENROLL_PATH, withEnrollPath } from './core/org-policies.js';
import { createRealtimeAuthorizer, type RealtimeAuthorizer, type RealtimeRevocationSource } from './realtime/authorizer.js';

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
  /** The OpenAPI 3.1 document of the mounted routes (also served at GET /openapi.json), for a router mounted at `basePath`. */
  openApiDocument(basePath?: string): OpenApiDocument;
  /** Resolves once storage is migrated and revocations are loaded; requests wait for it on their own. */
  ready(): Promise<void>;
  /**
   * An authorizer for a broker in this process (`attachAuthorizer`, the EMQX hooks) that
   * checks this router's revocation list on CONNECT and every publish/subscribe (in
   * memory, as `requireAuth` does), and tells the bindings of new revocations so they
   * end live connections. CONNECTs answer "server unavailable" until the list is loaded.
   */
  realtimeAuthorizer(): RealtimeAuthorizer;
  /**
   * Stops background polling (and closes the storage's revocation notifications, the
   * PostgreSQL LISTEN connection) and ends the password-hashing worker threads (of the
   * default hasher; a hasher you passed in is yours to close). Resolves once the
   * threads have exited. Does not close the storage you passed in.
   */
  close(): Promise<void>;
}

/** Builds the auth router. Options are checked here: a bad option throws at startup, not on the first request. */
export function createAuthRouter(options: AuthRouterOptions): AuthRouter {
  const resolved = resolveOptions(options);
  const { storage, tokens, clock, logger } = resolved;
  const revocations = new RevocationCache(storage, clock, logger, {
    pollIntervalMs: resolved.pollIntervalMs,
    maxStalenessMs: resolved.maxStalenessMs,
    // Realtime credentials minted until the next poll must stay refused until they expire.
    minLifetimeMs: resolved.realtime === null ? 0 : resolved.realtime.ttl * 1000 + resolved.pollIntervalMs,
  });
  const ctx = {
    storage,
    tokens,
    passwords: resolved.passwords,
    clock,
    logger,
    throttle: new Throttle(resolved.throttle, resolved.mailLimits, storage.rateLimiterFactory?.()),
    revocations,
    config: resolved.config,
    audit: new AuditLog(storage, clock, logger, resolved.audit),
  };
  const identity = createIdentityProviders(resolved, clock, logger);
  const defaults = createServices(ctx, { mfa: resolved.mfa, realtime: resolved.realtime, identity, mail: resolved.mail, onMailQueued: () => mailWorker.kick(), passkeys: resolved.passkeys, webhooks: resolved.webhooks, webhookHooks: {
      onQueued: () => webhookWorker.kick(),
      // Disabled after too many failures: the organization's admins read why in the audit log.
      onEndpointDisabled: async (tx, { endpoint, reason }) => {
        await ctx.audit.record(tx, { client: undefined, orgId: endpoint.orgId, actor: { type: 'system', id: null }, action: 'webhook.disabled', target: { type: 'webhook', id: endpoint.id }, data: { reason } });
      },
    },
  });
  const services = resolved.overrideServices ? resolved.overrideServices(defaults) : defaults;
  // Every audited action queues its organization's webhook deliveries in the action's own transaction.
  ctx.audit.onRecorded((tx, event) => services.webhooks.enqueue(tx, event));
  const mailWorker = new OutboxWorker(() => services.mail.deliverPending(), resolved.mail.worker.intervalMs, logger, 'mail outbox');
  const webhookWorker = new OutboxWorker(() => services.webhooks.deliverPending(), resolved.webhooks.worker.intervalMs, logger, 'webhook outbox');
  // One instance of those sharing the store runs each purge (a lease in storage).
  const purger = resolved.purge === null ? null : new PurgeScheduler(storage, clock, logger, { ...resolved.purge, audit: ctx.audit });
  let closed = false;

  let starting: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    if (revocations.isLoaded) return Promise.resolve();
    // A failed start (database down) is retried by the next request rather than cached.
    starting ??= (async () => {
      await storage.init?.();
      await revocations.start();
      if (!closed && resolved.mail.worker.autoStart) mailWorker.start();
      if (!closed && resolved.webhooks.worker.autoStart) webhookWorker.start();
      if (!closed) purger?.start();
    })().catch((err: unknown) => {
      starting = undefined;
      throw err;
    });
    return starting;
  };

  // A broker has no request to wait on ready(): asking whether the list is loaded (re)starts loading it.
  const realtimeRevocations: RealtimeRevocationSource = {
    get isLoaded() {
      if (!revocations.isLoaded) ready().catch((err: unknown) => logger.warn('gatehouse: could not load revocations', { error: (err as Error).message }));
      return revocations.isLoaded;
    },
    has: (kind, key) => revocations.has(kind, key),
    assertFresh: () => revocations.assertFresh(),
    onRevoke: (listener) => revocations.onRevoke(listener),
  };

  const requireAuth = createGuard({
    sessions: services.sessions,
    apiKeys: services.apiKeys,
    verification: tokens.verification(),
    requireTenantId: resolved.requireTenantId,
    tokenCacheMax: resolved.tokenCacheMax,
    logger,
    ready,
    errorBody: resolved.preset.errorBody,
    assertFresh: (authTime) => services.stepUp.assertFresh(authTime),
    permissions: {
      known: resolved.config.permissions.known,
      cached: (auth) => services.orgRoles.cachedPermissionsOf(auth),
      load: (auth) => services.orgRoles.permissionsOf(auth),
    },
  });
  const { preset } = resolved;
  // `mfa_enrollment_required` names the enrollment route as this router serves it (mount path and preset prefix).
  const enroll: { route?: string } = {};
  const writeError = (res: express.Response, err: unknown) => sendProblem(res, withEnrollPath(toAuthError(err, logger), res.req.baseUrl, enroll.route), preset.errorBody);
  const router = express.Router() as AuthRouter;

  const jwks = tokens.jwks();
  if (jwks) router.get('/.well-known/jwks.json', (_req, res) => void res.json(jwks));

  const features = { google: resolved.google !== null, realtime: services.realtime !== null, externalIssuers: services.identities.externalEnabled, passkeys: services.passkeys !== null };
  const endpoints = preset.endpoints({ services, features, cookies: createPairTransport(resolved.cookies) });
  enroll.route = endpoints.find((ep) => ep.method === 'post' && ep.path.endsWith(`/${MFA_ENROLL_PATH}`))?.path;
  const documented = [...endpoints, ...(jwks ? [jwksRoute] : []), openApiRoute];
  const openApiDocument = (basePath = '') =>
    buildOpenApiDocument(documented, { basePath, requireTenantId: resolved.requireTenantId, errors: errorFormat(preset.errorBody), title: `gatehouse auth API (${preset.name})` });
  router.get('/openapi.json', (req, res) => void res.json(openApiDocument(req.baseUrl)));

  mountEndpoints(router, endpoints, {
    guards: { jwt: requireAuth({ accept: ['jwt'] }), any: requireAuth(), endsSession: requireAuth({ accept: ['jwt'] }, { acceptRevoked: true }) },
    ready,
    writeError,
    assertFresh: (auth) => services.stepUp.assertFresh(auth.authTime),
  });
  if (preset.ownsMountPath) router.use((_req, res) => writeError(res, new AuthError('not_found', 'no such route')));
  // What fails before a handler runs (a path parameter Express cannot percent-decode)
  // is answered in the preset's format too. Only errors raised inside this router get
  // here: Express passes an error on to error handlers only (four arguments), so a
  // host's error never enters the router, even one mounted at the root.
  router.use(((err, _req, res, next) => {
    if (res.headersSent) return next(err);
    writeError(res, err);
  }) satisfies express.ErrorRequestHandler);

  return Object.assign(router, {
    // Without the internal second argument: hosts get the public options only.
    requireAuth: (options?: RequireAuthOptions) => requireAuth(options),
    services,
    openApiDocument,
    ready,
    realtimeAuthorizer: () => createRealtimeAuthorizer({ tokens, clock, revocations: realtimeRevocations, tokenCache: { max: resolved.tokenCacheMax } }),
    close: async () => {
      closed = true;
      await revocations.stop();
      await mailWorker.stop();
      await webhookWorker.stop();
      await purger?.stop();
      return resolved.closePasswords();
    },
  });
}
