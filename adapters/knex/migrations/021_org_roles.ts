import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * Custom roles per organization (a name and a JSON array of the host's permission
 * names), the custom role a membership holds, and the permission subset an API key is
 * limited to (JSON array; null: what its role grants). Roles go with their organization
 * (cascade). The membership column has no foreign key (SQLite cannot add one to an
 * existing table); a role is only deleted while no membership holds it, checked under
 * the org lock.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.orgRoles, (table) => {
    table.string('id', 64).primary();
    table.string('org_id').notNullable().references('id').inTable(t.orgs).onDelete('CASCADE');
    table.string('name', 64).notNullable();
    table.string('description', 500).nullable();
    table.text('permissions').notNullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('updated_at').notNullable();
    table.unique(['org_id', 'name']);
  });
  await knex.schema.alterTable(t.memberships, (table) => {
    table.string('custom_role_id', 64).nullable();
  });
  await knex.schema.alterTable(t.apiKeys, (table) => {
    table.text('permissions').nullable();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.apiKeys, (table) => {
    table.dropColumn('permissions');
  });
  await knex.schema.alterTable(t.memberships, (table) => {
    table.dropColumn('custom_role_id');
  });
  await knex.schema.dropTableIfExists(t.orgRoles);
}
