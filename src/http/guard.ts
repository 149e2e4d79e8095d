import type { RequestHandler } from 'express';
import passport from 'passport';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import jwt from 'jsonwebtoken';
import { AuthError } from '../errors.js';
import type { JwtVerification, Logger, Role, TokenClaims } from '../ports.js';
import type { ApiKeys, ApiKeyPrincipal } from '../core/api-keys.js';
import type { AccessContext, Sessions } from '../core/sessions.js';
import { ApiKeyStrategy } from './api-key-strategy.js';
import type { AuthContext } from './auth-context.js';
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
}

const JWT = 'gatehouse-jwt';
const API_KEY = 'gatehouse-api-key';

/**
 * Builds `requireAuth()`. passport-jwt checks signature, algorithm, issuer, audience
 * and expiry, and the verify callback adds the token type, expiry by the configured
 * clock and the in-memory revocation list; API keys go through ApiKeyStrategy. A
 * private Passport instance keeps the host app's own passport untouched.
 */
export function createGuard(deps: {
  sessions: Sessions;
  apiKeys: ApiKeys;
  verification: JwtVerification;
  requireTenantId: boolean;
  logger: Logger;
  ready: () => Promise<void>;
  errorBody?: ErrorBodyWriter;
}) {
  const instance = new passport.Passport();
  const { key, algorithms, issuer, audience } = deps.verification;
  instance.use(
    JWT,
    new JwtStrategy(
      {
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        secretOrKeyProvider: (_req, _raw, done) => done(null, key as string),
        algorithms,
        issuer,
        audience,
      },
      (payload: TokenClaims, done: (err: unknown, user?: AuthContext | false) => void) => {
        let access: AccessContext;
        try {
          access = deps.sessions.checkAccessClaims(payload);
        } catch (err) {
          return done(err);
        }
        deps.sessions.resolveSubject(access).then(
          (resolved) => done(null, fromAccess(resolved)),
          (err: unknown) => done(err),
        );
      },
    ),
  );
  instance.use(API_KEY, new ApiKeyStrategy((k, tenant) => deps.apiKeys.authenticate(k, tenant).then(fromApiKey) as never, { requireTenantId: deps.requireTenantId }));

  return function requireAuth(options: RequireAuthOptions = {}): RequestHandler {
    const { roles } = options;
    const accept = options.accept ?? ['jwt', 'api_key'];
    return (req, res, next) => {
      const fail = (err: AuthError, strategy: string) => {
        if (err.status === 401 && strategy === JWT) {
          const error = err.code === 'missing_token' ? '' : `, error="invalid_token", error_description="${err.message}"`;
          res.setHeader('WWW-Authenticate', `Bearer realm="gatehouse"${error}`);
        }
        sendProblem(res, err, deps.errorBody);
      };
      // The credential a request carries picks the strategy, so its failure is reported as is.
      const strategy = req.headers['x-api-key'] !== undefined && accept.includes('api_key') ? API_KEY : JWT;
      if (strategy === JWT && !accept.includes('jwt')) {
        return fail(new AuthError('missing_token', 'send an API key in `X-API-Key` with `X-Tenant-Id`'), API_KEY);
      }
      deps
        .ready()
        .then(() => {
          instance.authenticate(strategy, { session: false }, (err: unknown, auth: AuthContext | false, info: unknown) => {
            if (err) return fail(toAuthError(err, deps.logger), strategy);
            if (!auth) return fail(fromFailure(info), strategy);
            const { application } = options;
            if (application !== undefined && (auth.appId === undefined || (application !== true && auth.appId !== application))) {
              return fail(new AuthError('forbidden', 'this needs a token from signing in to the application'), strategy);
            }
            if (roles && (auth.role === null || !roles.includes(auth.role))) {
              return fail(new AuthError('forbidden', `this needs one of the roles: ${roles.join(', ')}`), strategy);
            }
            req.auth = auth;
            next();
          })(req, res, next);
        })
        .catch((err: unknown) => fail(toAuthError(err, deps.logger), strategy));
    };
  };
}

function fromAccess(access: AccessContext): AuthContext {
  return {
    userId: access.userId,
    orgId: access.orgId,
    role: access.role,
    tokenId: access.tokenId,
    ...(access.appId === undefined ? {} : { appId: access.appId }),
    via: 'jwt',
    sessionId: access.familyId,
    expiresAt: access.expiresAt,
  };
}

function fromApiKey(principal: ApiKeyPrincipal): AuthContext {
  return {
    userId: principal.userId,
    orgId: principal.orgId,
    role: principal.role,
    tokenId: principal.keyId,
    via: 'api_key',
    apiKeyId: principal.keyId,
    sessionId: undefined,
    expiresAt: principal.expiresAt ?? Number.POSITIVE_INFINITY,
  };
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
