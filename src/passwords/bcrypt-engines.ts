import type { Logger } from '../ports.js';
import { isInstalled, loadOptional, NATIVE_BCRYPT_PACKAGE, type NativeBcryptModule } from './optional-modules.js';
import { BcryptWorkerPool } from './worker-pool.js';

/** What computes hashes: a native binding (`@node-rs/bcrypt`, `@node-rs/argon2`) or bcryptjs (JavaScript). */
export type HashImplementation = 'native' | 'js';

/** Something that computes bcrypt hashes off the event loop. The hashers add the rules (length, formats, rehash). */
export interface BcryptEngine {
  readonly implementation: HashImplementation;
  /** Worker threads of the bcryptjs pool running now (0 for the native engine: it uses the libuv pool). */
  readonly threads: number;
  hash(password: string, cost: number): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
  close(): Promise<void>;
}

/** bcryptjs on a pool of `threads` worker threads, or with its async API on the main thread for `threads: 0`. */
export function jsBcryptEngine(threads: number, nice: number): BcryptEngine {
  const pool = threads > 0 ? new BcryptWorkerPool(threads, nice) : undefined;
  // Imported only when hashing on this thread: the workers load their own copy, and a
  // host on the native engine never needs it (0.7 MB of heap otherwise kept for good).
  const onThisThread = async () => (await import('bcryptjs')).default;
  return {
    implementation: 'js',
    get threads() {
      return pool?.threads ?? 0;
    },
    hash: (password, cost) => (pool ? (pool.run({ op: 'hash', password, cost }) as Promise<string>) : onThisThread().then((bcrypt) => bcrypt.hash(password, cost))),
    compare: (password, hash) => (pool ? (pool.run({ op: 'compare', password, hash }) as Promise<boolean>) : onThisThread().then((bcrypt) => bcrypt.compare(password, hash))),
    close: async () => {
      await pool?.close();
    },
  };
}

/**
 * `@node-rs/bcrypt`, imported on first use. Its async functions are napi-rs async
 * tasks: they run on libuv's thread pool (UV_THREADPOOL_SIZE, default 4), never on
 * the event loop, so no worker threads of ours are needed.
 */
export function nativeBcryptEngine(): BcryptEngine {
  const native = () => loadOptional<NativeBcryptModule>(NATIVE_BCRYPT_PACKAGE, ['hash', 'verify']);
  return {
    implementation: 'native',
    threads: 0,
    hash: async (password, cost) => (await native()).hash(password, cost),
    compare: async (password, hash) => (await native()).verify(password, hash),
    close: async () => {},
  };
}

/**
 * 'auto': the native engine when `@node-rs/bcrypt` resolves; if it then fails to
 * load (a platform without its prebuilt binary), bcryptjs takes over for good, with
 * one warning. Whether the package resolves is known at creation; it is loaded on first use.
 */
export function autoBcryptEngine(threads: number, nice: number, logger: Logger): BcryptEngine {
  const js = jsBcryptEngine(threads, nice);
  if (!isInstalled(NATIVE_BCRYPT_PACKAGE)) return js;
  const native = nativeBcryptEngine();
  let current: BcryptEngine = native;
  let chosen: Promise<BcryptEngine> | undefined;
  const engine = () =>
    (chosen ??= loadOptional(NATIVE_BCRYPT_PACKAGE, ['hash', 'verify']).then(
      () => native,
      (err: unknown) => {
        current = js;
        logger.warn(`gatehouse: ${NATIVE_BCRYPT_PACKAGE} is installed but could not be loaded; hashing with bcryptjs instead`, { error: (err as Error).message });
        return js;
      },
    ));
  return {
    get implementation() {
      return current.implementation;
    },
    get threads() {
      return js.threads;
    },
    hash: async (password, cost) => (await engine()).hash(password, cost),
    compare: async (password, hash) => (await engine()).compare(password, hash),
    close: () => js.close(),
  };
}
