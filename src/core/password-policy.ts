import { AuthError } from '../errors.js';

/** Composition rules some systems demand of new passwords, on top of the length limits. */
export interface PasswordPolicy {
  minLength?: number;
  uppercase?: boolean;
  lowercase?: boolean;
  digit?: boolean;
  symbol?: boolean;
}

const rules: Array<[keyof PasswordPolicy, RegExp, string]> = [
  ['uppercase', /\p{Lu}/u, 'must include an uppercase letter'],
  ['lowercase', /\p{Ll}/u, 'must include a lowercase letter'],
  ['digit', /\p{Nd}/u, 'must include a number'],
  ['symbol', /[^\p{L}\p{N}\s]/u, 'must include a special character'],
];

/** Throws `weak_password` naming every rule the password breaks. */
export function checkPasswordPolicy(password: string, policy: PasswordPolicy | undefined): void {
  if (!policy) return;
  const broken: string[] = [];
  if (policy.minLength !== undefined && [...password].length < policy.minLength) broken.push(`must be at least ${policy.minLength} characters`);
  for (const [rule, pattern, message] of rules) if (policy[rule] && !pattern.test(password)) broken.push(message);
  if (broken.length > 0) {
    throw new AuthError('weak_password', `the password ${broken.join(', ')}`, { errors: broken.map((message) => ({ path: 'password', message })) });
  }
}
