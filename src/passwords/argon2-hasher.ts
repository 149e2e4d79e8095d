import type { Logger } from '../ports.js';
import { autoBcryptEngine, type BcryptEngine } from './bcrypt-engines.js';
import { poolSettings } from './bcrypt-hasher.js';
import { ARGON2_MAX_BYTES, composeHasher, type ManagedPasswordHasher } from './hasher-core.js';
import { ARGON2_PACKAGE, isInstalled, loadOptional, type Argon2Module } from './optional-modules.js';

export { ARGON2_MAX_BYTES } from './hasher-core.js';

/**
 * Argon2id parameters. The defaults are the first of OWASP's equivalent
 * recommendations (Password Storage Cheat Sheet): 19 MiB of memory, 2 passes,
 * 1 lane. Changing any of them rehashes on the next successful sign-in.
 */
export interface Argon2Options {
  /** Memory per hash in KiB, from 8 × parallelism to 1,048,576 (1 GiB). Default 19456 (19 MiB). Each hash in flight holds this much. */
  memoryCost?: number;
  /** Passes over the memory, 1 to 100. Default 2. */
  timeCost?: number;
  /** Lanes (threads within one hash), 1 to 255. Default 1. */
  parallelism?: number;
}

/** OWASP's recommended minimum for argon2id: m = 19 MiB, t = 2, p = 1. */
export const ARGON2_DEFAULTS = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

/** Argon2id, version 0x13 (19): what `@node-rs/argon2` writes as `v=19`. */
const ARGON2_VERSION = 19;
const ARGON2ID = 2;

function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`passwords.${name} must be an integer from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

/**
 * An argon2id PasswordHasher on `@node-rs/argon2` (an optional peer dependency: a
 * TypeError here when it is not installed; it is imported on first use). Hashing runs
 * on libuv's thread pool, off the event loop. Passwords longer than
 * {@link ARGON2_MAX_BYTES} UTF-8 bytes are refused. Stored bcrypt hashes still verify
 * (with `@node-rs/bcrypt` when installed, else bcryptjs on worker threads) and count as
 * needing a rehash, so accounts move to argon2id as their owners sign in.
 */
export function createArgon2Hasher(options: Argon2Options = {}, logger: Logger = console): ManagedPasswordHasher {
  if (typeof options !== 'object' || options === null) throw new TypeError('passwords must be an object');
  const parallelism = integerIn('parallelism', options.parallelism ?? ARGON2_DEFAULTS.parallelism, 1, 255);
  const memoryCost = integerIn('memoryCost', options.memoryCost ?? ARGON2_DEFAULTS.memoryCost, 8 * parallelism, 1_048_576);
  const timeCost = integerIn('timeCost', options.timeCost ?? ARGON2_DEFAULTS.timeCost, 1, 100);
  if (!isInstalled(ARGON2_PACKAGE)) {
    throw new TypeError(`passwords.algorithm is 'argon2id' but ${ARGON2_PACKAGE} is not installed: run \`npm install ${ARGON2_PACKAGE}\`, or use algorithm 'bcrypt'`);
  }
  const params = { algorithm: ARGON2ID, memoryCost, timeCost, parallelism } as const;
  const argon2 = () => loadOptional<Argon2Module>(ARGON2_PACKAGE, ['hash', 'verify']);
  // Only for stored bcrypt hashes: made when the first one is met, so an all-argon2 store starts no threads.
  let legacy: BcryptEngine | undefined;
  return composeHasher(
    {
      algorithm: 'argon2id',
      maxBytes: ARGON2_MAX_BYTES,
      implementation: () => 'native',
      hash: async (password) => (await argon2()).hash(password, params),
      isCurrent: (format) =>
        format.algorithm === 'argon2' &&
        format.variant === 'argon2id' &&
        format.version === ARGON2_VERSION &&
        format.memoryCost === memoryCost &&
        format.timeCost === timeCost &&
        format.parallelism === parallelism,
    },
    {
      bcrypt: () => {
        const { threads, nice } = poolSettings({});
        return (legacy ??= autoBcryptEngine(threads, nice, logger));
      },
      logger,
    },
    async () => {
      await legacy?.close();
    },
  );
}
