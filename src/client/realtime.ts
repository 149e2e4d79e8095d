import { backgroundTimeout, Emitter } from './emitter.js';
import { GatehouseError } from './errors.js';
import { decodeJwtPayload, lifetimeMs } from './jwt.js';
import type { RealtimeCredentials } from './types.js';

export type QoS = 0 | 1 | 2;

export interface MqttConnectOptions {
  clientId: string;
  username: string;
  password: string;
  protocolVersion: 4 | 5;
  /** Always 0: a reconnect needs fresh credentials, so this module reconnects, not mqtt.js. */
  reconnectPeriod: number;
  connectTimeout: number;
  clean: boolean;
}

/** The part of an mqtt.js client this module uses; `mqtt` v4 and v5 (Node and browser builds) fit it. */
export interface MqttClientLike {
  readonly connected: boolean;
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'message', listener: (topic: string, payload: Uint8Array) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  subscribe(topic: string, options: { qos: QoS }, callback: (error: Error | null | undefined, granted?: Array<{ topic: string; qos: number }>) => void): unknown;
  unsubscribe(topic: string, callback: (error?: Error) => void): unknown;
  publish(topic: string, message: string, options: { qos: QoS; retain: boolean }, callback: (error?: Error) => void): unknown;
  end(force: boolean, options: object, callback: () => void): unknown;
}

/** The `mqtt` module (`import mqtt from 'mqtt'`), passed in so this package never depends on it. */
export interface MqttModule {
  connect(url: string, options: MqttConnectOptions): MqttClientLike;
}

export interface RealtimeOptions {
  mqtt: MqttModule;
  /** Fresh credentials, called for the first connection and for every renewal or reconnect. */
  getCredentials: () => Promise<RealtimeCredentials>;
  onMessage?: (topic: string, payload: Uint8Array) => void;
  /**
   * 5 (MQTT 5: the example's aedes 2.x broker, AWS IoT, EMQX; what the AxonPush SDKs speak)
   * or 4 (MQTT 3.1.1, for brokers without MQTT 5 such as aedes 1.x). Default 5.
   */
  protocolVersion?: 4 | 5;
  /**
   * Reconnect with new credentials this long before they expire (default 60 s, as the
   * AxonPush SDKs). Capped at four fifths of their lifetime, so a lead longer than a
   * short TTL still leaves the connection some life instead of renewing in a loop.
   */
  renewLeadMs?: number;
  /** Default 10 s. */
  connectTimeoutMs?: number;
}

export type ConnectReason = 'initial' | 'renewal' | 'reconnect';

export type RealtimeEvents = {
  message: [topic: string, payload: Uint8Array];
  /** A connection is up with these credentials and all subscriptions are in place again. */
  connect: [credentials: RealtimeCredentials, reason: ConnectReason];
  /** A renewal or reconnect failed; it is retried with backoff. */
  error: [error: Error];
  close: [];
};

const MAX_BACKOFF_MS = 30_000;

/**
 * One logical realtime connection that outlives its credentials: before they
 * expire it fetches new ones, connects a second MQTT client (make before break),
 * replays the subscriptions on it and only then ends the old client. A message
 * published during the switch may arrive twice (at-least-once), never not at all.
 */
export class RealtimeConnection extends Emitter<RealtimeEvents> {
  readonly #options: RealtimeOptions;
  readonly #subscriptions = new Map<string, QoS>();
  #client: MqttClientLike | null = null;
  #credentials: RealtimeCredentials | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #renewing: Promise<void> | null = null;
  #failures = 0;
  #closed = false;

  constructor(options: RealtimeOptions) {
    super();
    this.#options = options;
    if (options.onMessage) this.on('message', options.onMessage);
  }

