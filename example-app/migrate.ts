/**
 * Applies gatehouse's migrations and exits: run it once per deploy, before the
 * instances start, when they are created with `autoMigrate: false`.
 *
 *   DATABASE_URL=postgres://… npx tsx --conditions=gatehouse-source example-app/migrate.ts
 *
 * Without DATABASE_URL it migrates the example's SQLite file (AUTH_DATABASE).
 */
import { resolve } from 'node:path';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';

const target = process.env.DATABASE_URL || resolve(import.meta.dirname, process.env.AUTH_DATABASE ?? 'data/gatehouse.sqlite');
const storage = createKnexStorage(target, { autoMigrate: false });
try {
  await storage.migrate();
  console.log('gatehouse: migrations are up to date');
} finally {
  await storage.close();
}
