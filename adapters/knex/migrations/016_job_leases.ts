import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * One row per background job shared by every instance on the database (the purge):
 * when it may run next and who claimed the last run. A claim is one conditional
 * UPDATE on `next_run_at`, so of the instances that find it due exactly one wins.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.jobLeases, (table) => {
    table.string('name', 64).primary();
    table.bigInteger('next_run_at').notNullable();
    table.string('holder', 128).notNullable();
    table.bigInteger('claimed_at').notNullable();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.jobLeases);
}
