import type { SignInResult } from '../core/accounts.js';
import { AuthError } from '../errors.js';
import { pairInBody, type PairReply } from './cookies.js';
import type { Reply } from './endpoint.js';

/**
 * The answer to any primary sign-in: the pair (in the body, or with the refresh token in a
 * cookie: `reply` from `PairTransport.replier`), or 403 `mfa_required` carrying the
 * `mfa_token` to present at /mfa/verify with a second factor.
 */
export function signInReply(result: SignInResult, extra: Record<string, unknown> = {}, reply: PairReply = pairInBody): Reply {
  if (result.kind === 'mfa_required') {
    throw new AuthError('mfa_required', 'a second factor is needed: send mfa_token with a code to mfa/verify', { mfa_token: result.mfaToken });
  }
  return reply(result.tokens, extra);
}
