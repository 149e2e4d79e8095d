import type { Knex } from 'knex';

/**
 * Deletes the rows `filter` selects, at most `limit` of them when given, by primary key
 * (`DELETE … WHERE key IN (SELECT key … LIMIT n)`, the same on SQLite and PostgreSQL):
 * a bounded batch holds its locks (SQLite: the write lock) briefly, so requests keep
 * being served while a large backlog is purged batch by batch.
 */
export async function deleteRows(db: Knex, table: string, key: string, filter: (query: Knex.QueryBuilder) => void, limit?: number): Promise<number> {
  if (limit === undefined) return db(table).where(filter).delete();
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError(`purge limit must be a positive integer (got ${limit})`);
  return db(table)
    .whereIn(key, db(table).select(key).where(filter).limit(limit))
    .delete();
}
