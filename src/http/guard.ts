import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Strategy as JwtStrategy } from 'passport-jwt';
import type { Strategy } from 'passport-strategy';
import jwt from 'jsonwebtoken';
import { AuthError } from '../errors.js';
import type { JwtVerification, Logger, Role, TokenClaims } from '../ports.js';
import type { ApiKeys, ApiKeyPrincipal } from '../core/api-keys.js';
import type { AccessContext, Sessions } from '../core/sessions.js';
import { VerifiedTokenCache } from '../tokens/verified-token-cache.js';
import { apiKeyCredentials, ApiKeyStrategy } from './api-key-strategy.js';
import type { AuthContext } from './auth-context.js';
import { bearerToken, bearerTokenForGuard } from './bearer.js';
import { RequestClient } from './request-client.js';
import { setRequestAuth } from './request-auth.js';
import { sendProblem, toAuthError, type ErrorBodyWriter } from './problem.js';

export type Credential = 'jwt' | 'api_key';

export interface RequireAuthOptions {
  /** Only these roles (in the org the credentials are scoped to) may pass; others get 403. */
  roles?: Role[];
  /** Which credentials are accepted. Default both: a Bearer access token or `X-API-Key` + `X-Tenant-Id`. */
  accept?: Credential[];
  /**
   * Only tokens from a per-application sign-in pass: `true` for any application, or an
   * application id for that one. Other credentials get 403.
   */
  application?: true | string;
  /**
   * Only an access token whose sign-in (`auth_time`) is within `stepUp.maxAge` passes,
   * for the host's own sensitive changes; others (and API keys) get 403
   * `reauthentication_required`, and the client calls POST /reauthenticate.
   */
  stepUp?: boolean;
  /**
   * Only a credential holding every one of these permissions (names from the `permissions`
   * option) in its org passes; others get 403 `permission_denied` naming the first one
   * missing. They are read from memory (loaded at most once per revocation poll interval
   * per member) and set on `req.auth.permissions`; `[]` only sets them.
   */
  permissions?: string[];
}

/** Resolves the permissions of `req.auth` (the org-roles service): from memory, or from storage when not loaded. */
export interface GuardPermissions {
  known: ReadonlySet<string>;
  cached(auth: AuthContext): readonly string[] | undefined;
  load(auth: AuthContext): Promise<readonly string[]>;
}

/** What the router's own routes add to `requireAuth` options; not part of the public options. */
export interface InternalGuardOptions {
  /**
   * A revoked (but validly signed, unexpired, typed) access token passes: for the route
   * that ends a session, so a retried logout answers as the first one did.
   */
  acceptRevoked?: boolean;
}

const JWT = 'gatehouse-jwt';
const JWT_EVEN_REVOKED = 'gatehouse-jwt-even-revoked';
const API_KEY = 'gatehouse-api-key';

/** What passport-jwt hands the verify callback with `complete: true`: the decoded header and claims. */
interface DecodedJwt {
  header: { typ?: unknown };
  payload: TokenClaims;
}

/**
 * Builds `requireAuth()`. The Bearer header must hold exactly one token (bearer.ts);
 * passport-jwt checks signature, algorithm, issuer, audience and expiry, and the verify
 * callback adds the token type (`typ` header and `usefor` claim), expiry by the configured
 * clock and the in-memory revocation list; API keys go through ApiKeyStrategy. The
 * strategies are run by `strategyRunner` below rather than registered with passport, so
 * the host app's own passport is untouched.
 *
 * A token that passed all of that is kept in `verified` (by its exact string, until it
 * expires), and its next requests skip passport-jwt: only the checks that can change over
 * a token's life run again, expiry by the clock and revocation (`sessions.checkAccess`).
 * A key already verified is answered the same way, from the API-key service's cache.
 */
