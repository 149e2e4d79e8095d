/**
 * gatehouse-auth/adapters/knex: the bundled storage adapter, SQLite (better-sqlite3) or
 * PostgreSQL (pg) through knex, with its migrations.
 *
 * @module gatehouse-auth/adapters/knex
 */
import type { Knex } from 'knex';
import type { JobLeaseRepository, RateLimitRepository, Repositories, RevocationWatchListener, SettingRepository, StorageAdapter } from '../../src/ports.js';
import { openConnection, type KnexStorageConfig } from './connection.js';
import { mapStorageError } from './errors.js';
import { guardRepositories } from './guard.js';
import { runMigrations } from './migrations/index.js';
import { knexLimiterFactory, type LimiterFactory } from './rate-limiter.js';
import { createRepositories } from './repositories/index.js';
import { settingRepository } from './repositories/settings.js';
import { jobLeaseRepository } from './repositories/job-leases.js';
import { rateLimitRepository } from './repositories/rate-limits.js';
import { tableNames } from './tables.js';
import { isPostgres } from './dialect.js';
import { RevocationNotifier } from './revocation-notify.js';

export type { KnexStorageConfig } from './connection.js';
export type { LimiterFactory } from './rate-limiter.js';

export interface KnexStorageOptions {
  /** Prepended to every table name, the migration tables included. Default 'auth_'. */
  tablePrefix?: string;
  /**
   * Run pending migrations before the first repository call (and in init()).
   * Default true. Set false to migrate once at deploy time with `migrate()`.
   */
  autoMigrate?: boolean;
  /**
   * On PostgreSQL, hold one extra connection (outside the pool) that LISTENs for
   * revocations committed by any instance, so they apply here within milliseconds
   * instead of at the next `revocation.pollInterval`; polling stays as the fallback.
   * Default true; ignored on SQLite.
   */
  revocationNotify?: boolean;
}

export interface KnexStorage extends StorageAdapter {
  init(): Promise<void>;
  settings: SettingRepository;
  jobs: JobLeaseRepository;
  rateLimits: RateLimitRepository;
  close(): Promise<void>;
  /**
   * Applies the bundled migrations that have not run yet. Idempotent, and safe to
   * call from several instances at once on PostgreSQL (they queue on a lock).
   */
  migrate(): Promise<void>;
  /**
   * For `throttle.createLimiter`: on PostgreSQL, failed sign-in and MFA counts kept in
   * this database (rate-limiter-flexible's RateLimiterPostgres on this pool), shared
   * by every instance; on SQLite, the memory store.
   */
  rateLimiterFactory(): LimiterFactory;
  readonly knex: Knex;
  readonly tablePrefix: string;
}

export function createKnexStorage(config?: KnexStorageConfig, options: KnexStorageOptions = {}): KnexStorage {
  const tablePrefix = options.tablePrefix ?? 'auth_';
  const tables = tableNames(tablePrefix);
  const autoMigrate = options.autoMigrate ?? true;
  if (options.revocationNotify !== undefined && typeof options.revocationNotify !== 'boolean') {
    throw new TypeError(`revocationNotify must be true or false (got ${JSON.stringify(options.revocationNotify)})`);
  }
  const { knex, owned } = openConnection(config);
  const notifier = isPostgres(knex) && options.revocationNotify !== false ? new RevocationNotifier(knex, tables.revocations) : undefined;

  const migrate = async (): Promise<void> => {
    try {
      await runMigrations(knex, tables);
    } catch (err) {
      throw mapStorageError(err, tables);
    }
  };

  // Shared by concurrent first calls; forgotten on failure so a database that was
  // briefly unreachable at startup does not fail every later call.
  let migrated: Promise<void> | undefined;
  const ready = async (): Promise<void> => {
    if (!autoMigrate) return;
    migrated ??= migrate().catch((err: unknown) => {
      migrated = undefined;
      throw err;
    });
    return migrated;
  };

  const repositories = guardRepositories(createRepositories(knex, tables), tables, ready);
  // Outside `Repositories`: written once, never inside a transaction.
  const { settings, jobs, rateLimits } = guardRepositories(
    { settings: settingRepository(knex, tables), jobs: jobLeaseRepository(knex, tables), rateLimits: rateLimitRepository(knex, tables) },
    tables,
    ready,
  );

  return {
    ...repositories,
    settings,
    jobs,
    rateLimits,
    knex,
    tablePrefix,
    migrate,
    init: ready,
    rateLimiterFactory: () => knexLimiterFactory(knex, tables, ready),

    async transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
      // Errors thrown by fn are the caller's and pass through untouched; only the
      // transaction's own failures (begin, commit) are storage errors.
      let failure: { error: unknown } | undefined;
      try {
        await ready();
        return await knex.transaction(async (trx) => {
          try {
            return await fn(guardRepositories(createRepositories(trx, tables), tables));
          } catch (error) {
            failure = { error };
            throw error;
          }
        });
      } catch (err) {
        if (failure && failure.error === err) throw err;
        throw mapStorageError(err, tables);
      }
    },

    ...(notifier && { watchRevocations: (listener: RevocationWatchListener) => notifier.subscribe(listener) }),

    async close() {
      // Ours even on a Knex instance the caller owns.
      await notifier?.close();
      if (owned) await knex.destroy();
    },
  };
}
