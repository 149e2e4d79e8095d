import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.applications, (table) => {
    table.string('id').primary();
    table.string('org_id').notNullable().references('id').inTable(t.orgs).onDelete('CASCADE');
    table.string('name').notNullable();
    table.text('url').notNullable();
    // Sign-in by URL looks applications up by this key.
    table.string('url_key', 512).notNullable().unique();
    table.text('redirect_url').nullable();
    table.bigInteger('created_at').notNullable();
    table.index(['org_id']);
  });

  await knex.schema.createTable(t.applicationGrants, (table) => {
    table.string('app_id').notNullable().references('id').inTable(t.applications).onDelete('CASCADE');
    table.string('user_id').notNullable().references('id').inTable(t.users).onDelete('CASCADE');
    table.bigInteger('created_at').notNullable();
    table.primary(['app_id', 'user_id']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.applicationGrants);
  await knex.schema.dropTableIfExists(t.applications);
}
