import { randomUUID } from 'node:crypto';
import type { CoreContext } from '../core/context.js';
import type { Mailer, OutboxRecord, Repositories } from '../ports.js';
import type { LinkKind, MailData, MailKind } from './kinds.js';
import type { MailContext, MailTemplates } from './templates.js';

/** Worker timing, resolved from `mail.worker` (milliseconds). */
export interface MailWorkerConfig {
  /** Run passes on a timer (else only when `deliverPending` is called). */
  autoStart: boolean;
  /** Pause between passes. */
  intervalMs: number;
  /** Attempts before a mail is given up (kept in the outbox with `failedAt`). */
  maxAttempts: number;
  /** Wait after the first failure; doubled after each further one. */
  backoffMs: number;
  maxBackoffMs: number;
  /** How long a claimed row is left to one worker before another may take it over. */
  leaseMs: number;
  /** Rows claimed per round trip. */
  batchSize: number;
  /** Mails sent at once by one pass. */
  concurrency: number;
  /** Sent and given-up rows are deleted after this long. */
  retentionMs: number;
}

/** The `mail` options, resolved. */
export interface MailConfig {
  mailer: Mailer;
  /** Sender address put on every message, unless the mailer sets its own. */
  from: string | undefined;
  context: MailContext;
  /** Per-kind URL templates containing `{token}`. */
  urls: Record<LinkKind, string>;
  templates: MailTemplates;
  worker: MailWorkerConfig;
}

/**
 * Mail as the core sees it: rendered at once, written to the outbox in the caller's
 * transaction, delivered later by `deliverPending` (the router's worker runs it).
 */
export interface MailService {
  /** The URL a token travels in, from `mail.appUrl` and the kind's URL template. */
  link(kind: LinkKind, token: string): string;
  /**
   * Renders the kind's mail for `to` and writes it to the outbox through `tx`: the mail
   * exists exactly when the caller's transaction commits.
   */
  queue<K extends MailKind>(tx: Repositories, kind: K, to: string, data: MailData[K]): Promise<void>;
  /**
   * Spends one point of the per-account and per-IP mail limits (`mail.limits`); throws
   * 429 `too_many_attempts` when either is used up. Call it before the transaction
   * that queues the mail.
   */
  assertCanSend(keys: { account?: string; ip?: string }): Promise<void>;
  /**
   * One worker pass: claims due mails, sends them, records the outcome (a failure is
   * retried after an exponential backoff). Returns how many were sent.
   */
  deliverPending(): Promise<number>;
}

// Header values must not carry line breaks (a name with "\r\n" in a subject).
const oneLine = (value: string) => value.replace(/[\r\n]+/g, ' ').trim();

/** Errors are stored and logged without anything that could echo a message body. */
function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown; responseCode?: unknown }).code;
    return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`;
  }
  return String(err);
}

export function createMailService(ctx: CoreContext, config: MailConfig, hooks: { onQueued?: () => void } = {}): MailService {
  const { storage, clock, logger } = ctx;
  const { worker } = config;
  let lastPurge = 0;

  const backoff = (attempts: number) => Math.min(worker.maxBackoffMs, worker.backoffMs * 2 ** Math.max(0, attempts - 1));

  async function deliver(row: OutboxRecord, claimId: string): Promise<boolean> {
    try {
      await config.mailer.send({
        to: row.to,
        subject: row.subject,
        text: row.text,
        ...(row.html !== null ? { html: row.html } : {}),
        ...(config.from !== undefined ? { from: config.from } : {}),
      });
    } catch (err) {
      const now = clock.now();
      const giveUp = row.attempts >= worker.maxAttempts;
      const error = describe(err);
      await storage.outbox.markFailed(row.id, claimId, { now, error, nextAttemptAt: giveUp ? null : now + backoff(row.attempts) });
      if (giveUp) logger.error('gatehouse: mail given up', { id: row.id, kind: row.kind, attempts: row.attempts, error });
      else logger.warn('gatehouse: mail delivery failed, will retry', { id: row.id, kind: row.kind, attempts: row.attempts, error });
      return false;
    }
    // Sent: if recording it fails, the lease runs out and the mail goes again (at least
    // once, never lost).
    return storage.outbox.markSent(row.id, claimId, clock.now());
  }

  return {
    link(kind, token) {
      const template = config.urls[kind];
      if (template === undefined) throw new TypeError(`mail.link: no URL for mail kind ${JSON.stringify(kind)}`);
      return template.replaceAll('{token}', encodeURIComponent(token));
    },

    async queue(tx, kind, to, data) {
      const template = config.templates[kind];
      const now = clock.now();
      await tx.outbox.enqueue({
        id: randomUUID(),
        kind,
        to,
        subject: oneLine(template.subject(data, config.context)),
        text: template.text(data, config.context),
        html: template.html(data, config.context),
        createdAt: now,
        nextAttemptAt: now,
      });
      hooks.onQueued?.();
    },

    async assertCanSend(keys) {
      await ctx.throttle.spend({ mailAccount: keys.account, mailIp: keys.ip }, 'mails requested');
    },

    async deliverPending() {
      let sent = 0;
      for (;;) {
        const now = clock.now();
        const claimId = randomUUID();
        const rows = await storage.outbox.claimDue(now, worker.batchSize, { claimId, claimedUntil: now + worker.leaseMs });
        let next = 0;
        let late = false;
        let failed: { error: unknown } | undefined;
        // `concurrency` sends at a time, so a slow SMTP server does not hold the batch up
        // one mail at a time. Once half the lease is gone, the rest could be taken over by
        // another instance mid-send: they are left for after the lease. A failure to record
        // an outcome (storage) stops the pass, as it did when sends ran one by one.
        const sender = async () => {
          while (next < rows.length && failed === undefined && !(late ||= clock.now() > now + worker.leaseMs / 2)) {
            try {
              if (await deliver(rows[next++] as OutboxRecord, claimId)) sent += 1;
            } catch (error) {
              failed ??= { error };
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(worker.concurrency, rows.length) }, sender));
        if (failed !== undefined) throw failed.error;
        if (late || rows.length < worker.batchSize) break;
      }
      const now = clock.now();
      if (now - lastPurge > 60 * 60 * 1000) {
        lastPurge = now;
        await storage.outbox.purgeFinished(now - worker.retentionMs);
      }
      return sent;
    },
  };
}
