import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { AuditEntry, Clock, Logger, Repositories, StorageAdapter } from '../ports.js';
import { toSeconds, type Duration } from '../duration.js';
import type { AuditActor, AuditEvent, AuditTarget } from './audit-event.js';
import { AUDIT_GENESIS_HASH, auditChainKey, auditEntryHash } from './audit-chain.js';
import { clientFields, type ClientInfo } from './client-info.js';
import { requireRole } from './membership-checks.js';

/** What a service records; the log fills in id and time, and the IP and User-Agent from `client`. */
export interface AuditRecordInput {
  orgId: string | null;
  actor: AuditActor;
  action: string;
  target?: AuditTarget | null;
  data?: AuditEvent['data'];
  /** The request behind the action (its IP and user agent are recorded); undefined for none. */
  client: ClientInfo | undefined;
}

/** Option `audit` of createAuthRouter. */
export interface AuditOptions {
  /** How long entries are kept; older ones are deleted by the scheduled purge (the chain stays verifiable from a checkpoint). Default '365d'. */
  retention?: Duration;
  /**
   * Told of every recorded event once the action's transaction has committed (to forward
   * it to a SIEM, a queue, a log). Neither a throw nor a rejection fails the action: they
   * are logged. Not awaited.
   */
  onAuditEvent?: (event: AuditEvent) => void | Promise<void>;
}

export interface AuditConfig {
  retentionMs: number;
  onAuditEvent?: (event: AuditEvent) => void | Promise<void>;
}

const DEFAULT_RETENTION = '365d';
/** Pages of the list and of the export; verification reads in batches of this size too. */
const MAX_PAGE = 200;
const VERIFY_BATCH = 500;

export function resolveAuditOptions(options: AuditOptions | undefined): AuditConfig {
  if (options === undefined) return { retentionMs: toSeconds(DEFAULT_RETENTION, 'audit.retention') * 1000 };
  if (typeof options !== 'object' || options === null) throw new TypeError("audit must be an object such as { retention: '365d' }");
  if (options.onAuditEvent !== undefined && typeof options.onAuditEvent !== 'function') throw new TypeError('audit.onAuditEvent must be a function');
  const retentionMs = toSeconds(options.retention ?? DEFAULT_RETENTION, 'audit.retention') * 1000;
  return { retentionMs, ...(options.onAuditEvent ? { onAuditEvent: options.onAuditEvent } : {}) };
}

export interface AuditListFilters {
  action?: string | undefined;
  actorId?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
  /** The `next` of the previous page. */
  cursor?: string | undefined;
  limit?: number | undefined;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next: string | null;
}

export type AuditVerification =
  | { valid: true; checked: number }
  /** `brokenAt`: the seq of the first entry that does not fit; `entryId` null when that entry is missing (deleted). */
  | { valid: false; checked: number; brokenAt: number; entryId: string | null };

function parseCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  if (!/^[1-9][0-9]{0,15}$/.test(cursor)) throw new AuthError('invalid_request', 'the cursor is invalid', { errors: [{ path: 'cursor', message: 'use the `next` of the previous page' }] });
  return Number(cursor);
}

/**
 * The audit log. Services call `record` with the repositories of the action's own
 * transaction, so an entry exists exactly when the action committed; `transaction`
 * runs such a transaction and then tells `onAuditEvent` (after the commit, so the host
 * never hears of an action that rolled back).
 */
export class AuditLog {
  /** Events recorded in a transaction still open, keyed by its repositories. */
  private readonly pending = new WeakMap<Repositories, AuditEvent[]>();
  private readonly recordedListeners: Array<(repos: Repositories, event: AuditEvent) => Promise<void>> = [];

  constructor(
    private readonly storage: StorageAdapter,
    private readonly clock: Clock,
    private readonly logger: Logger,
    readonly config: AuditConfig,
  ) {}

  /** Appends the event to its chain with `repos` (a transaction's, or the storage itself). */
  async record(repos: Repositories, input: AuditRecordInput): Promise<AuditEvent> {
    const event: AuditEvent = {
      id: randomUUID(),
      orgId: input.orgId,
      at: this.clock.now(),
      actor: input.actor,
      action: input.action,
      target: input.target ?? null,
      ...clientFields(input.client),
      data: input.data ?? {},
    };
    await repos.audit.append(auditChainKey(event.orgId, event.actor), event);
    for (const listener of this.recordedListeners) await listener(repos, event);
    const pending = this.pending.get(repos);
    if (pending) pending.push(event);
    // On the storage itself the append has committed already. In a transaction not begun
    // by `transaction` nobody can tell when it commits: the hook is not told (the entry
    // is stored all the same), rather than told of an action that may yet roll back.
    else if (repos === this.storage) this.publish([event]);
    return event;
  }

  /**
   * Calls `listener` for every event right after its entry, with the same repositories
   * (inside the action's transaction): for side effects that must commit with it, such as
   * queueing webhook deliveries in their outbox. A listener that throws fails the action.
   */
  onRecorded(listener: (repos: Repositories, event: AuditEvent) => Promise<void>): void {
    this.recordedListeners.push(listener);
  }

