import { AuthError } from '../errors.js';
import type { IdentityPackages } from './packages.js';

/** Why a token was refused, in the `reason` member of the problem. */
export type TokenRefusal =
  | 'malformed'
  | 'algorithm'
  | 'unknown_kid'
  | 'signature'
  | 'issuer'
  | 'unknown_issuer'
  | 'audience'
  | 'expired'
  | 'not_yet_valid'
  | 'nonce'
  | 'claims';

type TokenCode = 'invalid_id_token' | 'invalid_external_token';

const messages: Record<TokenRefusal, string> = {
  malformed: 'the token is not a well-formed signed JWT',
  algorithm: 'the token is signed with an algorithm that is not accepted',
  unknown_kid: 'the token names no signing key (kid) the issuer publishes',
  signature: 'the token’s signature is invalid',
  issuer: 'the token was issued by another issuer',
  unknown_issuer: 'the token’s issuer is not accepted',
  audience: 'the token is meant for another audience',
  expired: 'the token has expired',
  not_yet_valid: 'the token is not valid yet',
  nonce: 'the token’s nonce does not match the one sent',
  claims: 'the token’s claims are invalid',
};

export function refused(code: TokenCode, reason: TokenRefusal, message = messages[reason]): AuthError {
  return new AuthError(code, message, { reason });
}

export function providerUnavailable(): AuthError {
  return new AuthError('identity_provider_unavailable', 'the identity provider cannot be reached; try again shortly');
}

function claimReason(claim: unknown): TokenRefusal {
  switch (claim) {
    case 'aud':
    case 'azp':
      return 'audience';
    case 'iss':
      return 'issuer';
    case 'exp':
      return 'expired';
    case 'nbf':
    case 'iat':
      return 'not_yet_valid';
    case 'nonce':
      return 'nonce';
    default:
      return 'claims';
  }
}

function isNetworkError(err: unknown): boolean {
  if (err instanceof TypeError) return true; // fetch() failed: refused, reset, DNS
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

/** Maps a jose verification failure; key-set fetch failures mean the provider is unavailable. */
export function fromJoseError({ jose: { errors: jose } }: IdentityPackages, err: unknown, code: TokenCode): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof jose.JWTExpired) return refused(code, 'expired');
  if (err instanceof jose.JWTClaimValidationFailed) return refused(code, claimReason(err.claim));
  if (err instanceof jose.JWSSignatureVerificationFailed) return refused(code, 'signature');
  if (err instanceof jose.JWKSNoMatchingKey || err instanceof jose.JWKSMultipleMatchingKeys) return refused(code, 'unknown_kid');
  if (err instanceof jose.JOSEAlgNotAllowed || err instanceof jose.JOSENotSupported) return refused(code, 'algorithm');
  if (err instanceof jose.JWSInvalid || err instanceof jose.JWTInvalid || err instanceof jose.JWKInvalid) return refused(code, 'malformed');
  // Fetching the key set: timeout, non-200, unparsable body, network failure.
  if (err instanceof jose.JWKSTimeout || err instanceof jose.JWKSInvalid || err instanceof jose.JOSEError || isNetworkError(err)) return providerUnavailable();
  throw err;
}

/** Maps an openid-client failure of discovery or of the code exchange. */
export function fromOidcError({ oidc: { ClientError, ResponseBodyError } }: IdentityPackages, err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof ResponseBodyError) {
    if (err.error === 'invalid_grant') {
      return new AuthError('invalid_authorization_code', 'the authorization code is invalid, expired or already used, or was issued for another redirect URI or code verifier');
    }
    return new AuthError('identity_provider_error', 'the identity provider refused the code exchange', { error: err.error });
  }
  if (err instanceof ClientError) {
    const cause = err.cause as { cause?: { claim?: unknown } } | undefined;
    switch (err.code) {
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
        return refused('invalid_id_token', claimReason(cause?.cause?.claim));
      case 'OAUTH_KEY_SELECTION_FAILED':
        return refused('invalid_id_token', 'unknown_kid');
      case 'OAUTH_INVALID_RESPONSE':
        return /signature/i.test(String((err.cause as Error | undefined)?.message)) ? refused('invalid_id_token', 'signature') : refused('invalid_id_token', 'malformed');
      case 'OAUTH_UNSUPPORTED_OPERATION':
        return refused('invalid_id_token', 'algorithm');
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
        // A 5xx from the token endpoint: down or overloaded, not misbehaving.
        if (err.cause instanceof Response && err.cause.status >= 500) return providerUnavailable();
        return new AuthError('identity_provider_error', 'the identity provider answered unexpectedly');
      default:
        // Not JSON, an unexpected status, metadata that does not fit: the provider misbehaves.
        return new AuthError('identity_provider_error', 'the identity provider answered unexpectedly');
    }
  }
  if (isNetworkError(err)) return providerUnavailable();
  throw err;
}
