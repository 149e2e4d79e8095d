import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { runStorageContract } from 'gatehouse-auth/testing';
import { StorageConflictError, StorageUnavailableError } from '../../src/errors.js';
import { mapStorageError } from '../../adapters/knex/errors.js';
import { tableNames as prefixedTables } from '../../adapters/knex/tables.js';

const TABLES = ['users', 'orgs', 'memberships', 'invitations', 'refresh_tokens', 'revocations', 'api_keys', 'mfa_totp', 'mfa_recovery_codes', 'identities', 'applications', 'application_grants', 'rate_limits', 'used_tokens', 'instance_settings', 'mail_outbox', 'mail_tokens', 'passkeys', 'job_leases', 'audit_log', 'audit_heads', 'webhook_endpoints', 'webhook_deliveries', 'org_policies', 'org_roles'];
const MIGRATIONS = ['001_core', '002_api_keys', '003_mfa', '004_identities', '005_applications', '006_rate_limits', '007_used_tokens', '008_app_sessions', '009_email_verified', '010_instance_settings', '011_mail_outbox', '012_session_details', '013_mail_tokens', '014_refresh_successor', '015_passkeys', '016_job_leases', '017_scale_indexes', '018_audit_log', '019_webhooks', '020_org_policies', '021_org_roles', '022_session_start'];

let tempDir: string;
let fileCounter = 0;

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'gatehouse-knex-'));
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

function nextFile(): string {
  fileCounter += 1;
  return join(tempDir, `db-${fileCounter}`, 'auth.sqlite');
}

runStorageContract('knex, SQLite :memory:', {
  create: async () => createKnexStorage({ filename: ':memory:' }),
});

runStorageContract('knex, SQLite file', {
  create: async () => createKnexStorage(nextFile()),
});

async function tableNames(storage: KnexStorage): Promise<string[]> {
  const rows: Array<{ name: string }> = await storage.knex
    .select('name')
    .from('sqlite_master')
    .where({ type: 'table' })
    .whereNot('name', 'like', 'sqlite_%')
    .orderBy('name');
  return rows.map((r) => r.name);
}

