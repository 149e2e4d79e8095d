import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.totp, (table) => {
    table.string('user_id').primary().references('id').inTable(t.users).onDelete('CASCADE');
    table.text('secret_ciphertext').notNullable();
    table.bigInteger('enabled_at').nullable();
    table.bigInteger('last_used_step').nullable();
    table.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable(t.recoveryCodes, (table) => {
    table.string('user_id').notNullable().references('id').inTable(t.users).onDelete('CASCADE');
    table.string('code_hash', 64).notNullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('used_at').nullable();
    table.primary(['user_id', 'code_hash']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.recoveryCodes);
  await knex.schema.dropTableIfExists(t.totp);
}
