import { randomBytes } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { Logger, PasswordHasher } from '../ports.js';
import type { BcryptEngine, HashImplementation } from './bcrypt-engines.js';
import { hashFormat, type HashFormat } from './hash-format.js';
import { ARGON2_PACKAGE, loadOptional, type Argon2Module } from './optional-modules.js';

/** bcrypt reads only the first 72 bytes of its input. */
export const BCRYPT_MAX_BYTES = 72;

/**
 * The longest password argon2id hashes, in UTF-8 bytes. Argon2 reads any length, but
 * the input is hashed on every attempt: a bound keeps a megabyte "password" from
 * costing more than a real one. 1024 is also what the HTTP schemas accept, in characters.
 */
export const ARGON2_MAX_BYTES = 1024;

/** A hasher gatehouse made: it knows its algorithm, and has threads or modules to release. */
export interface ManagedPasswordHasher extends PasswordHasher {
  /** The algorithm new hashes are made with. Hashes of the other supported algorithms still verify. */
  readonly algorithm: 'bcrypt' | 'argon2id';
  /** What computes new hashes: 'native' (`@node-rs/bcrypt` or `@node-rs/argon2`) or 'js' (bcryptjs). */
  readonly implementation: HashImplementation;
  /**
   * Ends the worker threads (bcryptjs); hashes still queued or running on them are
   * rejected. The router calls it from `close()` for the hasher it made. Used again,
   * the hasher starts new threads.
   */
  close(): Promise<void>;
}

/** How the configured algorithm makes hashes and which stored hashes it considers current. */
export interface Primary {
  algorithm: 'bcrypt' | 'argon2id';
  maxBytes: number;
  implementation(): HashImplementation;
  hash(password: string): Promise<string>;
  isCurrent(format: HashFormat): boolean;
}

export interface Verifiers {
  /** Computes bcrypt for stored bcrypt hashes; the caller makes it (on first use if it likes) and closes it. */
  bcrypt: () => BcryptEngine;
  logger: Logger;
}

const byteLength = (password: string) => Buffer.byteLength(password, 'utf8');

/**
 * One PasswordHasher over every supported format: new hashes use the configured
 * algorithm, stored hashes are verified by the algorithm named in their prefix
 * (`$2a$`/`$2b$`/`$2y$` bcrypt, `$argon2id$`…), and `needsRehash` is true for any
 * hash that is not the configured algorithm with the configured parameters: the next
 * successful sign-in then rewrites it. Length rules are each algorithm's own.
 */
export function composeHasher(primary: Primary, verifiers: Verifiers, close: () => Promise<void>): ManagedPasswordHasher {
  let dummy: Promise<string> | undefined;

  async function verifyArgon2(password: string, hash: string): Promise<boolean> {
    if (byteLength(password) > ARGON2_MAX_BYTES) return false;
    let argon2: Argon2Module;
    try {
      argon2 = await loadOptional<Argon2Module>(ARGON2_PACKAGE, ['hash', 'verify']);
    } catch (err) {
      // A stored argon2 hash with the package gone: this sign-in fails (401), the process lives on.
      verifiers.logger.error(`gatehouse: a stored password hash is argon2, but ${ARGON2_PACKAGE} cannot be loaded; install it to verify these passwords`, {
        error: (err as Error).message,
      });
      return false;
    }
    return argon2.verify(hash, password);
  }

  return {
    get algorithm() {
      return primary.algorithm;
    },
    get implementation() {
      return primary.implementation();
    },
    async hash(password) {
      if (byteLength(password) > primary.maxBytes) {
        throw new AuthError('password_too_long', `the password must be at most ${primary.maxBytes} bytes in UTF-8`, {
          errors: [{ path: 'password', message: `must be at most ${primary.maxBytes} bytes in UTF-8` }],
        });
      }
      return primary.hash(password);
    },
    async verify(password, hash) {
      const format = hashFormat(hash);
      if (format.algorithm === 'bcrypt') {
        // Refused rather than truncated: two passwords differing after byte 72 never both match.
        if (byteLength(password) > BCRYPT_MAX_BYTES) return false;
        return verifiers.bcrypt().compare(password, hash);
      }
      if (format.algorithm === 'argon2') return verifyArgon2(password, hash);
      verifiers.logger.error('gatehouse: a stored password hash has a format gatehouse does not know (neither bcrypt nor argon2); the sign-in fails');
      return false;
    },
    needsRehash(hash) {
      return !primary.isCurrent(hashFormat(hash));
    },
    dummyHash() {
      // The configured algorithm, so that an unknown email costs what a known one does.
      dummy ??= primary.hash(randomBytes(18).toString('base64')).catch((err: unknown) => {
        dummy = undefined;
        throw err;
      });
      return dummy;
    },
    close,
  };
}
