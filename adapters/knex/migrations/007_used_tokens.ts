import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/** Spent single-use tokens (`usedTokens`): the primary key is what makes a second use lose. */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.usedTokens, (table) => {
    table.string('id_hash', 64).primary();
    table.bigInteger('expires_at').notNullable().index();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.usedTokens);
}