export function createGuard(deps: {
  sessions: Sessions;
  apiKeys: ApiKeys;
  verification: JwtVerification;
  requireTenantId: boolean;
  logger: Logger;
  ready: () => Promise<void>;
  /** Most verified access tokens kept (`tokenCache.max`); 0: none. Default 10,000. */
  tokenCacheMax?: number;
  errorBody?: ErrorBodyWriter;
  /** Throws `reauthentication_required` unless `authTime` is recent enough (for `stepUp`). */
  assertFresh?: (authTime: number | undefined) => void;
  /** For `permissions`. */
  permissions?: GuardPermissions;
}) {
  const { key, algorithms, issuer, audience, accessTokenType } = deps.verification;
  // The verification key is fixed for the guard's life (`verification` is read once), so
  // an entry never outlives the key that verified it.
  const verified = new VerifiedTokenCache<AccessContext>(deps.tokenCacheMax);
  const jwtStrategy = (acceptRevoked: boolean) =>
    new JwtStrategy(
      {
        jwtFromRequest: bearerTokenForGuard,
        secretOrKeyProvider: (_req, _raw, done) => done(null, key as string),
        algorithms,
        issuer,
        audience,
        // The decoded header comes along at no cost (jsonwebtoken decodes it anyway), for the `typ` check.
        jsonWebTokenOptions: { complete: true },
        passReqToCallback: true,
      },
      (req: Request, { header, payload }: DecodedJwt, done: (err: unknown, user?: AuthContext | false) => void) => {
        let access: AccessContext;
        try {
          // A refresh, MFA or realtime token is refused by its `typ` here and by `usefor` in checkAccessClaims.
          if (accessTokenType !== undefined && header.typ !== accessTokenType) throw new AuthError('invalid_token', 'this is not an access token');
          access = deps.sessions.checkAccessClaims(payload, acceptRevoked);
        } catch (err) {
          return done(err);
        }
        // Only now, with every check passed, is the token remembered.
        const token = bearerToken(req);
        if (token !== undefined) verified.set(token, access);
        // The common case answers in the same tick: no promise per request.
        if (!deps.sessions.resolvesSubject) return done(null, fromAccess(access));
        deps.sessions.resolveSubject(access).then(
          (resolved) => done(null, fromAccess(resolved)),
          (err: unknown) => done(err),
        );
      },
    );
  const apiKeyOptions = { requireTenantId: deps.requireTenantId };
  const apiKeyStrategy = new ApiKeyStrategy((k, tenant, req) => deps.apiKeys.authenticate(k, tenant, new RequestClient(req)).then(fromApiKey), apiKeyOptions);

  const runners: Record<string, Runner> = {
    [JWT]: strategyRunner(jwtStrategy(false)),
    [JWT_EVEN_REVOKED]: strategyRunner(jwtStrategy(true)),
    [API_KEY]: strategyRunner(apiKeyStrategy),
  };
  const fail = (res: Response, err: AuthError, strategy: string) => {
    if (err.status === 401 && strategy !== API_KEY) {
      const error = err.code === 'missing_token' ? '' : `, error="invalid_token", error_description="${err.message}"`;
      res.setHeader('WWW-Authenticate', `Bearer realm="gatehouse"${error}`);
    }
    sendProblem(res, err, deps.errorBody);
  };
  let isReady = false;

  /**
   * The request's access token when it was verified before, after the checks that run on
   * every request (expiry by the clock, revocation), which throw the refusal. Undefined
   * when it was not, or is past its `exp` in real time (what passport-jwt judges by): then
   * passport-jwt verifies it in full.
   */
  const cachedAccess = (req: Request, acceptRevoked: boolean): AccessContext | undefined => {
    const header = req.headers.authorization;
    if (header === undefined) return undefined;
    const now = Date.now();
    // `Bearer <token>` as clients send it finds a verified token without parsing the
    // header: a hit is the very string that passed verification, so the header holds
    // exactly one well-formed token. Any other form is parsed (and refused) first.
    let access = header.startsWith('Bearer ') ? verified.get(header.slice(7), now) : undefined;
    if (access === undefined) {
      const token = bearerTokenForGuard(req);
      access = token === null ? undefined : verified.get(token, now);
    }
    if (access !== undefined) deps.sessions.checkAccess(access, acceptRevoked);
    return access;
  };

  /** The same for an API key, from the API-key service's cache. */
  const cachedKey = (req: Request): ApiKeyPrincipal | undefined => {
    const { key: apiKey, tenantId } = apiKeyCredentials(req, apiKeyOptions);
    return deps.apiKeys.authenticateCached(apiKey, tenantId, new RequestClient(req));
  };

  return function requireAuth(options: RequireAuthOptions = {}, internal: InternalGuardOptions = {}): RequestHandler {
    const { roles, application } = options;
    const required = checkedPermissions(options.permissions, deps.permissions);
    const acceptsKey = (options.accept ?? ['jwt', 'api_key']).includes('api_key');
    const acceptsJwt = (options.accept ?? ['jwt', 'api_key']).includes('jwt');
    const jwtRunner = internal.acceptRevoked ? JWT_EVEN_REVOKED : JWT;

    /** The checks of this route's options, then `req.auth` and on to the next handler. */
    const admit = (req: Request, res: Response, next: NextFunction, auth: AuthContext, strategy: string): void => {
      if (application !== undefined && (auth.appId === undefined || (application !== true && auth.appId !== application))) {
        return fail(res, new AuthError('forbidden', 'this needs a token from signing in to the application'), strategy);
      }
      if (roles && (auth.role === null || !roles.includes(auth.role))) {
        return fail(res, new AuthError('forbidden', `this needs one of the roles: ${roles.join(', ')}`), strategy);
      }
      if (options.stepUp) {
        try {
          if (!deps.assertFresh) throw new AuthError('reauthentication_required', 'this change needs a recent sign-in');
          deps.assertFresh(auth.authTime);
        } catch (err) {
          return fail(res, toAuthError(err, deps.logger), strategy);
        }
      }
      // Resolved only on routes that ask: the others pay nothing for permissions.
      if (required !== undefined) {
        const held = (deps.permissions as GuardPermissions).cached(auth);
        if (held !== undefined) return grant(req, res, next, auth, strategy, held);
        (deps.permissions as GuardPermissions).load(auth).then(
          (loaded) => grant(req, res, next, auth, strategy, loaded),
          (err: unknown) => fail(res, toAuthError(err, deps.logger), strategy),
        );
        return;
      }
      setRequestAuth(req, auth);
      next();
    };

    const grant = (req: Request, res: Response, next: NextFunction, auth: AuthContext, strategy: string, held: readonly string[]): void => {
      const missing = (required as string[]).find((name) => !held.includes(name));
      if (missing !== undefined) return fail(res, new AuthError('permission_denied', `this needs the permission ${missing}`, { permission: missing }), strategy);
      auth.permissions = held;
      setRequestAuth(req, auth);
      next();
    };

    return (req, res, next) => {
      // The credential a request carries picks the strategy, so its failure is reported as is.
      const strategy = req.headers['x-api-key'] !== undefined && acceptsKey ? API_KEY : jwtRunner;
      if (strategy !== API_KEY && !acceptsJwt) {
        return fail(res, new AuthError('missing_token', 'send an API key in `X-API-Key` with `X-Tenant-Id`'), API_KEY);
      }
      // Once storage and revocations are loaded they stay loaded: from then on no promise per
      // request, and credentials verified before are answered without a closure either.
      if (isReady) {
        let access: AccessContext | undefined;
        let principal: ApiKeyPrincipal | undefined;
        try {
          if (strategy === API_KEY) principal = cachedKey(req);
          else access = cachedAccess(req, strategy === JWT_EVEN_REVOKED);
        } catch (err) {
          return fail(res, toAuthError(err, deps.logger), strategy);
        }
        if (principal !== undefined) return admit(req, res, next, fromApiKey(principal), strategy);
        if (access !== undefined) {
          if (!deps.sessions.resolvesSubject) return admit(req, res, next, fromAccess(access), strategy);
          deps.sessions.resolveSubject(access).then(
            (resolved) => admit(req, res, next, fromAccess(resolved), strategy),
            (err: unknown) => fail(res, toAuthError(err, deps.logger), strategy),
          );
          return;
        }
      }
      const done: Done = (err, auth, info) => {
        if (err) return fail(res, toAuthError(err, deps.logger), strategy);
        if (!auth) return fail(res, fromFailure(info), strategy);
        admit(req, res, next, auth, strategy);
      };
      const run = runners[strategy] as Runner;
      if (isReady) {
        try {
          run(req, done);
        } catch (err) {
          fail(res, toAuthError(err, deps.logger), strategy);
        }
        return;
      }
      deps
        .ready()
        .then(() => {
          isReady = true;
          run(req, done);
        })
        .catch((err: unknown) => fail(res, toAuthError(err, deps.logger), strategy));
    };
  };
}

