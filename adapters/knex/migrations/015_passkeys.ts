import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * WebAuthn credentials (passkeys). The credential ID is unique across users: an
 * authenticator makes a new one per registration, so a duplicate is a replayed
 * registration. Text for the public key: COSE keys of RSA credentials exceed 255 bytes.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.passkeys, (table) => {
    table.string('id').primary();
    table.string('user_id').notNullable().references('id').inTable(t.users).onDelete('CASCADE').index();
    table.string('credential_id', 1400).notNullable().unique();
    table.text('public_key').notNullable();
    table.bigInteger('counter').notNullable();
    table.string('transports', 255).notNullable();
    table.string('device_type', 16).notNullable();
    table.boolean('backed_up').notNullable();
    table.string('name', 100).nullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('last_used_at').nullable();
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.passkeys);
}
