import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * Single-use tokens sent by mail (`mailTokens`), by SHA-256 of the token. The consume
 * is one conditional UPDATE on `used_at`/`revoked_at`, which is what makes a second use lose.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.mailTokens, (table) => {
    table.string('id_hash', 64).primary();
    table.string('kind', 32).notNullable();
    table.string('user_id').notNullable().references('id').inTable(t.users).onDelete('CASCADE');
    table.string('email', 320).notNullable();
    table.bigInteger('expires_at').notNullable().index();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('used_at').nullable();
    table.bigInteger('revoked_at').nullable();
    table.index(['user_id', 'kind']);
  });
  // Whether gatehouse mailed an invitation's code: only then does joining with it prove the address.
  await knex.schema.alterTable(t.invitations, (table) => {
    table.bigInteger('mailed_at').nullable();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.invitations, (table) => {
    table.dropColumn('mailed_at');
  });
  await knex.schema.dropTableIfExists(t.mailTokens);
}
