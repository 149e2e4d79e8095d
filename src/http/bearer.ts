import type { Request } from 'express';
import { AuthError } from '../errors.js';

// RFC 6750 §2.1: the scheme, spaces, and exactly one b64token (a second token, a comma or a quote make the header malformed).
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const BEARER_SCHEME = /^Bearer(?:[ \t]|$)/i;

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(req: Request): string | undefined {
  return BEARER.exec(req.headers.authorization ?? '')?.[1];
}

/**
 * passport-jwt's `jwtFromRequest`: the Bearer token; null (a missing token) without an
 * Authorization header of the Bearer scheme; and `invalid_token` for a Bearer header that
 * does not hold exactly one token. passport-jwt's own extractor splits on whitespace and
 * takes the second part, so `Bearer <a> <b>` would pass with token a.
 */
export function bearerTokenForGuard(req: Request): string | null {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  const match = BEARER.exec(header);
  if (match) return match[1] as string;
  if (BEARER_SCHEME.test(header)) throw new AuthError('invalid_token', 'the Authorization header must be `Bearer` followed by exactly one token');
  return null;
}
