import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Compact HS256 JWS, signed and checked here rather than by jsonwebtoken for the default
 * issuer's secret: the header of each kind of token is encoded once, and what jsonwebtoken
 * adds per call (option and claim validation, payload copies, jws's string handling) was
 * about half the cost of making a token and most of checking one (a refresh checks one and
 * makes two). The bytes, and what is accepted, are jsonwebtoken's: the tests compare them.
 */

/** `header.payload.signature`, base64url without padding, as jws accepts it. */
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function signHs256(encodedHeader: string, payload: object, key: KeyObject): string {
  const signingInput = `${encodedHeader}.${Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput, 'utf8').digest('base64url')}`;
}

/** Why a token was refused: `expired` becomes `token_expired`, anything else `invalid_token`. */
export class Hs256Refusal extends Error {
  constructor(readonly expired: boolean) {
    super(expired ? 'expired' : 'invalid');
  }
}

export interface RegisteredClaimChecks {
  issuer: string;
  /** Undefined: `aud` is not checked. */
  audience: string | undefined;
  /** Seconds since the epoch. */
  now: number;
}

/**
 * The token's header and claims once its MAC, `alg` and registered claims hold, checked as
 * `jwt.verify(token, key, { algorithms: ['HS256'], issuer, audience, clockTimestamp })`
 * checks them: `nbf` and `exp` when present (numbers; `exp` is past from its second on),
 * `iss` equal, `aud` (a string or a list) naming ours. The MAC is compared as its base64url
 * text, so another encoding of the same bytes is refused, and is checked before any JSON
 * is parsed.
 */
export function verifyHs256(token: string, key: KeyObject, checks: RegisteredClaimChecks): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  if (!COMPACT.test(token)) throw new Hs256Refusal(false);
  const end = token.lastIndexOf('.');
  const expected = Buffer.from(createHmac('sha256', key).update(token.slice(0, end), 'utf8').digest('base64url'), 'latin1');
  const given = Buffer.from(token.slice(end + 1), 'latin1');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Hs256Refusal(false);
  const start = token.indexOf('.');
  const header = jsonObject(token.slice(0, start));
  const payload = jsonObject(token.slice(start + 1, end));
  if (header.alg !== 'HS256') throw new Hs256Refusal(false);
  const { nbf, exp, iss, aud } = payload;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > checks.now)) throw new Hs256Refusal(false);
  if (exp !== undefined) {
    if (typeof exp !== 'number') throw new Hs256Refusal(false);
    if (checks.now >= exp) throw new Hs256Refusal(true);
  }
  if (checks.audience !== undefined && !(aud === checks.audience || (Array.isArray(aud) && aud.includes(checks.audience)))) throw new Hs256Refusal(false);
  if (iss !== checks.issuer) throw new Hs256Refusal(false);
  return { header, payload };
}

function jsonObject(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new Hs256Refusal(false);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Hs256Refusal(false);
  return value as Record<string, unknown>;
}
