import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.apiKeys, (table) => {
    table.string('id').primary();
    table.string('org_id').notNullable().references('id').inTable(t.orgs).onDelete('CASCADE');
    table.string('name').notNullable();
    // Every authenticated request by key looks it up by prefix.
    table.string('prefix', 64).notNullable().unique();
    table.string('secret_hash', 64).notNullable();
    table.string('role', 32).notNullable();
    table.string('created_by').notNullable().references('id').inTable(t.users).onDelete('CASCADE');
    table.bigInteger('created_at').notNullable();
    table.bigInteger('expires_at').nullable();
    table.bigInteger('last_used_at').nullable();
    table.bigInteger('revoked_at').nullable();
    table.index(['org_id']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.apiKeys);
}
