import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

// Times are epoch milliseconds, which overflow a 32-bit integer: always bigInteger.

export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.users, (table) => {
    table.string('id').primary();
    table.string('email').notNullable().unique();
    table.string('username').nullable();
    // Usernames are unique ignoring case; a lowercased copy lets a plain unique
    // index enforce that on every database.
    table.string('username_key').nullable().unique();
    table.string('first_name').nullable();
    table.string('last_name').nullable();
    table.text('password_hash').nullable();
    table.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable(t.orgs, (table) => {
    table.string('id').primary();
    table.string('name').notNullable();
    table.string('slug').notNullable().unique();
    table.text('description').nullable();
    table.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable(t.memberships, (table) => {
    table.string('user_id').notNullable().references('id').inTable(t.users).onDelete('CASCADE');
    table.string('org_id').notNullable().references('id').inTable(t.orgs).onDelete('CASCADE');
    table.string('role', 32).notNullable();
    table.bigInteger('created_at').notNullable();
    table.primary(['user_id', 'org_id']);
    // The primary key serves lookups by user; listing an org's members needs its own.
    table.index(['org_id']);
  });

  await knex.schema.createTable(t.invitations, (table) => {
    table.string('id').primary();
    table.string('org_id').notNullable().references('id').inTable(t.orgs).onDelete('CASCADE');
    table.string('code_hash').notNullable().unique();
    table.string('role', 32).notNullable();
    table.string('email').nullable();
    table.bigInteger('expires_at').notNullable();
    table.string('created_by').notNullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('used_at').nullable();
    table.string('used_by').nullable();
    table.bigInteger('revoked_at').nullable();
    table.index(['org_id']);
  });

  await knex.schema.createTable(t.refreshTokens, (table) => {
    table.string('id_hash').primary();
    table.string('family_id').notNullable();
    table.string('user_id').notNullable().references('id').inTable(t.users).onDelete('CASCADE');
    table.string('org_id').nullable();
    table.bigInteger('expires_at').notNullable();
    table.bigInteger('family_expires_at').notNullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('used_at').nullable();
    table.bigInteger('revoked_at').nullable();
    table.index(['family_id']);
    table.index(['user_id']);
    // purgeExpired scans by family end.
    table.index(['family_expires_at']);
  });

  await knex.schema.createTable(t.revocations, (table) => {
    // The sequence is the polling cursor, so it must only ever grow.
    table.bigIncrements('seq');
    table.string('kind', 16).notNullable();
    table.string('key').notNullable();
    table.bigInteger('expires_at').notNullable();
    table.bigInteger('created_at').notNullable();
    table.index(['expires_at']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  // Children before parents, so foreign keys never block a drop.
  for (const name of [t.revocations, t.refreshTokens, t.invitations, t.memberships, t.orgs, t.users]) {
    await knex.schema.dropTableIfExists(name);
  }
}
