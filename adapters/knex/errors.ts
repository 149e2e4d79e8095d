import { StorageConflictError, StorageUnavailableError } from '../../src/errors.js';
import type { TableNames } from './tables.js';

const UNIQUE_CODES = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', '23505']);

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  // SQLite: another process held the lock for longer than busy_timeout.
  'SQLITE_BUSY',
]);

// node-postgres reports a lost or unreachable server with these messages and no
// code (knex prefixes them with the failed SQL): a socket that dropped mid-query or
// mid-transaction ("Connection terminated unexpectedly"), a query on a client whose
// socket already failed, and a connect that ran into `connectionTimeoutMillis`.
const DROPPED_CONNECTION = [
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'timeout expired',
];

interface DriverError {
  code?: unknown;
  message?: unknown;
  name?: unknown;
  table?: unknown;
  detail?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * Turns driver errors into the storage port's errors; anything else is returned
 * unchanged so real bugs keep their stack and message.
 */
export function mapStorageError(err: unknown, tables: TableNames): unknown {
  if (err instanceof StorageConflictError || err instanceof StorageUnavailableError) return err;
  if (!isObject(err)) return err;
  if (typeof err.code === 'string' && UNIQUE_CODES.has(err.code)) {
    return new StorageConflictError(conflictField(err, tables), { cause: err });
  }
  if (isUnavailable(err, 0)) {
    return new StorageUnavailableError(undefined, { cause: err });
  }
  return err;
}

function isObject(value: unknown): value is DriverError {
  return typeof value === 'object' && value !== null;
}

function isUnavailable(err: DriverError, depth: number): boolean {
  if (depth > 3) return false;
  const code = typeof err.code === 'string' ? err.code : '';
  if (UNAVAILABLE_CODES.has(code) || code.startsWith('08')) return true;
  const message = typeof err.message === 'string' ? err.message : '';
  if (err.name === 'KnexTimeoutError' || message.includes('Knex: Timeout acquiring a connection')) return true;
  if (DROPPED_CONNECTION.some((text) => message.includes(text))) return true;
  // Connecting to a host with several addresses fails as an AggregateError.
  if (Array.isArray(err.errors) && err.errors.some((e) => isObject(e) && isUnavailable(e, depth + 1))) return true;
  return isObject(err.cause) && isUnavailable(err.cause, depth + 1);
}

function conflictField(err: DriverError, tables: TableNames): string {
  const { table, columns } = violatedKey(err);
  if (table === tables.memberships) return 'membership';
  if (table === tables.identities) return 'identity';
  // The one unique key of custom roles besides the id: (org_id, name).
  if (table === tables.orgRoles && columns.includes('name')) return 'name';
  if (columns.length === 1) {
    const column = columns[0] as string;
    return column === 'username_key' ? 'username' : column;
  }
  return columns.join(',') || 'unknown';
}

/** Reads the table and columns of the violated key from SQLite's message or PostgreSQL's detail. */
function violatedKey(err: DriverError): { table: string | undefined; columns: string[] } {
  const message = typeof err.message === 'string' ? err.message : '';
  // SQLite: "UNIQUE constraint failed: auth_users.email" (or "t.a, t.b" for a composite key).
  const sqlite = /UNIQUE constraint failed: (.+)$/.exec(message);
  if (sqlite?.[1]) {
    const qualified = sqlite[1].split(',').map((part) => part.trim());
    const table = qualified[0]?.split('.')[0];
    return { table, columns: qualified.map((part) => part.split('.').pop() ?? part) };
  }
  // PostgreSQL: detail "Key (user_id, org_id)=(…) already exists.", table on the error.
  const detail = typeof err.detail === 'string' ? err.detail : '';
  const pg = /^Key \(([^)]+)\)=/.exec(detail);
  return {
    table: typeof err.table === 'string' ? err.table : undefined,
    columns: pg?.[1] ? pg[1].split(',').map((column) => column.trim().replace(/^"|"$/g, '')) : [],
  };
}