type Done = (err: unknown, auth: AuthContext | false, info: unknown) => void;
type Runner = (req: Request, done: Done) => void;

/** A strategy's object for one request: inherits the strategy, reports to `done`. */
interface Attempt extends Strategy {
  done: Done;
}

/**
 * Runs a passport strategy for one request at a time, as `passport.authenticate(name,
 * { session: false }, callback)` does: on an object inheriting from the strategy whose
 * `success`, `fail` and `error` report to the callback (here defined once, on a shared
 * prototype, rather than as closures per request). What is left out is what
 * passport.authenticate() adds for session logins: seven helpers (`login`, `logout`,
 * `isAuthenticated`, …) set on every request object. That many properties added to a
 * Node request object cost about 40 µs per request in the benchmark (a fifth of a
 * guarded request), for helpers a token guard never uses.
 */
function strategyRunner(strategy: Strategy): Runner {
  const base = Object.create(strategy) as Attempt;
  base.success = function (this: Attempt, user: unknown, info?: unknown) {
    this.done(null, user as AuthContext, info);
  };
  base.fail = function (this: Attempt, challenge?: unknown) {
    this.done(null, false, typeof challenge === 'number' ? undefined : challenge);
  } as Strategy['fail'];
  base.error = function (this: Attempt, err: unknown) {
    this.done(err, false, undefined);
  };
  base.pass = function (this: Attempt) {
    this.done(null, false, undefined);
  };
  base.redirect = function (this: Attempt) {
    this.done(new Error('a token strategy does not redirect'), false, undefined);
  };
  return (req, done) => {
    const attempt = Object.create(base) as Attempt;
    attempt.done = done;
    attempt.authenticate(req, { session: false });
  };
}

