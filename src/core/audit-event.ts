import type { EpochMs } from '../ports.js';

/** Who did it: a signed-in user, an API key (its id), or gatehouse itself (purge, a disabled webhook). */
export interface AuditActor {
  type: 'user' | 'api_key' | 'system';
  /** The user's or key's id; null for `system`. */
  id: string | null;
}

/** What it was done to, when that is not the actor: a member, an invitation, a key, a webhook endpoint. */
export interface AuditTarget {
  type: string;
  id: string;
}

/**
 * One security-relevant action, as recorded in the audit log and sent to webhooks. `action`
 * is a stable dotted name (`member.role_changed`); `data` holds small typed details of that
 * action and never a secret (no passwords, tokens, codes, key material or hashes of them).
 */
export interface AuditEvent {
  id: string;
  /** The organization it belongs to; null for an account-only event (a password change). */
  orgId: string | null;
  at: EpochMs;
  actor: AuditActor;
  action: string;
  target: AuditTarget | null;
  ip: string | null;
  userAgent: string | null;
  data: Record<string, string | number | boolean | null>;
}
