import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { AuthError } from '../errors.js';
import type { PasswordHasher } from '../ports.js';

export interface BcryptOptions {
  /**
   * Work factor (log2 rounds), 4 to 31. Default 10; keep it at 10 or more in production
   * (lower values are for test suites). Changing it rehashes on the next successful sign-in.
   */
  cost?: number;
}

/** bcrypt reads only the first 72 bytes of its input. */
export const BCRYPT_MAX_BYTES = 72;

export const DEFAULT_BCRYPT_COST = 10;

/**
 * The default PasswordHasher, on bcryptjs. Passwords longer than bcrypt can read are
 * refused instead of silently truncated, so two passwords that differ only after
 * byte 72 can never both match.
 */
export function createBcryptHasher(options: BcryptOptions = {}): PasswordHasher {
  const cost = options.cost ?? DEFAULT_BCRYPT_COST;
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) {
    throw new TypeError(`passwords.cost must be an integer from 4 to 31 (got ${String(options.cost)})`);
  }
  let dummy: Promise<string> | undefined;
  const tooLong = (password: string) => Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_BYTES;

  return {
    async hash(password) {
      if (tooLong(password)) {
        throw new AuthError('password_too_long', `the password must be at most ${BCRYPT_MAX_BYTES} bytes in UTF-8`, {
          errors: [{ path: 'password', message: `must be at most ${BCRYPT_MAX_BYTES} bytes in UTF-8` }],
        });
      }
      return bcrypt.hash(password, cost);
    },
    async verify(password, hash) {
      if (tooLong(password)) return false;
      return bcrypt.compare(password, hash);
    },
    needsRehash(hash) {
      try {
        return bcrypt.getRounds(hash) !== cost;
      } catch {
        return true;
      }
    },
    dummyHash() {
      dummy ??= bcrypt.hash(randomBytes(18).toString('base64'), cost);
      return dummy;
    },
  };
}
