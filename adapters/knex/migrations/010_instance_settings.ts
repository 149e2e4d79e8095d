import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/** Settings set once per installation (`settings.ensure`): the primary key is what makes the first writer win. */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.instanceSettings, (table) => {
    table.string('name', 64).primary();
    table.text('value').notNullable();
    table.bigInteger('created_at').notNullable();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.instanceSettings);
}
