import { availableParallelism } from 'node:os';
import type { Logger } from '../ports.js';
import { autoBcryptEngine, jsBcryptEngine, nativeBcryptEngine, type BcryptEngine } from './bcrypt-engines.js';
import { BCRYPT_MAX_BYTES, composeHasher, type ManagedPasswordHasher } from './hasher-core.js';
import { isInstalled, NATIVE_BCRYPT_PACKAGE } from './optional-modules.js';

export { BCRYPT_MAX_BYTES } from './hasher-core.js';

export interface BcryptOptions {
  /**
   * Work factor (log2 rounds), 4 to 31. Default 10; keep it at 10 or more in production
   * (lower values are for test suites). Changing it rehashes on the next successful sign-in.
   */
  cost?: number;
  /**
   * Worker threads that run bcryptjs, so hashing never blocks the event loop. Default
   * `os.availableParallelism()`. Threads start on first use and never keep the process
   * alive. 0 hashes on the main thread (bcryptjs's async API) for environments
   * without worker threads. Not used by the native implementation (it runs on libuv's thread pool).
   */
  threads?: number;
  /**
   * Scheduling priority of the hashing threads. 'low' (default) raises their nice value
   * by 10 on Linux, so that when the CPUs are saturated the event loop (every other
   * request) is served first and sign-ins wait; with a spare core it changes nothing.
   * 'normal' leaves it. Other systems have no per-thread priority: ignored there.
   */
  threadPriority?: 'low' | 'normal';
}

/** A bcrypt hasher (native or bcryptjs): a ManagedPasswordHasher that also reports the bcryptjs pool's threads. */
export interface BcryptHasher extends ManagedPasswordHasher {
  /** Worker threads running now (0 when idle since the last close, with `threads: 0`, or with the native implementation). */
  readonly threads: number;
}

/** The nice increment of 'low' hashing threads. */
const LOW_PRIORITY_NICE = 10;

export const DEFAULT_BCRYPT_COST = 10;

/** Which bcrypt code runs: see {@link BcryptPasswordOptions.implementation}. */
export type BcryptImplementationChoice = 'auto' | 'native' | 'js';

/** Validated bcryptjs pool settings: worker count and nice increment. */
export function poolSettings(options: BcryptOptions): { threads: number; nice: number } {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 0 || threads > 256) {
    throw new TypeError(`passwords.threads must be an integer from 0 to 256 (got ${String(options.threads)})`);
  }
  const priority = options.threadPriority ?? 'low';
  if (priority !== 'low' && priority !== 'normal') {
    throw new TypeError(`passwords.threadPriority must be 'low' or 'normal' (got ${String(options.threadPriority)})`);
  }
  return { threads, nice: priority === 'low' && process.platform === 'linux' ? LOW_PRIORITY_NICE : 0 };
}

/** The engine for an implementation choice; 'native' without the package installed is a TypeError that says what to install. */
export function bcryptEngineFor(choice: BcryptImplementationChoice, options: BcryptOptions, logger: Logger): BcryptEngine {
  const { threads, nice } = poolSettings(options);
  if (choice === 'js') return jsBcryptEngine(threads, nice);
  if (choice === 'auto') return autoBcryptEngine(threads, nice, logger);
  if (choice === 'native') {
    if (!isInstalled(NATIVE_BCRYPT_PACKAGE)) {
      throw new TypeError(
        `passwords.implementation is 'native' but ${NATIVE_BCRYPT_PACKAGE} is not installed: run \`npm install ${NATIVE_BCRYPT_PACKAGE}\`, or use implementation 'auto' or 'js'`,
      );
    }
    return nativeBcryptEngine();
  }
  throw new TypeError(`passwords.implementation must be 'auto', 'native' or 'js' (got ${JSON.stringify(choice)})`);
}

/** A bcrypt hasher on the given engine; stored argon2 hashes verify too (with `@node-rs/argon2` installed). */
export function bcryptHasherOn(engine: BcryptEngine, options: BcryptOptions, logger: Logger): BcryptHasher {
  const cost = options.cost ?? DEFAULT_BCRYPT_COST;
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) {
    throw new TypeError(`passwords.cost must be an integer from 4 to 31 (got ${String(options.cost)})`);
  }
  const hasher = composeHasher(
    {
      algorithm: 'bcrypt',
      maxBytes: BCRYPT_MAX_BYTES,
      implementation: () => engine.implementation,
      hash: (password) => engine.hash(password, cost),
      isCurrent: (format) => format.algorithm === 'bcrypt' && format.cost === cost,
    },
    { bcrypt: () => engine, logger },
    () => engine.close(),
  );
  return Object.defineProperty(hasher, 'threads', { get: () => engine.threads, enumerable: true }) as BcryptHasher;
}

/**
 * The bcryptjs PasswordHasher (the JavaScript implementation, whatever is installed;
 * `createPasswordHasher` chooses the native one when it can). Passwords longer than
 * bcrypt can read are refused instead of silently truncated, so two passwords that
 * differ only after byte 72 can never both match. Hashing and comparing run on a
 * pool of worker threads; the length rule and `needsRehash` stay on the calling
 * thread. Stored argon2id hashes verify too when `@node-rs/argon2` is installed, and
 * count as needing a rehash. `logger` hears of stored hashes it can't verify.
 */
export function createBcryptHasher(options: BcryptOptions = {}, logger: Logger = console): BcryptHasher {
  return bcryptHasherOn(bcryptEngineFor('js', options, logger), options, logger);
}

