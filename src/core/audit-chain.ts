import { createHash } from 'node:crypto';
import type { AuditActor, AuditEvent } from './audit-event.js';

/** `prevHash` of the first entry of every chain. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** What the hash covers besides the event: the entry's place in its chain. */
export interface AuditChainLink {
  seq: number;
  prevHash: string;
}

/**
 * The chain an event belongs to: one per organization, and for account-only events
 * (orgId null) one per acting user, so sign-ins of unrelated users never queue on one
 * lock. Events by `system` without an org share one chain.
 */
export function auditChainKey(orgId: string | null, actor: AuditActor): string {
  if (orgId !== null) return `org:${orgId}`;
  return actor.id === null ? 'system' : `${actor.type}:${actor.id}`;
}

/**
 * The canonical JSON of an entry: the keys in the order below, `data` keys sorted
 * (they are plain names, never numeric), no spaces.
 * It is what `hash` is the SHA-256 of, so anyone holding the entries (an export) can
 * recompute the chain in any language; the order below is therefore part of the format.
 */
export function canonicalAuditJson(entry: AuditEvent & AuditChainLink): string {
  const data: Record<string, string | number | boolean | null> = {};
  for (const key of Object.keys(entry.data).sort()) data[key] = entry.data[key] ?? null;
  return JSON.stringify({
    seq: entry.seq,
    prevHash: entry.prevHash,
    id: entry.id,
    orgId: entry.orgId,
    at: entry.at,
    actor: { type: entry.actor.type, id: entry.actor.id },
    action: entry.action,
    target: entry.target === null ? null : { type: entry.target.type, id: entry.target.id },
    ip: entry.ip,
    userAgent: entry.userAgent,
    data,
  });
}

/** SHA-256 (hex) of the canonical JSON. */
export function auditEntryHash(entry: AuditEvent & AuditChainLink): string {
  return createHash('sha256').update(canonicalAuditJson(entry), 'utf8').digest('hex');
}
