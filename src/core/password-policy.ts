import { AuthError } from '../errors.js';
import type { Logger } from '../ports.js';
import { isCommonPassword } from './common-passwords.js';

/** Rules for new passwords, on top of the length limits. */
export interface PasswordPolicy {
  minLength?: number;
  uppercase?: boolean;
  lowercase?: boolean;
  digit?: boolean;
  symbol?: boolean;
  /**
   * Refuse passwords on the bundled list of common passwords (zxcvbn's, ~49,000
   * entries), compared ignoring case and digits or symbols around a common word
   * (`Password1!`). Default true.
   */
  commonPasswords?: boolean;
  /**
   * Your check against known breaches, for example Have I Been Pwned's k-anonymity
   * range API: resolve true to refuse the password. Called for new passwords after the
   * other rules pass. If it throws, the password is accepted (the other rules still
   * held) and the failure is logged: a breach service being down must not stop sign-ups.
   */
  isBreached?: (password: string) => Promise<boolean>;
}

const rules: Array<[keyof PasswordPolicy, RegExp, string]> = [
  ['uppercase', /\p{Lu}/u, 'must include an uppercase letter'],
  ['lowercase', /\p{Ll}/u, 'must include a lowercase letter'],
  ['digit', /\p{Nd}/u, 'must include a number'],
  ['symbol', /[^\p{L}\p{N}\s]/u, 'must include a special character'],
];

function weak(messages: string[]): AuthError {
  return new AuthError('weak_password', `the password ${messages.join(', ')}`, { errors: messages.map((message) => ({ path: 'password', message })) });
}

/** Throws `weak_password` naming every composition rule the password breaks. */
export function checkPasswordPolicy(password: string, policy: PasswordPolicy | undefined): void {
  if (!policy) return;
  const broken: string[] = [];
  if (policy.minLength !== undefined && [...password].length < policy.minLength) broken.push(`must be at least ${policy.minLength} characters`);
  for (const [rule, pattern, message] of rules) if (policy[rule] && !pattern.test(password)) broken.push(message);
  if (broken.length > 0) throw weak(broken);
}

/**
 * Every check a new password goes through (sign-up, and any later password change):
 * composition rules, the common-password list, then the `isBreached` hook.
 */
export async function checkNewPassword(password: string, policy: PasswordPolicy | undefined, logger: Logger): Promise<void> {
  checkPasswordPolicy(password, policy);
  if (policy?.commonPasswords !== false && (await isCommonPassword(password))) {
    throw weak(['is too common: it is on a list of passwords attackers try first']);
  }
  if (policy?.isBreached === undefined) return;
  let breached: boolean;
  try {
    breached = (await policy.isBreached(password)) === true;
  } catch (err) {
    logger.warn('gatehouse: passwordPolicy.isBreached failed; the password was accepted on the other rules', { error: err instanceof Error ? err.message : String(err) });
    return;
  }
  if (breached) throw weak(['appears in a known data breach: choose another']);
}

/** Checks the policy option at startup. */
export function validatePasswordPolicy(policy: unknown, option: string): PasswordPolicy | undefined {
  if (policy === undefined) return undefined;
  if (typeof policy !== 'object' || policy === null) throw new TypeError(`${option} must be an object`);
  const p = policy as PasswordPolicy;
  if (p.isBreached !== undefined && typeof p.isBreached !== 'function') throw new TypeError(`${option}.isBreached must be a function (password) => Promise<boolean>`);
  if (p.minLength !== undefined && (!Number.isInteger(p.minLength) || p.minLength < 1)) throw new TypeError(`${option}.minLength must be a positive integer`);
  return p;
}
