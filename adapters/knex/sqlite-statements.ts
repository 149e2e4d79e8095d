import type { Knex } from 'knex';

/** The part of a better-sqlite3 statement used here. */
interface Statement {
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): { changes: number };
}

interface SqliteConnection {
  prepare(sql: string): Statement;
}

/**
 * Runs a few hot statements (a refresh-token rotation, the membership read of a
 * refresh) on SQLite without knex's query builder and runner, which cost several
 * times what better-sqlite3 itself takes for these one-row statements. Statements
 * are prepared once per connection. knex still owns the connection: each call
 * borrows it from knex's pool and gives it back, so it waits behind an open
 * transaction exactly as a knex query would.
 */
export interface SqliteStatements {
  /** The first row, or undefined. */
  get<Row>(sql: string, params: readonly unknown[]): Promise<Row | undefined>;
  /** Rows changed. */
  run(sql: string, params: readonly unknown[]): Promise<number>;
}

/**
 * For a knex instance on better-sqlite3, outside a transaction; null otherwise
 * (PostgreSQL, node-sqlite3, or a transaction, whose connection knex manages
 * itself): callers then use the query builder.
 */
export function sqliteStatements(db: Knex): SqliteStatements | null {
  const client = db.client as { driverName?: string; acquireConnection(): Promise<unknown>; releaseConnection(conn: unknown): Promise<unknown> };
  if (client.driverName !== 'better-sqlite3' || (db as { isTransaction?: boolean }).isTransaction) return null;
  const prepared = new WeakMap<object, Map<string, Statement>>();

  async function use<T>(sql: string, fn: (statement: Statement) => T): Promise<T> {
    const conn = (await client.acquireConnection()) as SqliteConnection;
    try {
      let statements = prepared.get(conn);
      if (!statements) {
        statements = new Map();
        prepared.set(conn, statements);
      }
      let statement = statements.get(sql);
      if (!statement) {
        statement = conn.prepare(sql);
        statements.set(sql, statement);
      }
      return fn(statement);
    } finally {
      await client.releaseConnection(conn);
    }
  }

  return {
    get: <Row>(sql: string, params: readonly unknown[]) => use(sql, (statement) => statement.get(...params) as Row | undefined),
    run: (sql: string, params: readonly unknown[]) => use(sql, (statement) => statement.run(...params).changes),
  };
}

/** A double-quoted SQL identifier. */
export function quoted(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
