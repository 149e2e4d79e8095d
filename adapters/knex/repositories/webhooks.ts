import type { Knex } from 'knex';
import type { WebhookDeliveryRecord, WebhookDeliveryStatus, WebhookEndpointRecord, WebhookRepository } from '../../../src/ports.js';
import { isPostgres } from '../dialect.js';
import type { TableNames } from '../tables.js';

type Big = number | string;

interface EndpointRow {
  id: string;
  org_id: string;
  url: string;
  events: string | null;
  secret: string;
  enabled: boolean | number;
  consecutive_failures: number | string;
  disabled_reason: string | null;
  created_at: Big;
  updated_at: Big;
}

interface DeliveryRow {
  seq: Big;
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number | string;
  next_attempt_at: Big;
  claimed_until: Big | null;
  claim_id: string | null;
  last_status_code: number | string | null;
  last_error: string | null;
  created_at: Big;
  delivered_at: Big | null;
}

const numOrNull = (value: Big | null): number | null => (value === null ? null : Number(value));

function fromEndpointRow(row: EndpointRow): WebhookEndpointRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    url: row.url,
    events: row.events === null ? null : (JSON.parse(row.events) as string[]),
    secret: row.secret,
    enabled: Boolean(row.enabled),
    consecutiveFailures: Number(row.consecutive_failures),
    disabledReason: row.disabled_reason,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function fromDeliveryRow(row: DeliveryRow): WebhookDeliveryRecord {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    payload: row.payload,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    claimedUntil: numOrNull(row.claimed_until),
    claimId: row.claim_id,
    lastStatusCode: numOrNull(row.last_status_code),
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    deliveredAt: numOrNull(row.delivered_at),
  };
}

// Errors are kept for the delivery log, not as a log: a bounded prefix is enough.
const MAX_ERROR = 1000;

