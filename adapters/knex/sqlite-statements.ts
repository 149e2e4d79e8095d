import type { Knex } from 'knex';

/** The part of a better-sqlite3 statement used here. */
interface Statement {
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): { changes: number };
}

interface SqliteConnection {
  prepare(sql: string): Statement;
  exec(sql: string): unknown;
  readonly inTransaction: boolean;
}

interface PendingWrite {
  /** The write's statements, run inside the batch's transaction; what it returns settles the promise. */
  work: (conn: SqliteConnection) => unknown;
  /** False for a read: a batch of reads only takes no write lock. */
  writes: boolean;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** Runs statements of a `writeSteps` unit. */
export interface StepRunner {
  /** A statement's first row (RETURNING or a read), or undefined. */
  get<Row>(sql: string, params: readonly unknown[]): Row | undefined;
  /** A statement: rows changed. */
  run(sql: string, params: readonly unknown[]): number;
}

/**
 * Runs a few hot statements (a refresh-token rotation, the membership read of a
 * refresh) on SQLite without knex's query builder and runner, which cost several
 * times what better-sqlite3 itself takes for these one-row statements. Statements
 * are prepared once per connection. knex still owns the connection: each batch
 * borrows it from knex's pool and gives it back, so it waits behind an open
 * transaction exactly as a knex query would.
 *
 * Statements are group-committed: those requested while the event loop is busy are
 * run together in one transaction (each statement still all-or-nothing on its own),
 * and each promise resolves once that transaction has committed. A commit costs
 * SQLite more than the one-row statement in it, and under load many rotations arrive
 * together, so this halves what a rotation costs the event loop. Reads join the
 * batch too (a batch of reads only is a plain read transaction): a read on its own
 * pays for starting and ending a read transaction and for borrowing the connection,
 * together more than the read, and a rotation makes two.
 */
export interface SqliteStatements {
  /**
   * Reads: the first row, or undefined. Batched with the writes (in the same
   * transaction, in the order asked, so a read sees the writes asked before it), and
   * settled only once that transaction has committed.
   */
  get<Row>(sql: string, params: readonly unknown[]): Promise<Row | undefined>;
  /** A write returning rows (RETURNING): the first, or undefined. Group-committed. */
  writeGet<Row>(sql: string, params: readonly unknown[]): Promise<Row | undefined>;
  /** A write: rows changed. Group-committed. */
  write(sql: string, params: readonly unknown[]): Promise<number>;
  /**
   * Several statements as one write, decided as they run (a later one may depend on what
   * an earlier one returned), in the batch's transaction. `steps` must be synchronous,
   * and must undo what it wrote before it throws: there is no savepoint around it (one
   * per write cost more than the statements). Group-committed.
   */
  writeSteps<T>(steps: (run: StepRunner) => T): Promise<T>;
}

type PoolClient = {
  driverName?: string;
  acquireConnection(): Promise<unknown>;
  releaseConnection(conn: unknown): Promise<unknown>;
};

/**
 * For a knex instance on better-sqlite3, outside a transaction; null otherwise
 * (PostgreSQL, node-sqlite3, or a transaction, whose connection knex manages
 * itself): callers then use the query builder.
 */
export function sqliteStatements(db: Knex): SqliteStatements | null {
  const client = db.client as PoolClient;
  if (client.driverName !== 'better-sqlite3' || (db as { isTransaction?: boolean }).isTransaction) return null;
  return batchers.get(client) ?? create(client);
}

// One per knex client, shared by the repositories built on it, so writes from all of them batch together.
const batchers = new WeakMap<PoolClient, SqliteStatements>();

function create(client: PoolClient): SqliteStatements {
  const prepared = new WeakMap<object, Map<string, Statement>>();
  const statement = (conn: SqliteConnection, sql: string): Statement => {
    let statements = prepared.get(conn);
    if (!statements) {
      statements = new Map();
      prepared.set(conn, statements);
    }
    let found = statements.get(sql);
    if (!found) {
      found = conn.prepare(sql);
      statements.set(sql, found);
    }
    return found;
  };

  async function use<T>(fn: (conn: SqliteConnection) => T): Promise<T> {
    const conn = (await client.acquireConnection()) as SqliteConnection;
    try {
      return fn(conn);
    } finally {
      await client.releaseConnection(conn);
    }
  }

  let queue: PendingWrite[] = [];
  let flushing = false;

  function enqueue(work: PendingWrite['work'], writes = true): Promise<unknown> {
    return new Promise((resolve, reject) => {
      queue.push({ work, writes, resolve, reject });
      if (!flushing) {
        flushing = true;
        // After the I/O callbacks of this turn of the event loop, which are what queue writes.
        setImmediate(flush);
      }
    });
  }

  function flush(): void {
    const batch = queue;
    queue = [];
    use((conn) => commit(conn, batch)).then(
      () => next(),
      (err: unknown) => {
        for (const write of batch) write.reject(err);
        next();
      },
    );
  }

  function next(): void {
    if (queue.length > 0) setImmediate(flush);
    else flushing = false;
  }

  /** Runs the batch in one transaction; settles each write once the outcome is known. */
  function commit(conn: SqliteConnection, batch: PendingWrite[]): void {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    conn.exec(batch.some((write) => write.writes) ? 'BEGIN IMMEDIATE' : 'BEGIN');
    try {
      for (const write of batch) {
        try {
          outcomes.push({ ok: true, value: write.work(conn) });
        } catch (error) {
          // A failed statement (a constraint, say) is undone on its own; the transaction goes on,
          // unless SQLite had to roll it back (I/O error, disk full): then nothing of it stays.
          outcomes.push({ ok: false, error });
          if (!conn.inTransaction) throw error;
        }
      }
      conn.exec('COMMIT');
    } catch (err) {
      if (conn.inTransaction) conn.exec('ROLLBACK');
      throw err;
    }
    batch.forEach((write, i) => {
      const outcome = outcomes[i] as (typeof outcomes)[number];
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
  }

  const statements: SqliteStatements = {
    get: <Row>(sql: string, params: readonly unknown[]) => enqueue((conn) => statement(conn, sql).get(...params), false) as Promise<Row | undefined>,
    writeGet: <Row>(sql: string, params: readonly unknown[]) => enqueue((conn) => statement(conn, sql).get(...params)) as Promise<Row | undefined>,
    write: (sql: string, params: readonly unknown[]) => enqueue((conn) => statement(conn, sql).run(...params).changes) as Promise<number>,
    writeSteps: <T>(steps: (run: StepRunner) => T) =>
      enqueue((conn) =>
        steps({
          get: <Row>(sql: string, params: readonly unknown[]) => statement(conn, sql).get(...params) as Row | undefined,
          run: (sql, params) => statement(conn, sql).run(...params).changes,
        }),
      ) as Promise<T>,
  };
  batchers.set(client, statements);
  return statements;
}

/** A double-quoted SQL identifier. */
export function quoted(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