describe('knex storage (SQLite specifics)', () => {
  const opened: KnexStorage[] = [];
  const open = (...args: Parameters<typeof createKnexStorage>): KnexStorage => {
    const storage = createKnexStorage(...args);
    opened.push(storage);
    return storage;
  };

  afterEach(async () => {
    for (const storage of opened.splice(0)) await storage.close();
  });

  it('creates the missing parent directory and opens a file DB in WAL mode (checkpoints every 4,000 pages) with foreign keys on', async () => {
    const file = nextFile();
    const storage = open({ filename: file });
    await storage.init();
    assert.ok((await stat(file)).isFile());
    const [journal] = (await storage.knex.raw('PRAGMA journal_mode')) as Array<{ journal_mode: string }>;
    const [keys] = (await storage.knex.raw('PRAGMA foreign_keys')) as Array<{ foreign_keys: number }>;
    const [busy] = (await storage.knex.raw('PRAGMA busy_timeout')) as Array<{ timeout: number }>;
    const [sync] = (await storage.knex.raw('PRAGMA synchronous')) as Array<{ synchronous: number }>;
    const [checkpoint] = (await storage.knex.raw('PRAGMA wal_autocheckpoint')) as Array<{ wal_autocheckpoint: number }>;
    assert.equal(journal?.journal_mode, 'wal');
    assert.equal(sync?.synchronous, 1, 'synchronous = NORMAL');
    assert.equal(checkpoint?.wal_autocheckpoint, 4000);
    assert.equal(keys?.foreign_keys, 1);
    assert.equal(busy?.timeout, 5000);
  });

  it('enforces foreign keys: a membership needs an existing user and org', async () => {
    const storage = open(':memory:');
    await assert.rejects(
      storage.memberships.add({ userId: 'nobody', orgId: 'nowhere', role: 'member', createdAt: 1 }),
      /FOREIGN KEY/,
    );
  });

  it('keeps the caller’s pool.afterCreate', async () => {
    const seen: unknown[] = [];
    const storage = open({
      client: 'better-sqlite3',
      connection: { filename: ':memory:' },
      pool: {
        afterCreate: (conn: unknown, done: (err: Error | null, conn: unknown) => void) => {
          seen.push(conn);
          done(null, conn);
        },
      },
    });
    await storage.init();
    assert.equal(seen.length, 1);
    const [keys] = (await storage.knex.raw('PRAGMA foreign_keys')) as Array<{ foreign_keys: number }>;
    assert.equal(keys?.foreign_keys, 1);
  });

  it('migrate() is idempotent and records each bundled migration once', async () => {
    const storage = open(nextFile(), { autoMigrate: false });
    await storage.migrate();
    await storage.migrate();
    await storage.users.create({
      id: 'u1',
      email: 'u1@example.com',
      username: null,
      firstName: null,
      lastName: null,
      passwordHash: null,
      createdAt: 1,
      emailVerifiedAt: null,
    });
    await storage.migrate();
    assert.equal((await storage.users.findById('u1'))?.email, 'u1@example.com');
    const rows: Array<{ name: string }> = await storage.knex('auth_migrations').select('name');
    assert.deepEqual(
      rows.map((r) => r.name),
      MIGRATIONS,
    );
  });

  it('runs the lazy migration once for concurrent first calls', async () => {
    const storage = open(':memory:');
    const results = await Promise.all([
      storage.users.findById('x'),
      storage.orgs.findById('y'),
      storage.revocations.listActive(0),
      storage.init(),
    ]);
    assert.deepEqual(results.slice(0, 3), [null, null, { entries: [], cursor: '0' }]);
    const rows: Array<{ name: string }> = await storage.knex('auth_migrations').select('name');
    assert.equal(rows.length, MIGRATIONS.length);
  });

  it('prefixes every table with tablePrefix (default auth_)', async () => {
    const byDefault = open(':memory:');
    await byDefault.init();
    assert.equal(byDefault.tablePrefix, 'auth_');
    assert.deepEqual(
      await tableNames(byDefault),
      [...TABLES.map((t) => `auth_${t}`), 'auth_migrations', 'auth_migrations_lock'].sort(),
    );

    const custom = open(':memory:', { tablePrefix: 'gh_' });
    await custom.init();
    assert.equal(custom.tablePrefix, 'gh_');
    assert.deepEqual(
      await tableNames(custom),
      [...TABLES.map((t) => `gh_${t}`), 'gh_migrations', 'gh_migrations_lock'].sort(),
    );
  });

  it('two prefixes share one database without interfering', async () => {
    const file = nextFile();
    const first = open(file, { tablePrefix: 'one_' });
    const second = open(file, { tablePrefix: 'two_' });
    await first.orgs.create({ id: 'o1', name: 'One', slug: 'same', description: null, createdAt: 1 });
    await second.orgs.create({ id: 'o1', name: 'Two', slug: 'same', description: null, createdAt: 2 });
    assert.equal((await first.orgs.findById('o1'))?.name, 'One');
    assert.equal((await second.orgs.findById('o1'))?.name, 'Two');
  });

  it('rejects a tablePrefix that is not a plain identifier', () => {
    assert.throws(() => createKnexStorage(':memory:', { tablePrefix: 'auth-"x' }), TypeError);
  });

  it('with autoMigrate false, creates no table until migrate()', async () => {
    const storage = open(':memory:', { autoMigrate: false });
    await storage.init();
    assert.deepEqual(await tableNames(storage), []);
    await assert.rejects(storage.users.findById('x'), /no such table/);
    await storage.migrate();
    assert.equal(await storage.users.findById('x'), null);
    assert.ok((await tableNames(storage)).includes('auth_users'));
  });

  it('does not destroy a Knex instance it was given', async () => {
    const instance = knex({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
    try {
      const storage = createKnexStorage(instance);
      assert.equal(storage.knex, instance);
      await storage.init();
      await storage.close();
      const [row] = (await instance.raw('select 1 as one')) as Array<{ one: number }>;
      assert.equal(row?.one, 1);
      assert.deepEqual(await instance('auth_users').select('id'), []);
    } finally {
      await instance.destroy();
    }
  });

  it('close() destroys a connection it opened', async () => {
    const storage = createKnexStorage(':memory:');
    await storage.init();
    await storage.close();
    await assert.rejects(storage.knex.raw('select 1'));
  });

  it('reports a pool timeout as StorageUnavailableError', async () => {
    const storage = open({
      client: 'better-sqlite3',
      connection: { filename: ':memory:' },
      acquireConnectionTimeout: 50,
      // knex warns about the timeout we provoke on purpose.
      log: { warn: () => {} },
    });
    await storage.init();
    // SQLite has one connection; holding it in a transaction starves any other caller.
    await storage.transaction(async () => {
      await assert.rejects(storage.users.findById('x'), { name: 'StorageUnavailableError' });
    });
  });
});

describe('knex storage error mapping (PostgreSQL and network errors)', () => {
  const tables = prefixedTables('auth_');
  const conflictField = (err: object): string => {
    const mapped = mapStorageError(err, tables);
    assert.ok(mapped instanceof StorageConflictError, String(mapped));
    return mapped.field;
  };

  it('maps PostgreSQL unique violations (23505) to the field of the key', () => {
    const pgError = (table: string, columns: string) =>
      Object.assign(new Error('duplicate key value violates unique constraint'), {
        code: '23505',
        table,
        detail: `Key (${columns})=(x) already exists.`,
      });
    assert.equal(conflictField(pgError('auth_users', 'email')), 'email');
    assert.equal(conflictField(pgError('auth_users', 'username_key')), 'username');
    assert.equal(conflictField(pgError('auth_orgs', 'slug')), 'slug');
    assert.equal(conflictField(pgError('auth_memberships', 'user_id, org_id')), 'membership');
    assert.equal(conflictField(pgError('auth_invitations', 'code_hash')), 'code_hash');
  });

  it('maps connection failures to StorageUnavailableError', () => {
    const failures = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('connection failure'), { code: '08006' }),
      new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })], 'connect failed'),
      Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), {
        name: 'KnexTimeoutError',
      }),
      // node-postgres, as knex reports them when the server stops mid-transaction.
      new Error('insert into "auth_orgs" ("id") values ($1) - Client has encountered a connection error and is not queryable'),
      new Error('ROLLBACK - Connection terminated unexpectedly'),
      new Error('timeout expired'),
      Object.assign(new Error('sorry, too many clients already'), { code: '53300' }),
    ];
    for (const failure of failures) {
      const mapped = mapStorageError(failure, tables);
      assert.ok(mapped instanceof StorageUnavailableError, failure.message);
      assert.equal(mapped.cause, failure);
    }
  });

  it('passes any other error through unchanged', () => {
    const bug = new TypeError('x is not a function');
    assert.equal(mapStorageError(bug, tables), bug);
    const fk = Object.assign(new Error('FOREIGN KEY constraint failed'), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
    assert.equal(mapStorageError(fk, tables), fk);
  });
});
