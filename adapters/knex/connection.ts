import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knex, { type Knex } from 'knex';

/**
 * A Knex instance, a Knex config, `{ filename }` for SQLite, or a string: a
 * `postgres://` / `postgresql://` URL for PostgreSQL, any other string is a SQLite filename.
 */
export type KnexStorageConfig = Knex | Knex.Config | string | { filename: string };

export const DEFAULT_FILENAME = './gatehouse.sqlite';

export interface Connection {
  knex: Knex;
  /** False when the caller passed a Knex instance: its lifetime is theirs. */
  owned: boolean;
}

export function openConnection(config: KnexStorageConfig = DEFAULT_FILENAME): Connection {
  if (isKnexInstance(config)) return { knex: config, owned: false };
  if (typeof config === 'string') {
    return { knex: knex(isPostgresUrl(config) ? postgresUrl(config) : sqliteFile(config)), owned: true };
  }
  if (!('client' in config) && 'filename' in config && typeof config.filename === 'string') {
    return { knex: knex(sqliteFile(config.filename)), owned: true };
  }
  const knexConfig = config as Knex.Config;
  return { knex: knex(knexConfig.client === 'better-sqlite3' ? sqliteConfig(knexConfig) : knexConfig), owned: true };
}

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/**
 * PostgreSQL from a URL, with bounds that make an unreachable database fail fast
 * (503 `storage_unavailable`) instead of holding requests for knex's default 60 s.
 * Pass a full Knex config to choose other values.
 */
function postgresUrl(connectionString: string): Knex.Config {
  return {
    client: 'pg',
    connection: { connectionString, connectionTimeoutMillis: 5_000, keepAlive: true },
    // min 0: idle connections are closed after 30 s, so a database restart leaves
    // no dead sockets behind for long.
    pool: { min: 0, max: 10 },
    acquireConnectionTimeout: 10_000,
  };
}

function sqliteFile(filename: string): Knex.Config {
  return sqliteConfig({ client: 'better-sqlite3', connection: { filename } });
}

function isKnexInstance(value: unknown): value is Knex {
  // A Knex instance is a callable query-builder factory; configs are plain objects.
  return typeof value === 'function' && 'client' in value && 'transaction' in value;
}

function isMemory(filename: string): boolean {
  return filename === '' || filename === ':memory:' || filename.startsWith('file::memory:');
}

function staticFilename(config: Knex.Config): string | undefined {
  const connection = config.connection;
  if (typeof connection !== 'object' || connection === null) return undefined;
  const filename = (connection as { filename?: unknown }).filename;
  return typeof filename === 'string' ? filename : undefined;
}

/** Adds what gatehouse needs from every SQLite connection, keeping the caller's settings. */
function sqliteConfig(config: Knex.Config): Knex.Config {
  const filename = staticFilename(config);
  const memory = filename !== undefined && isMemory(filename);
  if (filename !== undefined && !memory && !filename.startsWith('file:')) {
    mkdirSync(dirname(resolve(filename)), { recursive: true });
  }

  const userAfterCreate = config.pool?.afterCreate as
    | ((conn: unknown, done: (err: Error | null, conn: unknown) => void) => void)
    | undefined;

  const afterCreate = (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void): void => {
    try {
      // WAL lets readers run beside the writer in other processes; meaningless in memory.
      // With WAL, synchronous=NORMAL (SQLite's recommendation for WAL) syncs the log at
      // checkpoints instead of at every commit: a crash of the process loses nothing and
      // the file can never be corrupted, but a power cut may undo the last commits. FULL
      // made each commit (a refresh rotation, a sign-in) cost a disk flush. A pool
      // `afterCreate` of your own runs after this one and can set it back to FULL.
      // A checkpoint (every 1,000 pages of log by SQLite's default) copies the log into the
      // file and flushes both, on the event loop, and the flushes cost the same however much
      // was copied: every 4,000 pages (a log of up to about 16 MB) took a refresh rotation's
      // statements from about 97 to 80 µs of event-loop time in a batch of 50.
      if (!memory) {
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('wal_autocheckpoint = 4000');
      }
      // SQLite leaves foreign keys off per connection unless asked: cascades need them.
      conn.pragma('foreign_keys = ON');
      conn.pragma('busy_timeout = 5000');
    } catch (err) {
      done(err as Error, conn);
      return;
    }
    if (userAfterCreate) userAfterCreate(conn, done);
    else done(null, conn);
  };

  return {
    useNullAsDefault: true,
    ...config,
    pool: { ...config.pool, afterCreate },
  };
}

interface SqliteConnection {
  pragma(source: string): unknown;
}