  /** Credentials of the current connection. */
  get credentials(): RealtimeCredentials {
    if (!this.#credentials) throw new GatehouseError('realtime_not_connected', 'not connected yet');
    return this.#credentials;
  }

  get connected(): boolean {
    return !this.#closed && this.#client?.connected === true;
  }

  get subscriptions(): string[] {
    return [...this.#subscriptions.keys()];
  }

  /** Fills the credentials' `topicTemplate`; `envSlug` defaults to the credentials'. */
  topic(parts: { appId: string; channelId: string; eventType: string; agentId: string; envSlug?: string }): string {
    const values: Record<string, string> = { envSlug: this.credentials.envSlug, ...parts };
    return this.credentials.topicTemplate.replace(/\{(\w+)\}/g, (_m, key: string) => values[key] ?? `{${key}}`);
  }

  /** Subscribes now and after every reconnect. Rejects when the broker refuses the filter (outside the prefix). */
  async subscribe(filter: string, options: { qos?: QoS } = {}): Promise<void> {
    const qos = options.qos ?? 0;
    this.#subscriptions.set(filter, qos);
    try {
      await subscribeOn(this.#live(), filter, qos);
    } catch (err) {
      this.#subscriptions.delete(filter);
      throw err;
    }
  }

  async unsubscribe(filter: string): Promise<void> {
    this.#subscriptions.delete(filter);
    const client = this.#live();
    await new Promise<void>((resolve, reject) => client.unsubscribe(filter, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Rejects with `publish_refused` when an MQTT 5 broker answers a QoS 1/2 publish with a
   * failing reason code (0x87 outside the prefix). A refused QoS 0 publish is dropped
   * silently on MQTT 5; on MQTT 3.1.1 the broker closes the connection instead, which
   * then reconnects.
   */
  async publish(topic: string, payload: string, options: { qos?: QoS; retain?: boolean } = {}): Promise<void> {
    const client = this.#live();
    await new Promise<void>((resolve, reject) =>
      client.publish(topic, payload, { qos: options.qos ?? 0, retain: options.retain ?? false }, (err) => {
        if (!err) return resolve();
        const reasonCode = (err as { code?: unknown }).code;
        reject(typeof reasonCode === 'number' ? new GatehouseError('publish_refused', `the broker refused the publish to ${topic} (reason code 0x${reasonCode.toString(16)})`, { cause: err }) : err);
      }),
    );
  }

  /** Fetches new credentials and switches to a new connection now (normally done on a timer). */
  renew(reason: ConnectReason = 'renewal'): Promise<void> {
    this.#renewing ??= this.#switchTo(reason).finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = null;
    if (client) await endClient(client, false);
    this.emit('close');
  }

  /** First connection: errors reach the caller instead of being retried. */
  async start(): Promise<void> {
    await this.#switchTo('initial');
  }

  #live(): MqttClientLike {
    if (this.#closed) throw new GatehouseError('realtime_closed', 'the realtime connection is closed');
    const client = this.#client;
    if (!client?.connected) throw new GatehouseError('realtime_not_connected', 'the realtime connection is not up; it reconnects on its own');
    return client;
  }

  async #switchTo(reason: ConnectReason): Promise<void> {
    const credentials = await this.#options.getCredentials();
    const next = await this.#connect(credentials);
    try {
      await this.#replay(next);
    } catch (err) {
      await endClient(next, true);
      throw err;
    }
    if (this.#closed) return void (await endClient(next, true));
    const previous = this.#client;
    this.#client = next;
    this.#credentials = credentials;
    this.#failures = 0;
    this.#scheduleRenewal(credentials);
    // Not forced: messages the old client already received are still delivered.
    if (previous) void endClient(previous, false);
    this.emit('connect', credentials, reason);
  }

  /** Subscribes the new client to everything, including filters added while it was connecting. */
  async #replay(client: MqttClientLike): Promise<void> {
    const done = new Set<string>();
    for (;;) {
      const pending = [...this.#subscriptions].filter(([filter]) => !done.has(filter));
      if (pending.length === 0) return;
      await Promise.all(
        pending.map(async ([filter, qos]) => {
          done.add(filter);
          await subscribeOn(client, filter, qos);
        }),
      );
    }
  }

  #connect(credentials: RealtimeCredentials): Promise<MqttClientLike> {
    return new Promise((resolve, reject) => {
      const client = this.#options.mqtt.connect(credentials.presignedWssUrl, {
        clientId: credentials.clientId,
        username: credentials.authToken,
        password: '',
        protocolVersion: this.#options.protocolVersion ?? 5,
        reconnectPeriod: 0,
        connectTimeout: this.#options.connectTimeoutMs ?? 10_000,
        clean: true,
      });
      let up = false;
      const fail = (err: Error) => {
        if (up) return;
        up = true;
        void endClient(client, true);
        reject(err);
      };
      client.on('connect', () => {
        up = true;
        resolve(client);
      });
      client.on('error', (err) => {
        if (!up) fail(err);
        else if (client === this.#client) this.emit('error', err);
      });
      client.on('close', () => {
        if (!up) fail(new GatehouseError('realtime_connect_failed', `the broker at ${credentials.presignedWssUrl} closed the connection`));
        else if (client === this.#client) {
          // mqtt.js keeps QoS 1/2 callbacks for a resend that never comes (no auto-reconnect):
          // a forced end fails them, so a publish the broker answered by closing (MQTT 3.1.1) rejects.
          void endClient(client, true);
          this.#lost();
        }
      });
      client.on('message', (topic, payload) => {
        if (!this.#closed) this.emit('message', topic, payload);
      });
    });
  }

  /** The current client went away (network, broker restart, expired token): reconnect with new credentials. */
  #lost(): void {
    if (this.#closed || this.#renewing) return;
    clearTimeout(this.#timer);
    this.#retry('reconnect');
  }

  #retry(reason: ConnectReason): void {
    this.renew(reason).catch((err: unknown) => {
      if (this.#closed) return;
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      // Without a session there will be no credentials: stop instead of retrying forever.
      if (err instanceof GatehouseError && (err.code === 'signed_out' || err.status === 401 || err.status === 403)) return void this.close();
      this.#failures += 1;
      const delay = Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** (this.#failures - 1));
      this.#timer = backgroundTimeout(() => this.#retry(reason), delay);
    });
  }

  #scheduleRenewal(credentials: RealtimeCredentials): void {
    clearTimeout(this.#timer);
    const ttl = credentialLifetimeMs(credentials);
    const lead = Math.min(this.#options.renewLeadMs ?? 60_000, ttl * 0.8);
    this.#timer = backgroundTimeout(() => this.#retry('renewal'), ttl - lead);
  }
}

/** The token's own lifetime (`exi`) when readable, so a skewed device clock does not matter; else `expiresAt`. */
function credentialLifetimeMs(credentials: RealtimeCredentials): number {
  const now = Date.now();
  try {
    const ms = lifetimeMs(decodeJwtPayload(credentials.authToken), now);
    if (ms > 0) return ms;
  } catch {
    // Not a JWT we can read (another issuer): fall back to the stated expiry.
  }
  return Math.max(0, Date.parse(credentials.expiresAt) - now);
}

function subscribeOn(client: MqttClientLike, filter: string, qos: QoS): Promise<void> {
  return new Promise((resolve, reject) => {
    client.subscribe(filter, { qos }, (err, granted) => {
      // A SUBACK code ≥ 0x80 means refused (0x80 on MQTT 3.1.1, 0x87 not authorized on MQTT 5);
      // mqtt.js reports it as an error or as such a grant.
      if (err || granted?.some((g) => g.qos >= 128)) reject(new GatehouseError('subscription_refused', `the broker refused the subscription to ${filter}`, { cause: err ?? undefined }));
      else resolve();
    });
  });
}

function endClient(client: MqttClientLike, force: boolean): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}

/** Opens a realtime connection that renews its credentials before they expire and replays its subscriptions. */
export async function connectRealtime(options: RealtimeOptions): Promise<RealtimeConnection> {
  const connection = new RealtimeConnection(options);
  await connection.start();
  return connection;
}
