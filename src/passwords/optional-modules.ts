/**
 * The optional native hashing packages. They are peer dependencies the host may or
 * may not install, so they are never imported statically: `isInstalled` asks module
 * resolution (synchronously, without loading anything) so that a missing package is
 * a TypeError at `createAuthRouter` time, and `loadOptional` imports the package on
 * first use. The shapes below are ours, not the packages' typings, so that gatehouse's
 * declarations type-check in a host that has neither installed.
 */
import { createRequire } from 'node:module';

export const NATIVE_BCRYPT_PACKAGE = '@node-rs/bcrypt';
export const ARGON2_PACKAGE = '@node-rs/argon2';

/** What gatehouse uses of `@node-rs/bcrypt`; its async functions run on the libuv thread pool. */
export interface NativeBcryptModule {
  hash(password: string, cost: number): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

/** `@node-rs/argon2` options gatehouse sets; `algorithm: 2` is Argon2id. */
export interface Argon2HashOptions {
  algorithm: 2;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** What gatehouse uses of `@node-rs/argon2`; its async functions run on the libuv thread pool. */
export interface Argon2Module {
  hash(password: string, options: Argon2HashOptions): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

/**
 * True when `name` resolves from gatehouse's own location, as `import()` would resolve
 * it. `import.meta.resolve` is missing where this module was compiled to CommonJS (a
 * loader such as tsx under `require`): module resolution of `require` answers there.
 */
export function isInstalled(name: string): boolean {
  try {
    if (typeof import.meta.resolve === 'function') import.meta.resolve(name);
    else createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

const loading = new Map<string, Promise<unknown>>();

/**
 * Imports an optional package once and checks it has the functions named. A failed
 * import is not cached, so a package installed later (or a transient failure) is
 * picked up by the next call. The error names the package to install.
 */
export function loadOptional<T>(name: string, functions: readonly string[]): Promise<T> {
  let pending = loading.get(name);
  if (!pending) {
    pending = import(name).then(
      (ns: Record<string, unknown>) => {
        // A CommonJS package: its exports are the default export, and (when Node's
        // lexer finds them) named exports too.
        const candidates = [ns, ns.default as Record<string, unknown> | undefined];
        const found = candidates.find((m) => m && functions.every((f) => typeof m[f] === 'function'));
        if (!found) throw new Error(`gatehouse: ${name} has no ${functions.join('/')} functions; install a supported version (see docs/passwords.md)`);
        return found;
      },
      (err: unknown) => {
        throw new Error(`gatehouse: could not load ${name} (${(err as Error).message}); install it with \`npm install ${name}\``);
      },
    );
    loading.set(name, pending);
    pending.catch(() => loading.delete(name));
  }
  return pending as Promise<T>;
}
