import type { MailData, MailKind } from './kinds.js';

/** What every template receives next to its data. */
export interface MailContext {
  /** The product name mails are signed with (option `mail.productName`). */
  productName: string;
  /** The link base (option `mail.appUrl`). */
  appUrl: string;
}

/**
 * How one kind of mail is written. `html` returns markup: escape the data you put in it
 * (`escapeHtml`, exported from 'gatehouse-auth'); the defaults do.
 */
export interface MailTemplate<K extends MailKind> {
  subject(data: MailData[K], context: MailContext): string;
  text(data: MailData[K], context: MailContext): string;
  html(data: MailData[K], context: MailContext): string;
}

export type MailTemplates = { [K in MailKind]: MailTemplate<K> };

/** Host overrides: any of subject, text and html for any kind; the rest stays default. */
export type MailTemplateOverrides = { [K in MailKind]?: Partial<MailTemplate<K>> };

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

/** "in 30 minutes", "in 24 hours": TTLs are whole minutes in practice. */
function validFor(expiresAt: number, now: number): string {
  const minutes = Math.max(1, Math.round((expiresAt - now) / 60_000));
  if (minutes % 1440 === 0) return `${minutes / 1440} day${minutes === 1440 ? '' : 's'}`;
  if (minutes % 60 === 0) return `${minutes / 60} hour${minutes === 60 ? '' : 's'}`;
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

function page(context: MailContext, paragraphs: string[], link?: { href: string; label: string }): string {
  const button = link
    ? `<p><a href="${escapeHtml(link.href)}" style="display:inline-block;padding:10px 18px;background:#1f6feb;color:#ffffff;text-decoration:none;border-radius:6px">${escapeHtml(link.label)}</a></p>\n<p style="font-size:12px;color:#555">Or open this link: <a href="${escapeHtml(link.href)}">${escapeHtml(link.href)}</a></p>\n`
    : '';
  return (
    `<!doctype html>\n<html><body style="font-family:sans-serif;line-height:1.5;color:#111">\n` +
    paragraphs.map((p) => `<p>${p}</p>\n`).join('') +
    button +
    `<p style="font-size:12px;color:#555">${escapeHtml(context.productName)}</p>\n</body></html>\n`
  );
}

function lines(...parts: string[]): string {
  return `${parts.join('\n')}\n`;
}

/** The built-in templates; `now` is when the mail is rendered, for "valid for …". */
export function defaultTemplates(now: () => number): MailTemplates {
  return {
    verify_email: {
      subject: (_d, c) => `Verify your email address for ${c.productName}`,
      text: (d, c) =>
        lines(
          `Confirm that ${d.email} is your address for ${c.productName} by opening this link:`,
          '',
          d.link,
          '',
          `The link is valid for ${validFor(d.expiresAt, now())}. If you did not sign up, ignore this mail.`,
        ),
      html: (d, c) =>
        page(
          c,
          [
            `Confirm that <strong>${escapeHtml(d.email)}</strong> is your address for ${escapeHtml(c.productName)}.`,
            `The link is valid for ${validFor(d.expiresAt, now())}. If you did not sign up, ignore this mail.`,
          ],
          { href: d.link, label: 'Verify email address' },
        ),
    },
    reset_password: {
      subject: (_d, c) => `Reset your ${c.productName} password`,
      text: (d, c) =>
        lines(
          `Someone asked to reset the password of ${d.email} at ${c.productName}. To choose a new password, open this link:`,
          '',
          d.link,
          '',
          `The link is valid for ${validFor(d.expiresAt, now())} and works once. If you did not ask for this, ignore this mail: your password stays as it is.`,
        ),
      html: (d, c) =>
        page(
          c,
          [
            `Someone asked to reset the password of <strong>${escapeHtml(d.email)}</strong> at ${escapeHtml(c.productName)}.`,
            `The link is valid for ${validFor(d.expiresAt, now())} and works once. If you did not ask for this, ignore this mail: your password stays as it is.`,
          ],
          { href: d.link, label: 'Choose a new password' },
        ),
    },
    change_email: {
      subject: (_d, c) => `Confirm your new email address for ${c.productName}`,
      text: (d, c) =>
        lines(
          `To make ${d.newEmail} the address of your ${c.productName} account, open this link:`,
          '',
          d.link,
          '',
          `The link is valid for ${validFor(d.expiresAt, now())}. If you did not ask for this, ignore this mail.`,
        ),
      html: (d, c) =>
        page(
          c,
          [
            `To make <strong>${escapeHtml(d.newEmail)}</strong> the address of your ${escapeHtml(c.productName)} account, confirm it.`,
            `The link is valid for ${validFor(d.expiresAt, now())}. If you did not ask for this, ignore this mail.`,
          ],
          { href: d.link, label: 'Confirm new address' },
        ),
    },
    email_changed: {
      subject: (_d, c) => `Your ${c.productName} email address is changing`,
      text: (d, c) =>
        lines(
          `Someone asked to change the address of your ${c.productName} account from ${d.oldEmail} to ${d.newEmail}.`,
          '',
          `If this was not you, change your password now and contact support.`,
        ),
      html: (d, c) =>
        page(c, [
          `Someone asked to change the address of your ${escapeHtml(c.productName)} account from <strong>${escapeHtml(d.oldEmail)}</strong> to <strong>${escapeHtml(d.newEmail)}</strong>.`,
          'If this was not you, change your password now and contact support.',
        ]),
    },
    password_changed: {
      subject: (_d, c) => `Your ${c.productName} password was changed`,
      text: (d, c) =>
        lines(`The password of ${d.email} at ${c.productName} was just changed.`, '', `If this was not you, reset your password now and contact support.`),
      html: (d, c) =>
        page(c, [
          `The password of <strong>${escapeHtml(d.email)}</strong> at ${escapeHtml(c.productName)} was just changed.`,
          'If this was not you, reset your password now and contact support.',
        ]),
    },
    invitation: {
      subject: (d, c) => `You are invited to ${d.orgName} on ${c.productName}`,
      text: (d, c) =>
        lines(
          `You are invited to join ${d.orgName} on ${c.productName} as ${d.role}. To accept, open this link:`,
          '',
          d.link,
          '',
          `Or sign up with the invitation code ${d.code}. The invitation is valid for ${validFor(d.expiresAt, now())}.`,
        ),
      html: (d, c) =>
        page(
          c,
          [
            `You are invited to join <strong>${escapeHtml(d.orgName)}</strong> on ${escapeHtml(c.productName)} as ${escapeHtml(d.role)}.`,
            `Or sign up with the invitation code <code>${escapeHtml(d.code)}</code>. The invitation is valid for ${validFor(d.expiresAt, now())}.`,
          ],
          { href: d.link, label: 'Accept invitation' },
        ),
    },
  };
}

/** The defaults with the host's overrides laid over them, per function. */
export function mergeTemplates(defaults: MailTemplates, overrides: MailTemplateOverrides | undefined): MailTemplates {
  if (!overrides) return defaults;
  const merged: Record<string, unknown> = { ...defaults };
  for (const [kind, override] of Object.entries(overrides)) {
    if (!(kind in defaults)) throw new TypeError(`mail.templates.${kind}: no such mail kind (one of ${Object.keys(defaults).join(', ')})`);
    merged[kind] = { ...defaults[kind as MailKind], ...(override as object) };
  }
  return merged as MailTemplates;
}