/** A new object per request (a handler may change its `req.auth`), built by assignment: a spread costs more. */
function fromAccess(access: AccessContext): AuthContext {
  const auth: AuthContext = {
    userId: access.userId,
    orgId: access.orgId,
    role: access.role,
    tokenId: access.tokenId,
    via: 'jwt',
    sessionId: access.familyId,
    expiresAt: access.expiresAt,
    authTime: access.authTime,
  };
  if (access.appId !== undefined) auth.appId = access.appId;
  return auth;
}

function fromApiKey(principal: ApiKeyPrincipal): AuthContext {
  const auth: AuthContext = {
    userId: principal.userId,
    orgId: principal.orgId,
    role: principal.role,
    tokenId: principal.keyId,
    via: 'api_key',
    apiKeyId: principal.keyId,
    sessionId: undefined,
    expiresAt: principal.expiresAt ?? Number.POSITIVE_INFINITY,
  };
  if (principal.permissions !== undefined) auth.apiKeyPermissions = principal.permissions;
  return auth;
}

/** The `permissions` option of one `requireAuth()`, checked when the route is set up: a typo fails at startup. */
function checkedPermissions(names: unknown, permissions: GuardPermissions | undefined): string[] | undefined {
  if (names === undefined) return undefined;
  if (!Array.isArray(names)) throw new TypeError('requireAuth({ permissions }) must be an array of permission names');
  for (const name of names as unknown[]) {
    if (typeof name !== 'string' || !permissions?.known.has(name)) {
      throw new TypeError(`requireAuth({ permissions }) names ${JSON.stringify(name)}, which is not in the router's \`permissions\` option`);
    }
  }
  return [...(names as string[])];
}

function fromFailure(info: unknown): AuthError {
  if (info instanceof AuthError) return info;
  if (info instanceof jwt.TokenExpiredError) return new AuthError('token_expired', 'the access token has expired; refresh it');
  if (info instanceof Error && info.message === 'No auth token') {
    return new AuthError('missing_token', 'send an access token as `Authorization: Bearer <token>`');
  }
  return new AuthError('invalid_token', 'the access token is malformed, has a bad signature or wrong claims');
}

export type RequireAuth = ReturnType<typeof createGuard>;
