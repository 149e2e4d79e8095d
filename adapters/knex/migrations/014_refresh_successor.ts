import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * The successor pair of a consumed refresh token, sealed (AES-GCM under a server-derived
 * key), written in the same conditional UPDATE that consumes the token: a second
 * presentation within the reuse grace gets that same pair back instead of revoking the
 * session. Text, not a bounded string: it holds two signed JWTs.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.text('successor').nullable();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.dropColumn('successor');
  });
}
