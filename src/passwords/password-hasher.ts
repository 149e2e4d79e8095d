import type { Logger } from '../ports.js';
import { createArgon2Hasher, type Argon2Options } from './argon2-hasher.js';
import { bcryptEngineFor, bcryptHasherOn, type BcryptHasher, type BcryptImplementationChoice, type BcryptOptions } from './bcrypt-hasher.js';
import type { ManagedPasswordHasher } from './hasher-core.js';

/** bcrypt (the default algorithm). */
export interface BcryptPasswordOptions extends BcryptOptions {
  algorithm?: 'bcrypt';
  /**
   * Which bcrypt code runs. 'auto' (default): `@node-rs/bcrypt` when the host has
   * installed it, else bcryptjs on worker threads. 'native': `@node-rs/bcrypt`, and a
   * TypeError at startup when it is not installed. 'js': bcryptjs, whatever is
   * installed. Both write and read the same `$2b$` hashes.
   */
  implementation?: BcryptImplementationChoice;
}

/** argon2id, on the optional peer dependency `@node-rs/argon2`. */
export interface Argon2PasswordOptions extends Argon2Options {
  algorithm: 'argon2id';
}

/**
 * How passwords are hashed: `{ algorithm: 'bcrypt', cost, implementation }` (the
 * default) or `{ algorithm: 'argon2id', memoryCost, timeCost, parallelism }`. Either
 * way, hashes of the other algorithm still verify and are rewritten with the
 * configured one on the next successful sign-in.
 */
export type PasswordOptions = BcryptPasswordOptions | Argon2PasswordOptions;

const BCRYPT_ONLY = ['cost', 'threads', 'threadPriority', 'implementation'] as const;
const ARGON2_ONLY = ['memoryCost', 'timeCost', 'parallelism'] as const;

function refuse(options: object, keys: readonly string[], algorithm: string, takes: string): void {
  const stray = keys.find((key) => (options as Record<string, unknown>)[key] !== undefined);
  if (stray) throw new TypeError(`passwords.${stray} does not apply to algorithm '${algorithm}', which takes ${takes}`);
}

/**
 * The hasher `createAuthRouter` makes from `passwords` options: bcrypt (native or
 * bcryptjs, see {@link BcryptPasswordOptions.implementation}) or argon2id. Throws a
 * TypeError that says what to set or install. Close it with `close()` when you made it
 * yourself.
 */
export function createPasswordHasher(options: PasswordOptions = {}, logger: Logger = console): ManagedPasswordHasher {
  if (typeof options !== 'object' || options === null) throw new TypeError('passwords must be an object');
  const algorithm = options.algorithm ?? 'bcrypt';
  if (algorithm === 'argon2id') {
    refuse(options, BCRYPT_ONLY, 'argon2id', 'memoryCost, timeCost and parallelism');
    return createArgon2Hasher(options as Argon2PasswordOptions, logger);
  }
  if (algorithm !== 'bcrypt') throw new TypeError(`passwords.algorithm must be 'bcrypt' or 'argon2id' (got ${JSON.stringify(algorithm)})`);
  refuse(options, ARGON2_ONLY, 'bcrypt', 'cost, implementation, threads and threadPriority');
  const bcrypt = options as BcryptPasswordOptions;
  return bcryptHasherOn(bcryptEngineFor(bcrypt.implementation ?? 'auto', bcrypt, logger), bcrypt, logger) satisfies BcryptHasher;
}
