import { toSeconds, type Duration } from '../duration.js';
import type { Logger, Mailer } from '../ports.js';
import type { MailLimitOptions } from '../core/throttle.js';
import { linkOption, type LinkKind } from './kinds.js';
import { createLogMailer } from './log-mailer.js';
import type { MailConfig, MailWorkerConfig } from './service.js';
import { defaultTemplates, mergeTemplates, type MailTemplateOverrides } from './templates.js';

/** Option `mail` of `createAuthRouter`. */
export interface MailOptions {
  /**
   * Delivers the mails: `createSmtpMailer(url | transport options)` or a Mailer of your
   * own. Default: the log mailer, which prints every mail and its links (development only).
   */
  mailer?: Mailer;
  /** Sender address, for example `'Example <no-reply@example.com>'`. Default: the mailer's own. */
  from?: string;
  /** Named in subjects and signatures. Default 'gatehouse'. */
  productName?: string;
  /** Base of the links in mails, for example 'https://app.example.com'. Default 'http://localhost:3000'. */
  appUrl?: string;
  /**
   * Per-kind link templates, absolute http(s) URLs containing `{token}`, for example
   * 'https://app.example.com/reset-password?token={token}'. Defaults: `${appUrl}/verify-email?token={token}`
   * (verifyEmail and changeEmail), `${appUrl}/reset-password?token={token}`, `${appUrl}/accept-invitation?code={token}`.
   */
  urls?: Partial<Record<'verifyEmail' | 'resetPassword' | 'changeEmail' | 'invitation', string>>;
  /** Replace the subject, text or HTML of any kind: functions of the kind's data. */
  templates?: MailTemplateOverrides;
  /** Mails asked for per account and per IP (no mail bombing); `false` turns them off. Default 5 per account and 20 per IP per hour. */
  limits?: MailLimitOptions | false;
  /** The outbox worker. */
  worker?: {
    /**
     * Run passes on a timer from `ready()` until `close()`. Default true. With false,
     * nothing is delivered unless you call `services.mail.deliverPending()` (a cron job).
     */
    autoStart?: boolean;
    /** Pause between passes. Default '5s'. */
    interval?: Duration;
    /** Attempts before a mail is given up. Default 10. */
    maxAttempts?: number;
    /** Wait after the first failure, doubled after each further one. Default '30s'. */
    backoff?: Duration;
    /** Longest wait between attempts. Default '1h'. */
    maxBackoff?: Duration;
    /** How long one instance holds a claimed mail before another may take it over. Default '5m'. */
    lease?: Duration;
    /**
     * Mails one instance sends at once (each over its own SMTP connection unless the
     * mailer pools them). Default 4; 1 sends one after another.
     */
    concurrency?: number;
    /** How long sent and given-up mails stay in the outbox. Default '7d'. */
    retention?: Duration;
  };
}

const DEFAULT_APP_URL = 'http://localhost:3000';

function httpUrl(value: string, option: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${option} must be an absolute http:// or https:// URL (got ${JSON.stringify(value)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${option} must use http:// or https:// (got ${url.protocol})`);
  return url;
}

/** Validates `mail` options and fills in defaults. Throws a TypeError that says what to set. */
export function resolveMailOptions(options: MailOptions | undefined, logger: Logger, now: () => number): { config: MailConfig; limits: MailLimitOptions | false } {
  const mail = options ?? {};
  const appUrl = (mail.appUrl ?? DEFAULT_APP_URL).replace(/\/+$/, '');
  httpUrl(appUrl, 'mail.appUrl');
  const defaults: Record<LinkKind, string> = {
    verify_email: `${appUrl}/verify-email?token={token}`,
    reset_password: `${appUrl}/reset-password?token={token}`,
    change_email: `${appUrl}/verify-email?token={token}`,
    invitation: `${appUrl}/accept-invitation?code={token}`,
  };
  const urls = { ...defaults };
  for (const kind of Object.keys(linkOption) as LinkKind[]) {
    const name = linkOption[kind];
    const given = mail.urls?.[name];
    if (given === undefined) continue;
    httpUrl(given.replaceAll('{token}', 'x'), `mail.urls.${name}`);
    if (!given.includes('{token}')) throw new TypeError(`mail.urls.${name} must contain {token}, where the token goes (got ${JSON.stringify(given)})`);
    urls[kind] = given;
  }
  for (const name of Object.keys(mail.urls ?? {})) {
    if (!Object.values(linkOption).includes(name as never)) throw new TypeError(`mail.urls.${name}: unknown; use ${Object.values(linkOption).join(', ')}`);
  }
  if (mail.mailer !== undefined && typeof mail.mailer?.send !== 'function') throw new TypeError('mail.mailer must have a send(message) method: for example createSmtpMailer(process.env.SMTP_URL)');
  const w = mail.worker ?? {};
  const maxAttempts = w.maxAttempts ?? 10;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TypeError(`mail.worker.maxAttempts must be a whole number of at least 1 (got ${JSON.stringify(maxAttempts)})`);
  const concurrency = w.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError(`mail.worker.concurrency must be a whole number of at least 1 (got ${JSON.stringify(concurrency)})`);
  const worker: MailWorkerConfig = {
    autoStart: w.autoStart ?? true,
    intervalMs: toSeconds(w.interval ?? '5s', 'mail.worker.interval') * 1000,
    maxAttempts,
    backoffMs: toSeconds(w.backoff ?? '30s', 'mail.worker.backoff') * 1000,
    maxBackoffMs: toSeconds(w.maxBackoff ?? '1h', 'mail.worker.maxBackoff') * 1000,
    leaseMs: toSeconds(w.lease ?? '5m', 'mail.worker.lease') * 1000,
    batchSize: 20,
    concurrency,
    retentionMs: toSeconds(w.retention ?? '7d', 'mail.worker.retention') * 1000,
  };
  if (worker.maxBackoffMs < worker.backoffMs) throw new TypeError('mail.worker.maxBackoff must be at least mail.worker.backoff');
  return {
    config: {
      mailer: mail.mailer ?? createLogMailer(logger),
      from: mail.from,
      context: { productName: mail.productName ?? 'gatehouse', appUrl },
      urls,
      templates: mergeTemplates(defaultTemplates(now), mail.templates),
      worker,
    },
    limits: mail.limits ?? {},
  };
}
