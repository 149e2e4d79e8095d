/**
 * Every failure gatehouse reports has a stable string code. This file is the one
 * place a code maps to an HTTP status; the HTTP layer never decides a status itself.
 */

export const errorStatus = {
  invalid_request: 400,
  invalid_json: 400,
  password_too_long: 400,
  mfa_confirmation_failed: 400,
  weak_password: 400,
  invalid_webhook_url: 400,
  invitation_invalid: 400,
  invitation_expired: 400,
  invitation_email_mismatch: 403,
  invitation_used: 409,
  missing_token: 401,
  invalid_token: 401,
  token_expired: 401,
  token_revoked: 401,
  refresh_token_reused: 401,
  token_used: 401,
  invalid_credentials: 401,
  invalid_api_key: 401,
  invalid_mfa_code: 401,
  invalid_authorization_code: 401,
  invalid_id_token: 401,
  invalid_external_token: 401,
  passkey_unknown: 401,
  passkey_challenge_invalid: 401,
  passkey_origin_mismatch: 401,
  passkey_verification_failed: 401,
  forbidden: 403,
  application_token_not_allowed: 403,
  mfa_required: 403,
  reauthentication_required: 403,
  csrf_rejected: 403,
  email_not_verified: 403,
  subject_not_allowed: 403,
  external_email_missing: 403,
  org_required: 403,
  mfa_enrollment_required: 403,
  sign_in_method_not_allowed: 403,
  api_keys_not_allowed: 403,
  permission_denied: 403,
  not_found: 404,
  org_not_found: 404,
  member_not_found: 404,
  invitation_not_found: 404,
  api_key_not_found: 404,
  passkey_not_found: 404,
  application_not_found: 404,
  session_not_found: 404,
  webhook_not_found: 404,
  webhook_delivery_not_found: 404,
  role_not_found: 404,
  email_taken: 409,
  email_already_verified: 409,
  username_taken: 409,
  slug_taken: 409,
  already_member: 409,
  url_taken: 409,
  last_owner: 409,
  mfa_already_enabled: 409,
  mfa_not_enabled: 409,
  mfa_setup_required: 409,
  account_exists: 409,
  passkey_exists: 409,
  webhook_delivery_pending: 409,
  webhook_limit_reached: 409,
  policy_excludes_you: 409,
  role_name_taken: 409,
  role_in_use: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_attempts: 429,
  internal_error: 500,
  identity_provider_error: 502,
  storage_unavailable: 503,
  identity_provider_unavailable: 503,
} as const;

export type AuthErrorCode = keyof typeof errorStatus;

export interface FieldError {
  /** Dotted path of the offending field, '' for the body itself. */
  path: string;
  message: string;
}

export interface AuthErrorDetails {
  /** Per-field problems, for `invalid_request`. */
  errors?: FieldError[];
  /** Seconds until a throttled caller may try again, for `too_many_attempts`. */
  retryAfter?: number;
  [key: string]: unknown;
}

export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code: AuthErrorCode;
  readonly status: number;
  readonly details: AuthErrorDetails | undefined;

  constructor(code: AuthErrorCode, message: string, details?: AuthErrorDetails) {
    super(message);
    this.code = code;
    this.status = errorStatus[code];
    this.details = details;
  }
}

export function isAuthError(err: unknown): err is AuthError {
  return err instanceof AuthError;
}

/** Thrown by storage adapters when a unique constraint rejects a write. */
export class StorageConflictError extends Error {
  override readonly name = 'StorageConflictError';
  /** Which uniqueness was violated: 'email', 'username', 'slug', 'membership', … */
  readonly field: string;

  constructor(field: string, options?: { cause?: unknown }) {
    super(`duplicate ${field}`, options);
    this.field = field;
  }
}

/** Thrown by storage adapters when the database cannot be reached. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';

  constructor(message = 'storage is unavailable', options?: { cause?: unknown }) {
    super(message, options);
  }
}
