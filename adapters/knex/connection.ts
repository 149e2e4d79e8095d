import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knex, { type Knex } from 'knex';

/** A Knex instance, a Knex config, a SQLite filename, or `{ filename }` for SQLite. */
export type KnexStorageConfig = Knex | Knex.Config | string | { filename: string };

export const DEFAULT_FILENAME = './gatehouse.sqlite';

export interface Connection {
  knex: Knex;
  /** False when the caller passed a Knex instance: its lifetime is theirs. */
  owned: boolean;
}

export function openConnection(config: KnexStorageConfig = DEFAULT_FILENAME): Connection {
  if (isKnexInstance(config)) return { knex: config, owned: false };
  if (typeof config === 'string') return { knex: knex(sqliteFile(config)), owned: true };
  if (!('client' in config) && 'filename' in config && typeof config.filename === 'string') {
    return { knex: knex(sqliteFile(config.filename)), owned: true };
  }
  const knexConfig = config as Knex.Config;
  return { knex: knex(knexConfig.client === 'better-sqlite3' ? sqliteConfig(knexConfig) : knexConfig), owned: true };
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
      if (!memory) conn.pragma('journal_mode = WAL');
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
