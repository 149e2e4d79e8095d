import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * Indexes found missing by explaining every statement of the paths that must cost the
 * same at a million rows as at ten (test/adapters/query-plans.test.ts; the table is in
 * docs/storage.md). Only the throttle's counters lacked one: the scheduled purge
 * selects them by `expire`, which scanned the whole table.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.rateLimits, (table) => {
    table.index(['expire']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.rateLimits, (table) => {
    table.dropIndex(['expire']);
  });
}
