import type { Knex } from 'knex';
import type { TableNames } from '../tables.js';
import * as core from './001_core.js';
import * as apiKeys from './002_api_keys.js';
import * as mfa from './003_mfa.js';
import * as identities from './004_identities.js';

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
  await knex.migrate.latest({
    migrationSource: migrationSource(tables),
    tableName: tables.migrations,
  });
}
