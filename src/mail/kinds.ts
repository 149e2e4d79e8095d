import type { Role } from '../ports.js';

/** Every mail gatehouse sends. */
export type MailKind = 'verify_email' | 'reset_password' | 'change_email' | 'email_changed' | 'password_changed' | 'invitation';

/** What each kind's template receives. `link` is the full URL the token travels in; `expiresAt` is epoch ms. */
export interface MailData {
  verify_email: { email: string; token: string; link: string; expiresAt: number };
  reset_password: { email: string; token: string; link: string; expiresAt: number };
  /** Sent to the new address. */
  change_email: { newEmail: string; token: string; link: string; expiresAt: number };
  /** A notice to the old address. */
  email_changed: { oldEmail: string; newEmail: string };
  /** A notice that the password changed (or was reset). */
  password_changed: { email: string };
  invitation: { orgName: string; role: Role; code: string; link: string; expiresAt: number };
}

/** The kinds whose mail carries a link with a token. */
export type LinkKind = 'verify_email' | 'reset_password' | 'change_email' | 'invitation';

/** The option names of the per-kind URL templates. */
export const linkOption: Readonly<Record<LinkKind, 'verifyEmail' | 'resetPassword' | 'changeEmail' | 'invitation'>> = {
  verify_email: 'verifyEmail',
  reset_password: 'resetPassword',
  change_email: 'changeEmail',
  invitation: 'invitation',
};

export const MAIL_KINDS: readonly MailKind[] = ['verify_email', 'reset_password', 'change_email', 'email_changed', 'password_changed', 'invitation'];
