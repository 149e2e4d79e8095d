import type { RequestHandler } from 'express';
import passport from 'passport';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import jwt from 'jsonwebtoken';
import { AuthError } from '../errors.js';
import type { Clock, JwtVerification, Logger, Role, TokenClaims } from '../ports.js';
import type { Sessions } from '../core/sessions.js';
import type { AuthContext } from './auth-context.js';
import { sendProblem, toAuthError } from './problem.js';

export interface RequireAuthOptions {
  /** Only these roles (in the org the credentials are scoped to) may pass; others get 403. */
  roles?: Role[];
}

const STRATEGY = 'gatehouse-jwt';

/**
 * Builds `requireAuth()`: passport-jwt checks signature, algorithm, issuer, audience
 * and expiry; the verify callback adds the token type, expiry by the configured clock
 * and the in-memory revocation list. A private Passport instance keeps the host app's own passport untouched.
 */
export function createGuard(deps: {
  sessions: Sessions;
  verification: JwtVerification;
  clock: Clock;
  logger: Logger;
  ready: () => Promise<void>;
}) {
  const instance = new passport.Passport();
  const { key, algorithms, issuer, audience } = deps.verification;
  instance.use(
    STRATEGY,
    new JwtStrategy(
      {
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        secretOrKeyProvider: (_req, _raw, done) => done(null, key as string),
        algorithms,
        issuer,
        audience,
      },
      (payload: TokenClaims, done: (err: unknown, user?: AuthContext | false) => void) => {
        try {
          done(null, toAuthContext(deps.sessions.checkAccessClaims(payload)));
        } catch (err) {
          done(err);
        }
      },
    ),
  );

  return function requireAuth(options: RequireAuthOptions = {}): RequestHandler {
    const roles = options.roles;
    return (req, res, next) => {
      const fail = (err: AuthError) => {
        if (err.status === 401) {
          const error = err.code === 'missing_token' ? '' : `, error="invalid_token", error_description="${err.message}"`;
          res.setHeader('WWW-Authenticate', `Bearer realm="gatehouse"${error}`);
        }
        sendProblem(res, err);
      };
      deps
        .ready()
        .then(() => {
          instance.authenticate(STRATEGY, { session: false }, (err: unknown, auth: AuthContext | false, info: unknown) => {
            if (err) return fail(toAuthError(err, deps.logger));
            if (!auth) return fail(fromPassportInfo(info));
            if (roles && (auth.role === null || !roles.includes(auth.role))) {
              return fail(new AuthError('forbidden', `this needs one of the roles: ${roles.join(', ')}`));
            }
            req.auth = auth;
            next();
          })(req, res, next);
        })
        .catch((err: unknown) => fail(toAuthError(err, deps.logger)));
    };
  };
}

function toAuthContext(access: ReturnType<Sessions['checkAccessClaims']>): AuthContext {
  return {
    userId: access.userId,
    orgId: access.orgId,
    role: access.role,
    tokenId: access.tokenId,
    via: 'jwt',
    sessionId: access.familyId,
    expiresAt: access.expiresAt,
  };
}

function fromPassportInfo(info: unknown): AuthError {
  if (info instanceof jwt.TokenExpiredError) return new AuthError('token_expired', 'the access token has expired; refresh it');
  if (info instanceof Error && info.message === 'No auth token') {
    return new AuthError('missing_token', 'send an access token as `Authorization: Bearer <token>`');
  }
  return new AuthError('invalid_token', 'the access token is malformed, has a bad signature or wrong claims');
}

export type RequireAuth = ReturnType<typeof createGuard>;
