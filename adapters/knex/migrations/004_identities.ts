import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.identities, (table) => {
    // 'google' or an issuer URL; the subject is the provider's `sub` (Google: up to 255 ASCII characters).
    table.string('provider', 255).notNullable();
    table.string('subject', 255).notNullable();
    table.string('user_id').notNullable().references('id').inTable(t.users).onDelete('CASCADE');
    table.string('email').nullable();
    table.bigInteger('created_at').notNullable();
    // One account per (provider, subject): the key every external sign-in looks up.
    table.primary(['provider', 'subject']);
    table.index(['user_id']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.identities);
}
