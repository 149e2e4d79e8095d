import { randomUUID } from 'node:crypto';
import type { Clock, EpochMs, Logger, StorageAdapter } from '../ports.js';
import { toSeconds, type Duration } from '../duration.js';

/** What one purge run deleted, per table, for `purge.onPurge`. */
export interface PurgeReport {
  /** The instance that ran it (random per router): of several instances sharing a store, one runs each interval. */
  holder: string;
  /** The clock's time the run started at: everything that ended at or before it was due for deletion. */
  startedAt: EpochMs;
  finishedAt: EpochMs;
  deleted: {
    revocations: number;
    refreshTokens: number;
    usedTokens: number;
    mailTokens: number;
    /** Throttle counters; 0 when the store keeps none. */
    rateLimits: number;
    /** Audit entries older than `audit.retention`. */
    auditEntries: number;
  };
}

export interface PurgeSchedulerOptions {
  /** Time between runs, in ms, across all instances sharing the store. */
  intervalMs: number;
  /** Rows deleted per statement: a batch holds its locks briefly, whatever the backlog. */
  batchSize: number;
  /** Told after each run this instance made; must not throw. */
  onPurge?: (report: PurgeReport) => void;
  /** Purges audit entries past their retention (keeping each chain's checkpoint). */
  audit?: { purge(now: EpochMs, limit: number): Promise<number> };
}

/** The lease's name in `storage.jobs`. */
const JOB = 'purge';
/** The first attempt after start, at most: an instance restarted more often than the interval still purges. */
const FIRST_RUN_MAX_DELAY_MS = 60_000;

type Purger = (now: EpochMs, limit: number) => Promise<number>;

/**
 * Deletes what has expired from storage on a timer: revocations, refresh tokens past
 * their own expiry, spent single-use tokens, mail tokens and throttle counters. Every
 * instance ticks, but a run first claims the store's lease (`storage.jobs.claim`), so
 * of the instances sharing a store one runs per interval. Deletes in bounded batches.
 */
export class PurgeScheduler {
  readonly holder = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PurgeReport | null> | undefined;
  private stopped = true;
  /** Set by stop(): a run in progress finishes its current batch and ends. */
  private halted = false;

  constructor(
    private readonly storage: StorageAdapter,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: PurgeSchedulerOptions,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.halted = false;
    this.schedule(Math.min(this.options.intervalMs, FIRST_RUN_MAX_DELAY_MS));
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halted = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * Runs a purge now if it is due and this instance wins the lease. Resolves with what
   * was deleted, or null when another instance has the current interval (or a run is
   * in progress here). Exposed for tests and for hosts that purge from a job of their own.
   */
  runOnce(): Promise<PurgeReport | null> {
    if (this.running) return Promise.resolve(null);
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      void this.runOnce()
        .catch((err: unknown) => this.logger.warn('gatehouse: purge failed', { error: err instanceof Error ? err.message : String(err) }))
        .finally(() => {
          if (!this.stopped) this.schedule(this.options.intervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async run(): Promise<PurgeReport | null> {
    const startedAt = this.clock.now();
    // Without leases in the store every instance purges: correct, only repeated work.
    // The lease comes due a little early, so the instance that ran last is not skipped for
    // a whole interval when its timer fires a few ms before the lease it set.
    const nextRunAt = startedAt + this.options.intervalMs - Math.min(1000, this.options.intervalMs / 10);
    if (this.storage.jobs && !(await this.storage.jobs.claim(JOB, this.holder, startedAt, nextRunAt))) return null;
    const { storage } = this;
    const { audit } = this.options;
    const deleted: PurgeReport['deleted'] = {
      // Nothing an entry revokes is valid after its `expiresAt`, which already includes
      // the revocation's minimum lifetime (set when it was written).
      revocations: await this.drain((now, limit) => storage.revocations.purgeExpired(now, limit), startedAt),
      refreshTokens: await this.drain((now, limit) => storage.refreshTokens.purgeExpired(now, limit), startedAt),
      usedTokens: await this.drain((now, limit) => storage.usedTokens.purgeExpired(now, limit), startedAt),
      mailTokens: await this.drain((now, limit) => storage.mailTokens.purgeExpired(now, limit), startedAt),
      rateLimits: storage.rateLimits ? await this.drain((now, limit) => storage.rateLimits!.purgeExpired(now, limit), startedAt) : 0,
      auditEntries: audit ? await this.drain((now, limit) => audit.purge(now, limit), startedAt) : 0,
    };
    const report: PurgeReport = { holder: this.holder, startedAt, finishedAt: this.clock.now(), deleted };
    try {
      this.options.onPurge?.(report);
    } catch (err) {
      this.logger.error('gatehouse: purge.onPurge failed', { error: err instanceof Error ? err.message : String(err) });
    }
    return report;
  }

  /** Deletes batch after batch until one comes back short, yielding between them so requests are served. */
  private async drain(purge: Purger, now: EpochMs): Promise<number> {
    const limit = this.options.batchSize;
    let total = 0;
    for (;;) {
      const count = await purge(now, limit);
      total += count;
      // An adapter that ignores `limit` deletes everything at once: the next call finds nothing.
      if (count < limit || this.halted) return total;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** Option `purge` of createAuthRouter. */
export interface PurgeOptions {
  /** Whether this router runs the scheduled purge. Default true; false when the host purges otherwise (or another deployment does). */
  enabled?: boolean;
  /** Time between purges, shared by every instance on the store (one of them runs each). Default '10m'. */
  interval?: Duration;
  /** Rows deleted per statement. Default 5000. */
  batchSize?: number;
  /** Told what each purge run by this instance deleted (metrics, logs); must not throw. */
  onPurge?: (report: PurgeReport) => void;
}

/** Validates option `purge`; null when it is turned off. */
export function resolvePurgeOptions(options: PurgeOptions | undefined): PurgeSchedulerOptions | null {
  if (options === undefined) return { intervalMs: 10 * 60 * 1000, batchSize: 5000 };
  if (typeof options !== 'object' || options === null) throw new TypeError('purge must be an object such as { interval: \'10m\' }');
  if (options.enabled !== undefined && typeof options.enabled !== 'boolean') throw new TypeError(`purge.enabled must be a boolean (got ${JSON.stringify(options.enabled)})`);
  const batchSize = options.batchSize ?? 5000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new TypeError(`purge.batchSize must be a whole number from 1 to 100000 (got ${JSON.stringify(options.batchSize)})`);
  }
  if (options.onPurge !== undefined && typeof options.onPurge !== 'function') throw new TypeError('purge.onPurge must be a function');
  const intervalMs = toSeconds(options.interval ?? '10m', 'purge.interval') * 1000;
  if (options.enabled === false) return null;
  return { intervalMs, batchSize, ...(options.onPurge ? { onPurge: options.onPurge } : {}) };
}
