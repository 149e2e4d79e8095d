import { createRequire } from 'node:module';
import type Nodemailer from 'nodemailer';
import type { Mailer } from '../ports.js';

/**
 * SMTP settings as nodemailer's SMTP transport takes them (`host`, `port`, `secure`,
 * `auth: { user, pass }`, `pool`, timeouts, `tls`, …); see https://nodemailer.com/smtp/.
 * Typed loosely here so the published types do not depend on nodemailer's.
 */
export interface SmtpTransportOptions {
  host?: string;
  port?: number;
  /** true for implicit TLS (port 465); otherwise STARTTLS is used when the server offers it. */
  secure?: boolean;
  auth?: { user: string; pass: string };
  /** Keep connections open and reuse them. */
  pool?: boolean;
  /** Default sender when the message names none (`mail.from` does). */
  from?: string;
  [option: string]: unknown;
}

export interface SmtpMailer extends Mailer {
  /** Checks the connection and credentials (nodemailer's `verify`). */
  verify(): Promise<void>;
  /** Closes pooled connections. */
  close(): void;
}

/**
 * A Mailer sending through an SMTP server with nodemailer: `url` such as
 * `smtp://user:pass@smtp.example.com:587` (STARTTLS when offered),
 * `smtps://…:465` (implicit TLS), or nodemailer's SMTP transport options.
 * A mail the server does not accept rejects, so the outbox retries it.
 */
export function createSmtpMailer(transport: string | SmtpTransportOptions, defaults: { from?: string } = {}): SmtpMailer {
  if (typeof transport === 'string') {
    let url: URL;
    try {
      url = new URL(transport);
    } catch {
      throw new TypeError('createSmtpMailer: the SMTP URL must look like smtp://user:pass@host:587 or smtps://host:465');
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new TypeError(`createSmtpMailer: the SMTP URL must use smtp:// or smtps:// (got ${url.protocol})`);
  } else if (typeof transport !== 'object' || transport === null) {
    throw new TypeError('createSmtpMailer: pass an SMTP URL or nodemailer SMTP transport options');
  }
  const from = defaults.from ?? (typeof transport === 'object' ? transport.from : undefined);
  // nodemailer waits up to 10 minutes on a silent socket by default; the outbox lease
  // (default 5 minutes) must outlast a send, so fail sooner and retry instead.
  const options = { connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 60_000, ...(typeof transport === 'string' ? { url: transport } : transport) };
  // Loaded here, not at import: an app that never sends through SMTP keeps nodemailer
  // (about 2 MB of live heap, which every garbage collection walks) out of its process.
  const nodemailer = createRequire(import.meta.url)('nodemailer') as typeof Nodemailer;
  const transporter = nodemailer.createTransport(options as Parameters<typeof Nodemailer.createTransport>[0]);
  return {
    async send(message) {
      const sender = message.from ?? from;
      if (sender === undefined) throw new TypeError('createSmtpMailer: no sender; set the `mail.from` option');
      await transporter.sendMail({
        from: sender,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html !== undefined ? { html: message.html } : {}),
      });
    },
    async verify() {
      await transporter.verify();
    },
    close() {
      transporter.close();
    },
  };
}
