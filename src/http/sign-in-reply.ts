import type { SignInResult } from '../core/accounts.js';
import { AuthError } from '../errors.js';
import { pairView } from './views.js';

/**
 * The answer to any primary sign-in: the pair, or 403 `mfa_required` carrying the
 * `mfa_token` to present at /mfa/verify with a second factor.
 */
export function signInReply(result: SignInResult, extra: Record<string, unknown> = {}) {
  if (result.kind === 'mfa_required') {
    throw new AuthError('mfa_required', 'a second factor is needed: send mfa_token with a code to mfa/verify', { mfa_token: result.mfaToken });
  }
  return { status: 200, body: { ...pairView(result.tokens), ...extra } };
}
