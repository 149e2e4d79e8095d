import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * The table rate-limiter-flexible's RateLimiterPostgres keeps its counters in, with
 * its exact columns, for `storage.rateLimiterFactory()`. Created here rather than by
 * the limiter (which runs `CREATE TABLE IF NOT EXISTS` from its constructor) so it
 * exists once migrations ran, also when they run at deploy time, and so instances
 * starting together do not race to create it. Unused (but harmless) on SQLite.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.rateLimits, (table) => {
    table.string('key', 255).primary();
    table.integer('points').notNullable().defaultTo(0);
    // Epoch ms when the window ends; the limiter deletes rows an hour past it.
    table.bigInteger('expire').nullable();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.rateLimits);
}
