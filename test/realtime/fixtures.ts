import { expect } from 'chai';
import { RealtimeAuthError, type RealtimeAuthErrorCode } from '../../src/realtime/authorizer.js';
import { createJwtTokenIssuer } from '../../src/tokens/jwt-issuer.js';
import type { Clock, TokenIssuer } from '../../src/ports.js';

export const SECRET = 'realtime-test-secret-that-is-long-enough-0123456789';
export const NAMESPACE = 'axonpush';

export interface RealtimeGrant {
  token: string;
  clientId: string;
  prefix: string;
  userId: string;
  orgId: string;
  jti: string;
  exp: number;
}

/** Signs a realtime token the way the HTTP side does (`tp` = `<namespace>/<org>`). */
export async function grant(
  issuer: TokenIssuer,
  orgId: string,
  { userId = 'user-1', ttl = 300, clientId = `u-${orgId}-${Math.random().toString(36).slice(2, 10)}` } = {},
): Promise<RealtimeGrant> {
  const prefix = `${NAMESPACE}/${orgId}`;
  const signed = await issuer.sign({ usefor: 'realtime', sub: userId, ttl, claims: { org: orgId, tp: prefix, cid: clientId } });
  return { token: signed.token, clientId, prefix, userId, orgId, jti: signed.jti, exp: signed.exp };
}

export function makeIssuer(clock?: Clock): TokenIssuer {
  return createJwtTokenIssuer({ secret: SECRET, ...(clock ? { clock } : {}) });
}

/** An issuer whose clock is an hour behind: its tokens are already expired. */
export function pastIssuer(): TokenIssuer {
  return makeIssuer({ now: () => Date.now() - 3_600_000 });
}

/** The code of the RealtimeAuthError `fn` throws; fails the test when it throws nothing or something else. */
export function codeOf(fn: () => unknown): RealtimeAuthErrorCode {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(RealtimeAuthError);
    return (err as RealtimeAuthError).code;
  }
  throw new Error('expected a RealtimeAuthError');
}
