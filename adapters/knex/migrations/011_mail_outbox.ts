import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * The mail outbox: rendered mails written in the transaction of the action that caused
 * them, claimed by a worker with a lease (`claimed_until`, `claim_id`) and kept after
 * delivery until purged. The index serves the worker's "due and unclaimed" scan.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.outbox, (table) => {
    table.string('id', 64).primary();
    table.string('kind', 64).notNullable();
    table.string('to', 320).notNullable();
    table.text('subject').notNullable();
    table.text('text').notNullable();
    table.text('html').nullable();
    table.bigInteger('created_at').notNullable();
    table.integer('attempts').notNullable().defaultTo(0);
    table.bigInteger('next_attempt_at').notNullable();
    table.bigInteger('claimed_until').nullable();
    table.string('claim_id', 64).nullable();
    table.bigInteger('sent_at').nullable();
    table.bigInteger('failed_at').nullable();
    table.text('last_error').nullable();
    table.index(['sent_at', 'failed_at', 'next_attempt_at']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.outbox);
}