export function webhookRepository(db: Knex, t: TableNames): WebhookRepository {
  const E = t.webhookEndpoints;
  const D = t.webhookDeliveries;

  const findEndpoint = async (orgId: string, id: string) => {
    const row = await db<EndpointRow>(E).where({ org_id: orgId, id }).first();
    return row ? fromEndpointRow(row) : null;
  };

  /** The seqs a claim may take: pending, due, lease free, endpoint enabled, and no older pending delivery of that endpoint. */
  const dueSeqs = (now: number, limit: number) =>
    db({ d: D })
      .join({ e: E }, 'e.id', 'd.endpoint_id')
      .select('d.seq')
      .where('d.status', 'pending')
      .where('e.enabled', true)
      .where('d.next_attempt_at', '<=', now)
      .where((q) => q.whereNull('d.claimed_until').orWhere('d.claimed_until', '<', now))
      .whereNotExists(
        db({ p: D })
          .select(db.raw('1'))
          .whereRaw('?? = ??', ['p.endpoint_id', 'd.endpoint_id'])
          .where('p.status', 'pending')
          .whereRaw('?? < ??', ['p.seq', 'd.seq']),
      )
      .orderBy('d.seq')
      .limit(limit);

  return {
    async insertEndpoint(endpoint) {
      await db(E).insert({
        id: endpoint.id,
        org_id: endpoint.orgId,
        url: endpoint.url,
        events: endpoint.events === null ? null : JSON.stringify(endpoint.events),
        secret: endpoint.secret,
        enabled: endpoint.enabled,
        consecutive_failures: endpoint.consecutiveFailures,
        disabled_reason: endpoint.disabledReason,
        created_at: endpoint.createdAt,
        updated_at: endpoint.updatedAt,
      });
    },

    findEndpoint,

    async findEndpointById(id) {
      const row = await db<EndpointRow>(E).where({ id }).first();
      return row ? fromEndpointRow(row) : null;
    },

    async listEndpoints(orgId) {
      const rows = await db<EndpointRow>(E).where({ org_id: orgId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
      return rows.map(fromEndpointRow);
    },

    async updateEndpoint(orgId, id, changes) {
      const columns: Record<string, unknown> = { updated_at: changes.updatedAt };
      if (changes.url !== undefined) columns.url = changes.url;
      if (changes.events !== undefined) columns.events = changes.events === null ? null : JSON.stringify(changes.events);
      if (changes.secret !== undefined) columns.secret = changes.secret;
      if (changes.enabled !== undefined) columns.enabled = changes.enabled;
      if (changes.consecutiveFailures !== undefined) columns.consecutive_failures = changes.consecutiveFailures;
      if (changes.disabledReason !== undefined) columns.disabled_reason = changes.disabledReason;
      const changed = await db(E).where({ org_id: orgId, id }).update(columns);
      return changed === 1 ? findEndpoint(orgId, id) : null;
    },

    async deleteEndpoint(orgId, id) {
      // The foreign key cascades too; deleting the deliveries first keeps that true on a
      // SQLite connection opened without `foreign_keys = ON`.
      await db(D)
        .whereIn('endpoint_id', db(E).select('id').where({ org_id: orgId, id }))
        .delete();
      return (await db(E).where({ org_id: orgId, id }).delete()) === 1;
    },

    async insertDeliveries(deliveries) {
      if (deliveries.length === 0) return;
      await db(D).insert(
        deliveries.map((d) => ({
          id: d.id,
          endpoint_id: d.endpointId,
          event_id: d.eventId,
          event_type: d.eventType,
          payload: d.payload,
          status: 'pending',
          attempts: 0,
          next_attempt_at: d.nextAttemptAt,
          created_at: d.createdAt,
        })),
      );
    },

    async findDelivery(endpointId, id) {
      const row = await db<DeliveryRow>(D).where({ endpoint_id: endpointId, id }).first();
      return row ? fromDeliveryRow(row) : null;
    },

    async listDeliveries(endpointId, page) {
      const query = db<DeliveryRow>(D).where({ endpoint_id: endpointId }).orderBy('seq', 'desc').limit(page.limit);
      if (page.before !== undefined) query.where('seq', '<', db(D).select('seq').where({ endpoint_id: endpointId, id: page.before }));
      return (await query).map(fromDeliveryRow);
    },

    async claimDue(now, limit, claim) {
      let rows: DeliveryRow[];
      if (isPostgres(db)) {
        // As the mail outbox: rows another instance is claiming are skipped, the CTE runs
        // once, and the UPDATE repeats the lease test on the latest row version. A
        // locked (being claimed) first delivery still counts as pending for the
        // "oldest of its endpoint" test, so the endpoint's next one waits.
        const due = dueSeqs(now, limit).forUpdate('d').skipLocked().toSQL();
        const result = (await db.raw(
          `with "due" as (${due.sql})
           update ?? as "o" set "claimed_until" = ?, "claim_id" = ?, "attempts" = "o"."attempts" + 1
           from "due" where "o"."seq" = "due"."seq" and "o"."status" = 'pending'
             and ("o"."claimed_until" is null or "o"."claimed_until" < ?)
           returning "o".*`,
          [...(due.bindings as unknown[]), D, claim.claimedUntil, claim.claimId, now] as Knex.RawBinding[],
        )) as { rows: DeliveryRow[] };
        rows = result.rows;
      } else {
        // SQLite runs one writer at a time, so one conditional UPDATE is the whole claim.
        rows = (await db(D)
          .whereIn('seq', dueSeqs(now, limit))
          .where('status', 'pending')
          .where((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', now))
          .update({ claimed_until: claim.claimedUntil, claim_id: claim.claimId, attempts: db.raw('?? + 1', ['attempts']) })
          .returning('*')) as DeliveryRow[];
      }
      return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(fromDeliveryRow);
    },

    async recordAttempt(id, claimId, outcome) {
      const status: WebhookDeliveryStatus = outcome.delivered ? 'delivered' : outcome.nextAttemptAt === null ? 'failed' : 'pending';
      const changed = await db(D)
        .where({ id, claim_id: claimId, status: 'pending' })
        .update({
          status,
          claimed_until: null,
          last_status_code: outcome.statusCode,
          last_error: outcome.error === null ? null : outcome.error.slice(0, MAX_ERROR),
          ...(outcome.delivered ? { delivered_at: outcome.now } : {}),
          ...(outcome.nextAttemptAt !== null ? { next_attempt_at: outcome.nextAttemptAt } : {}),
        });
      return changed === 1;
    },

    async resetFailures(endpointId, now) {
      await db(E).where({ id: endpointId }).where('consecutive_failures', '>', 0).update({ consecutive_failures: 0, updated_at: now });
    },

    async countFailure(endpointId, now, limit, reason) {
      await db(E)
        .where({ id: endpointId })
        .update({ consecutive_failures: db.raw('?? + 1', ['consecutive_failures']), updated_at: now });
      // Only the call that flips `enabled` reports it, so the disabling is announced once.
      const changed = await db(E)
        .where({ id: endpointId, enabled: true })
        .where('consecutive_failures', '>=', limit)
        .update({ enabled: false, disabled_reason: reason, updated_at: now });
      return changed === 1;
    },

    async purgeFinished(before) {
      return db(D).whereIn('status', ['delivered', 'failed']).where('created_at', '<', before).delete();
    },
  };
}
