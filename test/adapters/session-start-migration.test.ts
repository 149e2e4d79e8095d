import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { migrationSource } from '../../adapters/knex/migrations/index.js';
import { tableNames } from '../../adapters/knex/tables.js';
import { toRefreshTokenRow } from '../../adapters/knex/rows.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const tables = tableNames('auth_');

/** Migrates `db` as the version before 022_session_start did. */
async function migrateToPreviousVersion(db: Knex): Promise<void> {
  const source = migrationSource(tables);
  await db.migrate.latest({
    tableName: tables.migrations,
    migrationSource: { ...source, getMigrations: async () => (await source.getMigrations([])).filter((m) => source.getMigrationName(m) !== '022_session_start') },
  });
}

function row(n: string, familyId: string, createdAt: number, expiresAt: number) {
  return toRefreshTokenRow({
    idHash: `hash-${n}`,
    familyId,
    userId: 'user-a',
    orgId: null,
    appId: null,
    userAgent: null,
    ip: null,
    lastUsedAt: null,
    usedAt: null,
    revokedAt: null,
    createdAt,
    expiresAt,
    familyExpiresAt: NOW + 30 * DAY,
  });
}

const databases: Array<{ name: string; open(): Promise<{ config: Knex.Config; storage: () => KnexStorage; done(): Promise<void> }> }> = [
  {
    name: 'SQLite',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'gatehouse-022-'));
      const filename = join(dir, 'auth.sqlite');
      return {
        config: { client: 'better-sqlite3', connection: { filename }, useNullAsDefault: true },
        storage: () => createKnexStorage(filename),
        done: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const url = await createTestDatabase('session-start');
      return { config: pgConfig(url), storage: () => createKnexStorage(pgConfig(url)), done: async () => {} };
    },
  },
];

for (const database of databases) {
  describe(`migration 022_session_start on ${database.name}`, function () {
    this.timeout(60_000);
    let opened: Awaited<ReturnType<(typeof database)['open']>>;
    let before: Knex;
    let storage: KnexStorage | undefined;

    beforeEach(async () => {
      opened = await database.open();
      before = knex(opened.config);
      await migrateToPreviousVersion(before);
      await before(tables.users).insert({ id: 'user-a', email: 'a@example.com', created_at: NOW - 10 * DAY });
      // Tokens the previous version stored: two families, each started by its oldest token.
      await before(tables.refreshTokens).insert([
        row('a1', 'fam-a', NOW - 3 * DAY, NOW - 2 * DAY),
        row('a2', 'fam-a', NOW - 2 * DAY, NOW - DAY),
        row('a3', 'fam-a', NOW - DAY, NOW + DAY),
        row('b1', 'fam-b', NOW - HOUR, NOW + DAY),
      ]);
    });

    afterEach(async () => {
      await storage?.close();
      storage = undefined;
      await before.destroy();
      await opened.done();
    });

    it('gives every stored token its session start, and the session keeps it once the first tokens are purged', async () => {
      storage = opened.storage();
      await storage.init();
      const starts = await storage.knex(tables.refreshTokens).select('id_hash', 'session_created_at').orderBy('id_hash');
      assert.deepEqual(
        starts.map((r: { id_hash: string; session_created_at: number | string }) => [r.id_hash, Number(r.session_created_at)]),
        [
          ['hash-a1', NOW - 3 * DAY],
          ['hash-a2', NOW - 3 * DAY],
          ['hash-a3', NOW - 3 * DAY],
          ['hash-b1', NOW - HOUR],
        ],
      );
      assert.equal(await storage.refreshTokens.purgeExpired(NOW), 2);
      assert.equal((await storage.refreshTokens.findSession('fam-a'))?.createdAt, NOW - 3 * DAY);
      assert.equal((await storage.refreshTokens.findSession('fam-b'))?.createdAt, NOW - HOUR);
      // The rotation's own read brings the start along (an org policy's age limit needs it at every rotation).
      assert.equal((await storage.refreshTokens.findForRotation?.('hash-a3'))?.sessionStartedAt, NOW - 3 * DAY);
    });

    it('a token written by the previous version (no start) does not make its session younger', async () => {
      storage = opened.storage();
      await storage.init();
      // An instance of the previous version, still running mid-upgrade, rotates fam-c.
      await before(tables.refreshTokens).insert([row('c1', 'fam-c', NOW - 2 * HOUR, NOW + DAY), row('c2', 'fam-c', NOW - HOUR, NOW + DAY)]);
      await storage.refreshTokens.insert({ idHash: 'hash-c3', familyId: 'fam-c', userId: 'user-a', orgId: null, createdAt: NOW, expiresAt: NOW + DAY, familyExpiresAt: NOW + 30 * DAY });
      const [c3] = await storage.knex(tables.refreshTokens).where({ id_hash: 'hash-c3' }).select('session_created_at');
      assert.equal(Number(c3.session_created_at), NOW - 2 * HOUR);
      assert.equal((await storage.refreshTokens.findSession('fam-c'))?.createdAt, NOW - 2 * HOUR);
      // A token without a start leaves it to findSession.
      const found = await storage.refreshTokens.findForRotation?.('hash-c2');
      assert.equal(found?.token.idHash, 'hash-c2');
      assert.equal(found?.sessionStartedAt, undefined);
    });

    it('purges by each token’s own expiry through an index, and no longer keeps the family-end index', async () => {
      storage = opened.storage();
      await storage.init();
      const indexed = async (column: string): Promise<boolean> => {
        if (database.name === 'SQLite') {
          const list = (await storage!.knex.raw(`PRAGMA index_list(${tables.refreshTokens})`)) as Array<{ name: string }>;
          for (const index of list) {
            const columns = (await storage!.knex.raw(`PRAGMA index_info(${index.name})`)) as Array<{ name: string }>;
            if (columns.length === 1 && columns[0]?.name === column) return true;
          }
          return false;
        }
        const result = (await storage!.knex.raw('select indexdef from pg_indexes where tablename = ?', [tables.refreshTokens])) as { rows: Array<{ indexdef: string }> };
        return result.rows.some((r) => r.indexdef.endsWith(`("${column}")`) || r.indexdef.endsWith(`(${column})`));
      };
      assert.equal(await indexed('expires_at'), true);
      assert.equal(await indexed('family_expires_at'), false);
    });
  });
}