  /** `storage.transaction(fn)`, then `onAuditEvent` for each event recorded in it, once it committed. */
  async transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    const events: AuditEvent[] = [];
    const result = await this.storage.transaction(async (tx) => {
      this.pending.set(tx, events);
      return fn(tx);
    });
    this.publish(events);
    return result;
  }

  private publish(events: AuditEvent[]): void {
    const hook = this.config.onAuditEvent;
    if (!hook) return;
    const failed = (err: unknown, event: AuditEvent) =>
      this.logger.error('gatehouse: audit.onAuditEvent failed', { action: event.action, eventId: event.id, error: err instanceof Error ? err.message : String(err) });
    for (const event of events) {
      try {
        const returned = hook(event);
        if (returned instanceof Promise) returned.catch((err: unknown) => failed(err, event));
      } catch (err) {
        failed(err, event);
      }
    }
  }

  /** One page of the org's log, newest first (owners and admins). */
  async list(actorId: string, orgId: string, filters: AuditListFilters = {}): Promise<AuditPage> {
    await requireRole(this.storage, actorId, orgId, 'admin');
    return this.page(orgChain(orgId), filters);
  }

  /**
   * One page of the user's own account log, newest first: the events of no org (password,
   * email and MFA changes, every other session ended, the account's own failed second
   * factors when it is in no org). Only the user reads it.
   */
  listAccount(userId: string, filters: AuditListFilters = {}): Promise<AuditPage> {
    return this.page(auditChainKey(null, { type: 'user', id: userId }), filters);
  }

  /** Every entry matching the filters, newest first, page by page (owners and admins): for an export. */
  async export(actorId: string, orgId: string, filters: Omit<AuditListFilters, 'cursor' | 'limit'> = {}): Promise<AsyncIterable<AuditEntry>> {
    await requireRole(this.storage, actorId, orgId, 'admin');
    const page = (cursor: string | undefined) => this.page(orgChain(orgId), { ...filters, cursor, limit: MAX_PAGE });
    return (async function* () {
      let cursor: string | undefined;
      do {
        const next = await page(cursor);
        yield* next.entries;
        cursor = next.next ?? undefined;
      } while (cursor !== undefined);
    })();
  }

  private async page(chain: string, filters: AuditListFilters): Promise<AuditPage> {
    const limit = Math.min(Math.max(filters.limit ?? 50, 1), MAX_PAGE);
    const beforeSeq = parseCursor(filters.cursor);
    const entries = await this.storage.audit.list(chain, {
      limit,
      ...(filters.action !== undefined && { action: filters.action }),
      ...(filters.actorId !== undefined && { actorId: filters.actorId }),
      ...(filters.since !== undefined && { since: filters.since }),
      ...(filters.until !== undefined && { until: filters.until }),
      ...(beforeSeq !== undefined && { beforeSeq }),
    });
    const last = entries.at(-1);
    return { entries, next: entries.length === limit && last && last.seq > 1 ? String(last.seq) : null };
  }

  /** Recomputes the org's chain from its checkpoint (owners only). */
  async verify(actorId: string, orgId: string): Promise<AuditVerification> {
    const membership = await requireRole(this.storage, actorId, orgId, 'owner');
    return this.verifyChain(orgChain(membership.orgId));
  }

  /**
   * Walks `chain` in seq order: each entry must follow the one before without a gap,
   * name its hash as prevHash and hash to what it stores; the last must be the head.
   */
  async verifyChain(chain: string): Promise<AuditVerification> {
    // A chain without a head has no entries, unless the head row itself was deleted.
    const head = (await this.storage.audit.head(chain)) ?? { seq: 0, hash: AUDIT_GENESIS_HASH, checkpoint: null };
    let prev = head.checkpoint ?? { seq: 0, hash: AUDIT_GENESIS_HASH };
    let checked = 0;
    for (;;) {
      const batch = await this.storage.audit.readChain(chain, prev.seq, VERIFY_BATCH);
      for (const entry of batch) {
        if (entry.seq !== prev.seq + 1) return { valid: false, checked, brokenAt: prev.seq + 1, entryId: null };
        const { hash, ...linked } = entry;
        if (entry.prevHash !== prev.hash || hash !== auditEntryHash(linked)) return { valid: false, checked, brokenAt: entry.seq, entryId: entry.id };
        checked += 1;
        prev = entry;
      }
      if (batch.length < VERIFY_BATCH) break;
    }
    // The newest entries deleted (or the head moved) leave the chain short of its head.
    if (prev.seq !== head.seq || prev.hash !== head.hash) return { valid: false, checked, brokenAt: prev.seq + 1, entryId: null };
    return { valid: true, checked };
  }

  /** Deletes up to `limit` entries older than the retention, for the purge scheduler. */
  purge(now: number, limit: number): Promise<number> {
    return this.storage.audit.purgeBefore(now - this.config.retentionMs, limit);
  }
}

const orgChain = (orgId: string) => auditChainKey(orgId, { type: 'system', id: null });

/** The actor of a request: the user, or the API key it came with. */
export function actorOf(auth: { userId: string; apiKeyId?: string | undefined }): AuditActor {
  return auth.apiKeyId !== undefined ? { type: 'api_key', id: auth.apiKeyId } : { type: 'user', id: auth.userId };
}
