/**
 * The rate-limiter-flexible classes gatehouse uses, each from its own file rather than
 * the package's index: the index loads every store the package has (Redis, Mongo,
 * DynamoDB, Prisma …), about 1.3 MB of heap kept for the life of the host process, and
 * a larger heap makes each of its garbage collections cost more. They are the files the
 * index itself loads, so a limiter a host builds from the index rejects with the same
 * RateLimiterRes class.
 */
import { createRequire } from 'node:module';
import type * as Flexible from 'rate-limiter-flexible';

type ClassName = 'RateLimiterMemory' | 'RateLimiterRes' | 'RateLimiterPostgres';

/**
 * `lib/<name>.js`, or the index's export when that file cannot be loaded: the files are
 * not part of the package's declared interface, and a release that moves them (or adds
 * an `exports` map) should cost a host the index's heap, not its start.
 */
export function ownFileOr<N extends ClassName>(name: N, load: (id: string) => unknown = createRequire(import.meta.url), file: string = name): (typeof Flexible)[N] {
  try {
    return load(`rate-limiter-flexible/lib/${file}.js`) as (typeof Flexible)[N];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw err;
    return (load('rate-limiter-flexible') as typeof Flexible)[name];
  }
}

export const RateLimiterMemory = ownFileOr('RateLimiterMemory');
export const RateLimiterRes = ownFileOr('RateLimiterRes');
export const RateLimiterPostgres = ownFileOr('RateLimiterPostgres');
