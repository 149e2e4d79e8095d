import type { SecretBox } from '../core/secret-box.js';

/**
 * The `webhooks` option: how endpoint URLs are checked, and how the delivery worker
 * retries. Times are in milliseconds.
 */
export interface WebhookOptions {
  /**
   * Accept `http://` endpoint URLs whose host is this machine (`localhost`, 127.0.0.1,
   * [::1]), for trying webhooks during development. Default: true unless
   * `NODE_ENV=production`. Any other URL must be https.
   */
  allowInsecureLoopback?: boolean;
  /**
   * Resolve each endpoint's host at send time and refuse to deliver to private,
   * loopback, link-local, unique-local and unspecified addresses (SSRF); the connection
   * goes to the address checked. Default: true when `NODE_ENV=production`.
   */
  blockPrivateAddresses?: boolean;
  /**
   * Waits before each retry of a failed delivery; after the last one the delivery is
   * given up. Default (the Standard Webhooks guidance): 5 s, 5 min, 30 min, 2 h, 5 h,
   * 10 h, 10 h, so eight attempts over about 28 hours.
   */
  retrySchedule?: number[];
  /** Failed attempts in a row (over all of an endpoint's deliveries) after which the endpoint is disabled. Default 10. */
  maxConsecutiveFailures?: number;
  /**
   * Endpoints one organization may register (disabled ones count). Default 10: each
   * endpoint gets every event, so this bounds the deliveries one action makes.
   */
  maxEndpointsPerOrg?: number;
  /** How long one attempt may take, connection to response status. Default 10000. */
  timeout?: number;
  /** How long delivered and given-up deliveries stay in the delivery log. Default 30 days (2592000000). */
  retention?: number;
  /** The delivery worker. */
  worker?: {
    /** Deliver on a timer in every router (default true); false: only when `services.webhooks.deliverPending()` is called. */
    autoStart?: boolean;
    /** Pause between passes. Default 5000; a new event is sent sooner. */
    interval?: number;
  };
}

/** The `webhooks` options, resolved. */
export interface WebhookConfig {
  /** Seals endpoint secrets at rest (bound to the endpoint's id). */
  box: SecretBox;
  allowInsecureLoopback: boolean;
  blockPrivateAddresses: boolean;
  retryScheduleMs: number[];
  maxConsecutiveFailures: number;
  maxEndpointsPerOrg: number;
  timeoutMs: number;
  retentionMs: number;
  worker: {
    autoStart: boolean;
    intervalMs: number;
    /** How long a claimed delivery is left to one worker before another may take it over: well past the timeout. */
    leaseMs: number;
    /** Deliveries claimed per round trip (at most one per endpoint). */
    batchSize: number;
  };
}

const DEFAULT_SCHEDULE = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

const positiveMs = (value: unknown, option: string): number => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`${option} must be a number of milliseconds, 0 or more (got ${JSON.stringify(value)})`);
  return value;
};

export function resolveWebhookOptions(options: WebhookOptions | undefined, box: SecretBox, env: string | undefined = process.env.NODE_ENV): WebhookConfig {
  const o = options ?? {};
  const production = env === 'production';
  for (const name of ['allowInsecureLoopback', 'blockPrivateAddresses'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') throw new TypeError(`webhooks.${name} must be true or false`);
  }
  const schedule = o.retrySchedule ?? DEFAULT_SCHEDULE;
  if (!Array.isArray(schedule)) throw new TypeError('webhooks.retrySchedule must be an array of waits in milliseconds, for example [5000, 300000]');
  const retryScheduleMs = schedule.map((ms, i) => positiveMs(ms, `webhooks.retrySchedule[${i}]`));
  const maxConsecutiveFailures = o.maxConsecutiveFailures ?? 10;
  if (!Number.isInteger(maxConsecutiveFailures) || maxConsecutiveFailures < 1) {
    throw new TypeError(`webhooks.maxConsecutiveFailures must be a whole number of at least 1 (got ${JSON.stringify(maxConsecutiveFailures)})`);
  }
  const maxEndpointsPerOrg = o.maxEndpointsPerOrg ?? 10;
  if (!Number.isInteger(maxEndpointsPerOrg) || maxEndpointsPerOrg < 1) {
    throw new TypeError(`webhooks.maxEndpointsPerOrg must be a whole number of at least 1 (got ${JSON.stringify(maxEndpointsPerOrg)})`);
  }
  const timeoutMs = positiveMs(o.timeout ?? 10_000, 'webhooks.timeout');
  if (timeoutMs < 100) throw new TypeError('webhooks.timeout must be at least 100 milliseconds');
  const intervalMs = positiveMs(o.worker?.interval ?? 5_000, 'webhooks.worker.interval');
  if (intervalMs < 10) throw new TypeError('webhooks.worker.interval must be at least 10 milliseconds');
  return {
    box,
    allowInsecureLoopback: o.allowInsecureLoopback ?? !production,
    blockPrivateAddresses: o.blockPrivateAddresses ?? production,
    retryScheduleMs,
    maxConsecutiveFailures,
    maxEndpointsPerOrg,
    timeoutMs,
    retentionMs: positiveMs(o.retention ?? 30 * 86_400_000, 'webhooks.retention'),
    worker: { autoStart: o.worker?.autoStart ?? true, intervalMs, leaseMs: Math.max(60_000, timeoutMs * 3), batchSize: 20 },
  };
}
