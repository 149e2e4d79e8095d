import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * When gatehouse knows the user's email to be theirs (epoch ms): set for accounts made
 * from an external identity that vouched for it. Null for password sign-ups and for
 * existing rows, which is what keeps them from ever being linked by email.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.users, (table) => {
    table.bigInteger('email_verified_at').nullable();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.alterTable(t.users, (table) => {
    table.dropColumn('email_verified_at');
  });
}
