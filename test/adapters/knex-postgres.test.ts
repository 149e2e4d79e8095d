import assert from 'node:assert/strict';
import knex, { type Knex } from 'knex';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { runStorageContract } from 'gatehouse-auth/testing';
import type { RevocationRecord } from 'gatehouse-auth';
import { migrationSource } from '../../adapters/knex/migrations/index.js';
import { tableNames } from '../../adapters/knex/tables.js';
import { eventually } from '../helpers/eventually.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

/** Sessions of this database that wait for a lock held by another transaction. */
async function lockWaiters(db: Knex): Promise<number> {
  const rows: Array<{ n: string }> = await db
    .select(db.raw('count(*) as n'))
    .from('pg_stat_activity')
    .whereRaw('datname = current_database()')
    .where({ wait_event_type: 'Lock' });
  return Number(rows[0]?.n ?? 0);
}

/** Every bundled migration's name, in order. */
async function bundledMigrations(): Promise<string[]> {
  const source = migrationSource(tableNames('auth_'));
  return (await source.getMigrations([])).map((m) => source.getMigrationName(m));
}

function revocation(key: string): RevocationRecord {
  return { kind: 'token', key, expiresAt: NOW + HOUR, createdAt: NOW };
}

describe('knex storage on PostgreSQL', function () {
  // The first suite to ask starts the shared server (initdb + start: a few seconds).
  this.timeout(60_000);
  let url: string;
  let storage: KnexStorage;

  before(async () => {
    url = await createTestDatabase('contract');
    storage = createKnexStorage(pgConfig(url));
    await storage.init();
  });

  after(async () => {
    await storage?.close();
  });

  // One migrated database for the whole contract; every test starts from empty
  // tables. DELETE rather than TRUNCATE: on tables this small it is several times faster.
  runStorageContract('knex, PostgreSQL', {
    create: async () => {
      const names = Object.entries(tableNames('auth_'))
        .filter(([entity]) => entity !== 'migrations')
        .map(([, name]) => name)
        // Created parents first, so emptied children first.
        .reverse();
      await storage.knex.raw(names.map(() => 'DELETE FROM ??').join('; '), names);
      return storage;
    },
    destroy: async () => {},
  });

  describe('PostgreSQL specifics', () => {
    const opened: KnexStorage[] = [];
    const open = (...args: Parameters<typeof createKnexStorage>): KnexStorage => {
      const s = createKnexStorage(...args);
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    it('createKnexStorage(postgres:// URL) opens PostgreSQL and runs the bundled migrations there', async () => {
      const fresh = await createTestDatabase('url');
      const byUrl = open(fresh);
      assert.equal(byUrl.knex.client.config.client, 'pg');
      await byUrl.init();
      const tables: Array<{ table_name: string }> = await byUrl.knex('information_schema.tables').select('table_name').where({ table_schema: 'public' }).orderBy('table_name');
      const expected = Object.values(tableNames('auth_')).concat('auth_migrations_lock').sort();
      assert.deepEqual(
        tables.map((t) => t.table_name),
        expected,
      );
      const migrations: Array<{ name: string }> = await byUrl.knex('auth_migrations').select('name').orderBy('id');
      assert.deepEqual(
        migrations.map((m) => m.name),
        await bundledMigrations(),
      );
    });

    it('instances starting together on an empty database migrate it once, none fails', async () => {
      const fresh = await createTestDatabase('concurrent_migrate');
      const instances = [open(pgConfig(fresh)), open(pgConfig(fresh)), open(pgConfig(fresh))];
      await Promise.all(instances.map((s) => s.init()));
      const rows: Array<{ name: string }> = await instances[0]!.knex('auth_migrations').select('name').orderBy('id');
      assert.deepEqual(
        rows.map((r) => r.name),
        await bundledMigrations(),
      );
      assert.equal(await instances[2]!.users.findById('nobody'), null);
    });

    it('with autoMigrate false, migrate() at deploy time prepares the database for instances that never migrate', async () => {
      const fresh = await createTestDatabase('deploy_migrate');
      const deploy = open(pgConfig(fresh), { autoMigrate: false });
      await deploy.migrate();
      await deploy.close();
      const app = open(pgConfig(fresh), { autoMigrate: false });
      await app.orgs.create({ id: 'o1', name: 'One', slug: 'one', description: null, createdAt: NOW });
      assert.equal((await app.orgs.findById('o1'))?.createdAt, NOW);
    });

    it('an instance of an older version (fewer bundled migrations) still starts against a database migrated further', async () => {
      const fresh = await createTestDatabase('rolling_upgrade');
      const newer = open(pgConfig(fresh));
      await newer.init();
      await newer.knex('auth_migrations').insert({ name: '999_from_a_newer_version', batch: 99, migration_time: new Date() });
      const older = open(pgConfig(fresh));
      await older.init();
      assert.equal(await older.users.findById('nobody'), null);
    });

    it('reads bigint columns as numbers, and revocation cursors beyond 2^32 as exact decimal strings', async () => {
      const big = 2 ** 40;
      await storage.knex.raw("SELECT setval(pg_get_serial_sequence('auth_revocations', 'seq'), ?)", [big]);
      const start = await storage.revocations.listActive(NOW);
      await storage.revocations.add(revocation('jti-big'));
      const page = await storage.revocations.listSince(start.cursor);
      assert.deepEqual(page.entries, [revocation('jti-big')]);
      assert.equal(page.cursor, String(big + 1));
      assert.equal(typeof page.entries[0]?.expiresAt, 'number');
      assert.deepEqual(await storage.revocations.listSince(page.cursor), { entries: [], cursor: page.cursor });
    });

    it('a revocation never becomes visible before one with a lower seq that is still uncommitted', async () => {
      const { cursor } = await storage.revocations.listActive(NOW);
      let firstAdded!: () => void;
      const added = new Promise<void>((resolve) => (firstAdded = resolve));
      let commitFirst!: () => void;
      const gate = new Promise<void>((resolve) => (commitFirst = resolve));
      // Takes the lower seq, then stays uncommitted until the gate opens.
      const first = storage.transaction(async (tx) => {
        await tx.revocations.add(revocation('jti-first'));
        firstAdded();
        await gate;
      });
      await added;
      let secondDone = false;
      const second = storage.revocations.add(revocation('jti-second')).then(() => {
        secondDone = true;
      });
      let during;
      try {
        // Either the second insert waits for the first (correct) or it already committed.
        await eventually(async () => secondDone || (await lockWaiters(storage.knex)) > 0, 5_000, 'the second insert to wait or finish');
        // A poll now must not return the higher seq alone: its cursor would skip the lower one for good.
        during = await storage.revocations.listSince(cursor);
        assert.deepEqual(during.entries, []);
        assert.equal(secondDone, false);
      } finally {
        commitFirst();
        await Promise.all([first, second]);
      }
      const afterwards = await storage.revocations.listSince(during.cursor);
      assert.deepEqual(
        afterwards.entries.map((e) => e.key),
        ['jti-first', 'jti-second'],
      );
    });

    it('lockOrg makes a second transaction wait until the first commits, so it counts the owners the first left', async () => {
      await storage.users.create({ id: 'lo-a', email: 'lo-a@example.com', username: null, firstName: null, lastName: null, passwordHash: null, createdAt: NOW, emailVerifiedAt: null });
      await storage.users.create({ id: 'lo-b', email: 'lo-b@example.com', username: null, firstName: null, lastName: null, passwordHash: null, createdAt: NOW, emailVerifiedAt: null });
      await storage.orgs.create({ id: 'lo-org', name: 'Lock', slug: 'lock-org', description: null, createdAt: NOW });
      await storage.memberships.add({ userId: 'lo-a', orgId: 'lo-org', role: 'owner', createdAt: NOW });
      await storage.memberships.add({ userId: 'lo-b', orgId: 'lo-org', role: 'owner', createdAt: NOW });

      let firstCounted!: () => void;
      const counted = new Promise<void>((resolve) => (firstCounted = resolve));
      let releaseFirst!: () => void;
      const gate = new Promise<void>((resolve) => (releaseFirst = resolve));
      let secondCounted = false;
      const demote = (target: string, between: () => Promise<void>) =>
        storage.transaction(async (tx) => {
          await tx.memberships.lockOrg('lo-org');
          const owners = await tx.memberships.countOwners('lo-org');
          await between();
          if (owners <= 1) return 'refused';
          await tx.memberships.updateRole(target, 'lo-org', 'member');
          return 'demoted';
        });

      const first = demote('lo-b', async () => {
        firstCounted();
        await gate;
      });
      await counted;
      const second = demote('lo-a', async () => {
        secondCounted = true;
      });
      let results;
      try {
        await eventually(async () => secondCounted || (await lockWaiters(storage.knex)) > 0, 5_000, 'the second transaction to wait or count');
        // At READ COMMITTED without the lock, the second would have counted two owners by now.
        assert.equal(secondCounted, false);
      } finally {
        releaseFirst();
        results = await Promise.all([first, second]);
      }
      assert.deepEqual(results, ['demoted', 'refused']);
      assert.equal(await storage.memberships.countOwners('lo-org'), 1);
    });

    it('lockOrg does not hold up a join into the same org (its foreign-key check)', async () => {
      await storage.users.create({ id: 'fk-a', email: 'fk-a@example.com', username: null, firstName: null, lastName: null, passwordHash: null, createdAt: NOW, emailVerifiedAt: null });
      await storage.users.create({ id: 'fk-b', email: 'fk-b@example.com', username: null, firstName: null, lastName: null, passwordHash: null, createdAt: NOW, emailVerifiedAt: null });
      await storage.orgs.create({ id: 'fk-org', name: 'FK', slug: 'fk-org', description: null, createdAt: NOW });
      await storage.memberships.add({ userId: 'fk-a', orgId: 'fk-org', role: 'owner', createdAt: NOW });
      await storage.transaction(async (tx) => {
        await tx.memberships.lockOrg('fk-org');
        // Outside the transaction, on another connection: would deadlock the test if it waited.
        await storage.memberships.add({ userId: 'fk-b', orgId: 'fk-org', role: 'member', createdAt: NOW });
      });
      assert.equal((await storage.memberships.listForOrg('fk-org')).length, 2);
    });

    it('maps a server that cannot be reached to StorageUnavailableError, fast', async () => {
      // A port nothing listens on: the connect is refused at once.
      const closed = new URL(url);
      closed.port = '1';
      const unreachable = open(pgConfig(closed.toString()));
      await assert.rejects(unreachable.users.findById('x'), { name: 'StorageUnavailableError' });
      await assert.rejects(
        unreachable.transaction(async () => 'never'),
        { name: 'StorageUnavailableError' },
      );
    });

    it('a knex instance passed in stays open after close()', async () => {
      const instance = knex(pgConfig(url));
      try {
        const s = createKnexStorage(instance);
        await s.init();
        await s.close();
        const { rows } = (await instance.raw('select 1 as one')) as { rows: Array<{ one: number }> };
        assert.equal(rows[0]?.one, 1);
      } finally {
        await instance.destroy();
      }
    });
  });
});
