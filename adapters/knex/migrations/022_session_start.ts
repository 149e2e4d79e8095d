import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * Refresh tokens are purged once they expire, not once their session (family) ends: a
 * rotated token past its own expiry can never be presented again (its signature check
 * refuses it first), so keeping it until the family's end, up to `sessionMaxAge`, only
 * grew the table. What the first token alone used to carry, the session's start (for
 * the session list and the org policies that judge a session by its age), is now on
 * every token: `session_created_at`, handed on by each rotation and filled in here for
 * the tokens already stored. The purge reads tokens by `expires_at`, whose index only
 * ever appends; the family-end index it replaces put one more page into every
 * rotation's write. An instance of the previous version still runs on this schema
 * (its purge only gets slower) and leaves the column empty; readers then fall back to
 * the family's first token.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.bigInteger('session_created_at').nullable();
  });
  await knex.raw('update ?? set ?? = (select min(??) from ?? as ?? where ?? = ??)', [
    t.refreshTokens,
    'session_created_at',
    'first.created_at',
    t.refreshTokens,
    'first',
    'first.family_id',
    `${t.refreshTokens}.family_id`,
  ]);
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.index(['expires_at']);
    table.dropIndex(['family_expires_at']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.refreshTokens, (table) => {
    table.index(['family_expires_at']);
    table.dropIndex(['expires_at']);
    table.dropColumn('session_created_at');
  });
}
