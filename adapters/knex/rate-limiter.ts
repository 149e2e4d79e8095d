import type { Knex } from 'knex';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimiterMemory, RateLimiterPostgres } from '../../src/core/rate-limiters.js';
import type { ThrottleOptions } from '../../src/core/throttle.js';
import { isPostgres } from './dialect.js';
import { mapStorageError } from './errors.js';
import type { TableNames } from './tables.js';

/** What `throttle.createLimiter` takes: builds one limiter per throttle rule. */
export type LimiterFactory = NonNullable<ThrottleOptions['createLimiter']>;

type Options = Record<string, unknown>;

/**
 * RateLimiterPostgres on the adapter's knex pool and its migrated table. Each call
 * first waits for the lazy migrations, and a failing database surfaces as the
 * port's StorageUnavailableError (503 `storage_unavailable`) like any other storage
 * call, not as a raw driver error. Running out of points still rejects with the
 * limiter's RateLimiterRes, untouched.
 *
 * `consume` is what bounds concurrent attempts (the throttle reserves before it
 * verifies), and it is atomic here: RateLimiterPostgres spends a point with one
 * `INSERT … ON CONFLICT (key) DO UPDATE SET points = points + 1 … RETURNING points`,
 * so concurrent consumes on any instance queue on the row and each sees its own count.
 */
class KnexRateLimiter extends RateLimiterPostgres {
  constructor(
    opts: ConstructorParameters<typeof RateLimiterPostgres>[0],
    private readonly ready: () => Promise<void>,
    private readonly tables: TableNames,
  ) {
    super(opts);
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      await this.ready();
      return await call();
    } catch (err) {
      throw mapStorageError(err, this.tables);
    }
  }

  override consume(key: string | number, points?: number, options?: Options): Promise<RateLimiterRes> {
    return this.guard(() => super.consume(key, points, options));
  }

  override penalty(key: string | number, points?: number, options?: Options): Promise<RateLimiterRes> {
    return this.guard(() => super.penalty(key, points, options));
  }

  override reward(key: string | number, points?: number, options?: Options): Promise<RateLimiterRes> {
    return this.guard(() => super.reward(key, points, options));
  }

  override get(key: string | number, options?: Options): Promise<RateLimiterRes | null> {
    return this.guard(() => super.get(key, options));
  }

  override set(key: string | number, points: number, secDuration: number, options?: Options): Promise<RateLimiterRes> {
    return this.guard(() => super.set(key, points, secDuration, options));
  }

  override block(key: string | number, secDuration: number, options?: Options): Promise<RateLimiterRes> {
    return this.guard(() => super.block(key, secDuration, options));
  }

  override delete(key: string | number, options?: Options): Promise<boolean> {
    return this.guard(() => super.delete(key, options));
  }
}

/**
 * Limiters whose counts every instance on the same PostgreSQL database shares, so
 * N instances allow the same number of guesses as one. On SQLite (one process)
 * the memory store is all that is needed.
 */
export function knexLimiterFactory(knex: Knex, tables: TableNames, ready: () => Promise<void>): LimiterFactory {
  if (!isPostgres(knex)) return (rule) => new RateLimiterMemory(rule);
  return (rule): RateLimiterAbstract =>
    new KnexRateLimiter(
      {
        ...rule,
        storeClient: knex,
        storeType: 'knex',
        tableName: tables.rateLimits,
        // Made by migration 006, so the constructor does not race other instances to create it.
        tableCreated: true,
        // Expired rows are deleted by the router's scheduled purge (one instance, in batches,
        // on an index), not by a timer per limiter on every instance.
        clearExpiredByTimeout: false,
      },
      ready,
      tables,
    );
}
