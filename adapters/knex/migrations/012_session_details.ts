import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * What GET /sessions shows of a session (a refresh family): the client of the latest
 * sign-in, refresh or renewal (`user_agent`, `ip`) and when a token of it was last
 * renewed without rotation (`last_used_at`; a rotation's new row has its own
 * `created_at`). Null on rows written before this migration. Deleting an org revokes
 * every session scoped to it: `org_id` gets an index for that.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.string('user_agent', 512).nullable();
    table.string('ip', 64).nullable();
    table.bigInteger('last_used_at').nullable();
    table.index(['org_id']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.dropIndex(['org_id']);
    table.dropColumn('last_used_at');
    table.dropColumn('ip');
    table.dropColumn('user_agent');
  });
}
