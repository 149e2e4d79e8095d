import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';
import * as core from './001_core.js';
import * as apiKeys from './002_api_keys.js';
import * as mfa from './003_mfa.js';
import * as identities from './004_identities.js';
import * as applications from './005_applications.js';
import * as rateLimits from './006_rate_limits.js';
import * as usedTokens from './007_used_tokens.js';
import * as appSessions from './008_app_sessions.js';
import * as emailVerified from './009_email_verified.js';
import * as instanceSettings from './010_instance_settings.js';
import * as mailOutbox from './011_mail_outbox.js';
import * as sessionDetails from './012_session_details.js';
import * as mailTokens from './013_mail_tokens.js';
import * as refreshSuccessor from './014_refresh_successor.js';
import * as passkeys from './015_passkeys.js';
import * as jobLeases from './016_job_leases.js';
import * as scaleIndexes from './017_scale_indexes.js';
import * as auditLog from './018_audit_log.js';
import * as webhooks from './019_webhooks.js';
import * as orgPolicies from './020_org_policies.js';
import * as orgRoles from './021_org_roles.js';
import * as sessionStart from './022_session_start.js';
import { isPostgres } from '../dialect.js';

interface BundledMigration {
  name: string;
  up(knex: Knex, tables: TableNames): Promise<void>;
  down(knex: Knex, tables: TableNames): Promise<void>;
}

// Listed by hand rather than globbed from disk, so the same list works from the
// .ts sources and from dist/. Names are recorded in the migrations table: never
// rename one, only append.
const migrations: readonly BundledMigration[] = [
  { name: '001_core', ...core },
  { name: '002_api_keys', ...apiKeys },
  { name: '003_mfa', ...mfa },
  { name: '004_identities', ...identities },
  { name: '005_applications', ...applications },
  { name: '006_rate_limits', ...rateLimits },
  { name: '007_used_tokens', ...usedTokens },
  { name: '008_app_sessions', ...appSessions },
  { name: '009_email_verified', ...emailVerified },
  { name: '010_instance_settings', ...instanceSettings },
  { name: '011_mail_outbox', ...mailOutbox },
  { name: '012_session_details', ...sessionDetails },
  { name: '013_mail_tokens', ...mailTokens },
  { name: '014_refresh_successor', ...refreshSuccessor },
  { name: '015_passkeys', ...passkeys },
  { name: '016_job_leases', ...jobLeases },
  { name: '017_scale_indexes', ...scaleIndexes },
  { name: '018_audit_log', ...auditLog },
  { name: '019_webhooks', ...webhooks },
  { name: '020_org_policies', ...orgPolicies },
  { name: '021_org_roles', ...orgRoles },
  { name: '022_session_start', ...sessionStart },
];

export function migrationSource(tables: TableNames): Knex.MigrationSource<BundledMigration> {
  return {
    getMigrations: async () => [...migrations],
    getMigrationName: (migration) => migration.name,
    getMigration: async (migration) => ({
      up: (knex) => migration.up(knex, tables),
      down: (knex) => migration.down(knex, tables),
    }),
  };
}

export async function runMigrations(knex: Knex, tables: TableNames): Promise<void> {
  const config = {
    migrationSource: migrationSource(tables),
    tableName: tables.migrations,
    // During a rolling upgrade an instance of the previous version may (re)start
    // against a database a newer one already migrated. Migrations only add (the one
    // index 022 takes away only slows the older purge), so it can run; knex would
    // refuse the migrations it does not know as "missing".
    disableMigrationsListValidation: true,
  };
  if (!isPostgres(knex)) {
    await knex.migrate.latest(config);
    return;
  }
  // Instances started together would race in knex's own bookkeeping (creating the
  // migrations tables, inserting the lock row) and the losers would fail with
  // "Migration table is already locked". A transaction-scoped advisory lock queues
  // them instead: the first migrates, the others then find nothing pending. It is
  // released at commit, or by the server if the process dies.
  await knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`gatehouse:migrate:${tables.migrations}`]);
    await trx.migrate.latest(config);
  });
}
