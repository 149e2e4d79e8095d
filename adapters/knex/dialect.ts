import type { Knex } from 'knex';

/**
 * True for PostgreSQL. The adapter supports SQLite and PostgreSQL; the two differ
 * where concurrency does: SQLite runs one writer at a time, PostgreSQL runs
 * transactions side by side at READ COMMITTED and needs explicit locks there.
 */
export function isPostgres(db: Knex): boolean {
  return (db.client as { dialect?: unknown }).dialect === 'postgresql';
}
