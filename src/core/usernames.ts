/**
 * What a username may be, wherever it comes from (the sign-up body, an identity
 * provider's `mapUser`): 1-64 letters, digits, dot, underscore and hyphen. No '@', so
 * a username never equals or looks like an email: presets whose token `sub` is the
 * username, or the email of an account without one, keep the two apart.
 */
export const USERNAME_PATTERN = /^[\p{L}\p{N}._-]+$/u;
export const USERNAME_MAX = 64;
export const USERNAME_RULE = 'may hold 1-64 letters, digits, dot, underscore and hyphen';

/** True when `value` (already trimmed) is a username gatehouse stores. */
export function isValidUsername(value: string): boolean {
  return value.length >= 1 && value.length <= USERNAME_MAX && USERNAME_PATTERN.test(value);
}
