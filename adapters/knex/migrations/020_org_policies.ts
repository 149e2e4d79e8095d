import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * Security policies per organization (one row per org, gone with it), and the first
 * factor each session began with, so that a policy narrowing the sign-in methods can
 * find the sessions it no longer allows. Sessions stored before have no method: a
 * policy with a method list ends them.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.orgPolicies, (table) => {
    table.string('org_id').primary().references('id').inTable(t.orgs).onDelete('CASCADE');
    table.boolean('require_mfa').notNullable().defaultTo(false);
    // JSON array of method names; null: every method.
    table.text('allowed_sign_in_methods').nullable();
    table.integer('max_session_age').nullable();
    table.integer('api_key_max_lifetime').nullable();
    table.bigInteger('updated_at').notNullable();
  });
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.string('method', 100).nullable();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.dropColumn('method');
  });
  await knex.schema.dropTableIfExists(t.orgPolicies);
}
