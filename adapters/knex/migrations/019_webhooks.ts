import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * Webhooks per organization: the endpoints (signing secret sealed, bound to the row's
 * id) and their delivery outbox. Deliveries carry an increasing `seq` so that one
 * endpoint's events go out in the order they were recorded; the worker's claim takes
 * only the oldest pending delivery of each endpoint (the second index serves that
 * test). Both go with their organization (cascade).
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.webhookEndpoints, (table) => {
    table.string('id', 64).primary();
    table.string('org_id').notNullable().references('id').inTable(t.orgs).onDelete('CASCADE').index();
    table.string('url', 2048).notNullable();
    // JSON array of audit actions; null: every event.
    table.text('events').nullable();
    table.text('secret').notNullable();
    table.boolean('enabled').notNullable().defaultTo(true);
    table.integer('consecutive_failures').notNullable().defaultTo(0);
    table.string('disabled_reason', 500).nullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('updated_at').notNullable();
  });
  await knex.schema.createTable(t.webhookDeliveries, (table) => {
    table.bigIncrements('seq');
    table.string('id', 64).notNullable().unique();
    table.string('endpoint_id', 64).notNullable().references('id').inTable(t.webhookEndpoints).onDelete('CASCADE');
    table.string('event_id', 64).notNullable();
    table.string('event_type', 128).notNullable();
    table.text('payload').notNullable();
    table.string('status', 16).notNullable();
    table.integer('attempts').notNullable().defaultTo(0);
    table.bigInteger('next_attempt_at').notNullable();
    table.bigInteger('claimed_until').nullable();
    table.string('claim_id', 64).nullable();
    table.integer('last_status_code').nullable();
    table.text('last_error').nullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('delivered_at').nullable();
    table.index(['status', 'next_attempt_at']);
    table.index(['endpoint_id', 'status', 'seq']);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.webhookDeliveries);
  await knex.schema.dropTableIfExists(t.webhookEndpoints);
}
