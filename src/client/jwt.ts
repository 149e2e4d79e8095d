/** Claims of a gatehouse access token that a client may read (never trust them for access decisions). */
export interface AccessClaims {
  sub: string;
  org: string | null;
  role: string | null;
  jti: string;
  iat: number;
  exp: number;
  /** Lifetime in seconds. */
  exi?: number;
  /** Epoch seconds of the sign-in (or `reauthenticate`) behind the token, for routes that need a recent one. */
  auth_time?: number;
  [claim: string]: unknown;
}

/**
 * Decodes a JWT payload without verifying it: the client only needs the lifetime
 * and scope to schedule refreshes and show who is signed in; the server verifies.
 * Uses atob and TextDecoder, present in browsers and Node 20 alike.
 */
export function decodeJwtPayload(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (part === undefined || part === '') throw new TypeError('not a JWT');
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new TypeError('JWT payload is not an object');
  return payload as Record<string, unknown>;
}

/**
 * How long a token lives, in ms, from the moment it was received. `exi` (lifetime)
 * is preferred over `exp - now`, so a device whose clock is off still refreshes in time.
 */
export function lifetimeMs(claims: Record<string, unknown>, now: number): number {
  if (typeof claims.exi === 'number' && claims.exi > 0) return claims.exi * 1000;
  if (typeof claims.exp === 'number' && typeof claims.iat === 'number') return (claims.exp - claims.iat) * 1000;
  if (typeof claims.exp === 'number') return Math.max(0, claims.exp * 1000 - now);
  return 0;
}
