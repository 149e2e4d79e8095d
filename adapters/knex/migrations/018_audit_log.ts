import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';

/**
 * The audit log: entries hash-chained per chain (an org, or a user's account-only
 * events), and one head row per chain. Appends lock the head row, so two transactions
 * never take the same seq; the head also keeps the checkpoint (the last purged entry)
 * that verification starts from once old entries are gone.
 *
 * No foreign keys to users or orgs: the log outlives what it describes (a removed
 * member, a deleted org) until retention purges it.
 */
export async function up(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.createTable(t.auditHeads, (table) => {
    table.string('chain', 160).primary();
    table.bigInteger('seq').notNullable();
    table.string('hash', 64).notNullable();
    table.bigInteger('checkpoint_seq').nullable();
    table.string('checkpoint_hash', 64).nullable();
  });
  await knex.schema.createTable(t.auditLog, (table) => {
    table.string('id', 64).primary();
    table.string('chain', 160).notNullable();
    table.bigInteger('seq').notNullable();
    table.string('org_id', 64).nullable();
    table.bigInteger('at').notNullable();
    table.string('actor_type', 16).notNullable();
    table.string('actor_id', 128).nullable();
    table.string('action', 64).notNullable();
    table.string('target_type', 32).nullable();
    table.string('target_id', 128).nullable();
    table.string('ip', 64).nullable();
    table.string('user_agent', 512).nullable();
    table.text('data').notNullable();
    table.string('prev_hash', 64).notNullable();
    table.string('hash', 64).notNullable();
    // Serves listing (newest first), verification (seq order) and the one-seq-per-chain rule.
    table.unique(['chain', 'seq'], { indexName: `${t.auditLog}_chain_seq` });
    // The purge finds old entries across chains.
    table.index(['at'], `${t.auditLog}_at`);
  });
}

export async function down(knex: Knex, t: TableNames): Promise<void> {
  await knex.schema.dropTableIfExists(t.auditLog);
  await knex.schema.dropTableIfExists(t.auditHeads);
}
