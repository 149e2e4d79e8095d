import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * App sessions (per-application sign-in) are recorded as refresh families with no
 * refresh token handed out: `app_id` names the application, so revoking a grant or
 * deleting the application finds its sessions by this index.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.string('app_id').nullable();
    table.index(['app_id']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.dropIndex(['app_id']);
    table.dropColumn('app_id');
  });
}
