import type { Knex } from 'knex';
import type { RevocationWatchListener } from '../../src/ports.js';

/**
 * The channel every revocation insert notifies on PostgreSQL (see the revocation
 * repository). The payload is the revocation table's name: no secret, and instances
 * with another `tablePrefix` on the same database tell their own notifications apart.
 */
export const REVOCATION_CHANNEL = 'gatehouse_revocations';

/** The LISTEN connection's `application_name`, so it can be told apart in `pg_stat_activity`. */
export const LISTEN_APPLICATION_NAME = 'gatehouse-revocations';

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

/** The part of a `pg.Client` used here. */
interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

type PgClientConstructor = new (config: Record<string, unknown>) => PgClient;

interface KnexPgClient {
  driver?: { Client?: PgClientConstructor };
  config: { connection?: unknown };
}

/**
 * Holds one dedicated `pg` connection (not one of knex's pool: it stays open for as
 * long as anyone subscribes) running `LISTEN gatehouse_revocations`, shared by every
 * subscriber of one storage. A dropped connection is reopened with a growing delay
 * (100 ms to 5 s); subscribers hear `lost` once per outage and `listening` on every
 * (re)connect, so they can catch up on what was committed while nobody listened.
 */
export class RevocationNotifier {
  private readonly listeners = new Set<RevocationWatchListener>();
  private client: PgClient | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = RETRY_MIN_MS;
  private active = false;
  /** Bumped by shutdown(), so a connection attempt begun before it gives up. */
  private generation = 0;
  private listening = false;
  /** Whether subscribers were told `lost` since the last `listening`. */
  private lostTold = false;

  constructor(
    private readonly db: Knex,
    private readonly payload: string,
  ) {}

  /** Starts listening with the first subscriber; the returned function unsubscribes, and ends the connection with the last one. */
  subscribe(listener: RevocationWatchListener): () => Promise<void> {
    this.listeners.add(listener);
    if (!this.active) {
      this.active = true;
      this.connect();
    } else if (this.listening) {
      queueMicrotask(() => {
        if (this.listening && this.listeners.has(listener)) tell(listener, 'listening');
      });
    }
    return async () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) await this.shutdown();
    };
  }

  /** Ends the connection and forgets every subscriber (storage.close()). */
  async close(): Promise<void> {
    this.listeners.clear();
    await this.shutdown();
  }

  private connect(): void {
    this.retryTimer = undefined;
    const generation = this.generation;
    let client: PgClient | undefined;
    void (async () => {
      const Client = await pgClientConstructor(this.db);
      const settings = await connectionSettings(this.db);
      if (generation !== this.generation) return;
      client = new Client({
        connectionTimeoutMillis: 5_000,
        // TCP keepalive probes after 10 s idle: a connection that died silently (a NAT or
        // firewall dropping it) is noticed and reopened rather than kept for hours.
        keepAliveInitialDelayMillis: 10_000,
        ...settings,
        keepAlive: true,
        application_name: LISTEN_APPLICATION_NAME,
      });
      const own = client;
      this.client = own;
      // A pg client's errors are fatal to its connection; without a listener they would crash the process.
      own.on('error', (err) => this.lost(own, err));
      own.on('end', () => this.lost(own));
      own.on('notification', (message) => {
        if (message.channel !== REVOCATION_CHANNEL || message.payload !== this.payload) return;
        for (const listener of this.listeners) tell(listener, 'change');
      });
      await own.connect();
      // Like the poll timer, this connection alone must not keep the process alive (a
      // script that never calls close()); the `connection.stream` of pg 8.
      socketOf(own)?.unref?.();
      await own.query(`LISTEN ${REVOCATION_CHANNEL}`);
      // Lost or shut down meanwhile: whoever replaced it has ended it.
      if (this.client !== own) return;
      this.listening = true;
      this.lostTold = false;
      this.retryDelayMs = RETRY_MIN_MS;
      for (const listener of this.listeners) tell(listener, 'listening');
    })().catch((err: unknown) => this.lost(client, err));
  }

  private lost(client: PgClient | undefined, err?: unknown): void {
    // Only the current connection's loss counts: a replaced or closed one's 'end' is old news.
    if (client !== undefined && client !== this.client) return;
    this.client = undefined;
    this.listening = false;
    client?.end().catch(() => {});
    if (!this.active) return;
    if (!this.lostTold) {
      this.lostTold = true;
      const reason = err instanceof Error ? err.message : 'connection ended';
      for (const listener of this.listeners) tell(listener, 'lost', reason);
    }
    if (this.retryTimer !== undefined) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_MAX_MS);
    // Jitter, so instances that lost the database together do not reconnect in step.
    this.retryTimer = setTimeout(() => this.connect(), delay * (0.8 + Math.random() * 0.4));
    this.retryTimer.unref();
  }

  private async shutdown(): Promise<void> {
    this.generation += 1;
    this.active = false;
    const wasListening = this.listening;
    this.listening = false;
    this.lostTold = false;
    this.retryDelayMs = RETRY_MIN_MS;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    // Still opening: drop the socket rather than send Terminate ahead of the startup
    // message. The attempt itself is not waited for: pg 8 never settles a connect() ended
    // this way, and whatever it does later is ignored (its client is no longer current).
    if (client !== undefined && !wasListening) socketOf(client)?.destroy();
    await client?.end().catch(() => {});
  }
}

/** The socket under a pg 8 client. */
function socketOf(client: PgClient): { destroy(): void; unref?: () => void } | undefined {
  return (client as { connection?: { stream?: { destroy(): void; unref?: () => void } } }).connection?.stream;
}

function tell(listener: RevocationWatchListener, event: 'change' | 'listening' | 'lost', reason?: string): void {
  try {
    if (event === 'change') listener.onChange();
    else listener.onState?.(event, reason);
  } catch {
    // A listener must not throw; one that does must not stop the others.
  }
}

async function pgClientConstructor(db: Knex): Promise<PgClientConstructor> {
  // The driver knex loaded: `pg` is an optional peer dependency, imported by nobody on SQLite.
  const loaded = (db.client as KnexPgClient).driver?.Client;
  if (loaded) return loaded;
  const pg = (await import('pg')) as unknown as { default: { Client: PgClientConstructor } };
  return pg.default.Client;
}

/** The knex config's connection settings, as its pool would use them for a new connection. */
async function connectionSettings(db: Knex): Promise<Record<string, unknown>> {
  let connection = (db.client as KnexPgClient).config.connection;
  if (typeof connection === 'function') connection = await (connection as () => unknown)();
  if (typeof connection === 'string') return { connectionString: connection };
  if (typeof connection !== 'object' || connection === null) return {};
  const { expirationChecker: _expirationChecker, ...settings } = connection as Record<string, unknown>;
  return settings;
}
