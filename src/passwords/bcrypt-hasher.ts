import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import bcrypt from 'bcryptjs';
import { AuthError } from '../errors.js';
import type { PasswordHasher } from '../ports.js';
import { BcryptWorkerPool } from './worker-pool.js';

export interface BcryptOptions {
  /**
   * Work factor (log2 rounds), 4 to 31. Default 10; keep it at 10 or more in production
   * (lower values are for test suites). Changing it rehashes on the next successful sign-in.
   */
  cost?: number;
  /**
   * Worker threads that run bcrypt, so hashing never blocks the event loop. Default
   * `os.availableParallelism()`. Threads start on first use and never keep the process
   * alive. 0 hashes on the main thread (bcryptjs's async API) for environments
   * without worker threads.
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

/** The nice increment of 'low' hashing threads. */
const LOW_PRIORITY_NICE = 10;

/** The default hasher: a PasswordHasher that can also end its worker threads. */
export interface BcryptHasher extends PasswordHasher {
  /**
   * Ends the worker threads; hashes still queued or running are rejected. The router
   * calls it from `close()` for the hasher it made. Used again, the hasher starts new threads.
   */
  close(): Promise<void>;
  /** Worker threads running now (0 when idle since the last close, or with `threads: 0`). */
  readonly threads: number;
}

/** bcrypt reads only the first 72 bytes of its input. */
export const BCRYPT_MAX_BYTES = 72;

export const DEFAULT_BCRYPT_COST = 10;

/**
 * The default PasswordHasher, on bcryptjs. Passwords longer than bcrypt can read are
 * refused instead of silently truncated, so two passwords that differ only after
 * byte 72 can never both match. Hashing and comparing run on a pool of worker
 * threads; the length rule and `needsRehash` stay on the calling thread.
 */
export function createBcryptHasher(options: BcryptOptions = {}): BcryptHasher {
  const cost = options.cost ?? DEFAULT_BCRYPT_COST;
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) {
    throw new TypeError(`passwords.cost must be an integer from 4 to 31 (got ${String(options.cost)})`);
  }
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 0 || threads > 256) {
    throw new TypeError(`passwords.threads must be an integer from 0 to 256 (got ${String(options.threads)})`);
  }
  const priority = options.threadPriority ?? 'low';
  if (priority !== 'low' && priority !== 'normal') {
    throw new TypeError(`passwords.threadPriority must be 'low' or 'normal' (got ${String(options.threadPriority)})`);
  }
  const pool = threads > 0 ? new BcryptWorkerPool(threads, priority === 'low' ? LOW_PRIORITY_NICE : 0) : undefined;
  const hashWith = (password: string): Promise<string> =>
    pool ? (pool.run({ op: 'hash', password, cost }) as Promise<string>) : bcrypt.hash(password, cost);
  const compareWith = (password: string, hash: string): Promise<boolean> =>
    pool ? (pool.run({ op: 'compare', password, hash }) as Promise<boolean>) : bcrypt.compare(password, hash);

  let dummy: Promise<string> | undefined;
  const tooLong = (password: string) => Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_BYTES;

  return {
    async hash(password) {
      if (tooLong(password)) {
        throw new AuthError('password_too_long', `the password must be at most ${BCRYPT_MAX_BYTES} bytes in UTF-8`, {
          errors: [{ path: 'password', message: `must be at most ${BCRYPT_MAX_BYTES} bytes in UTF-8` }],
        });
      }
      return hashWith(password);
    },
    async verify(password, hash) {
      if (tooLong(password)) return false;
      return compareWith(password, hash);
    },
    needsRehash(hash) {
      try {
        return bcrypt.getRounds(hash) !== cost;
      } catch {
        return true;
      }
    },
    dummyHash() {
      dummy ??= hashWith(randomBytes(18).toString('base64')).catch((err: unknown) => {
        dummy = undefined;
        throw err;
      });
      return dummy;
    },
    close: async () => {
      await pool?.close();
    },
    get threads() {
      return pool?.threads ?? 0;
    },
  };
}
