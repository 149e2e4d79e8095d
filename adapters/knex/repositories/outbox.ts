import type { Knex } from 'knex';
import type { OutboxRecord, OutboxRepository } from '../../../src/ports.js';
import { isPostgres } from '../dialect.js';
import type { TableNames } from '../tables.js';

type Big = number | string;

interface OutboxRow {
  id: string;
  kind: string;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  created_at: Big;
  attempts: number | string;
  next_attempt_at: Big;
  claimed_until: Big | null;
  claim_id: string | null;
  sent_at: Big | null;
  failed_at: Big | null;
  last_error: string | null;
}

const num = (value: Big): number => Number(value);
const numOrNull = (value: Big | null): number | null => (value === null ? null : Number(value));

function fromRow(row: OutboxRow): OutboxRecord {
  return {
    id: row.id,
    kind: row.kind,
    to: row.to,
    subject: row.subject,
    text: row.text,
    html: row.html,
    createdAt: num(row.created_at),
    attempts: num(row.attempts),
    nextAttemptAt: num(row.next_attempt_at),
    claimedUntil: numOrNull(row.claimed_until),
    claimId: row.claim_id,
    sentAt: numOrNull(row.sent_at),
    failedAt: numOrNull(row.failed_at),
    lastError: row.last_error,
  };
}

// Errors are stored for inspection, not as a log: a bounded prefix is enough.
const MAX_ERROR = 1000;

export function outboxRepository(db: Knex, t: TableNames): OutboxRepository {
  /** Rows a claim may take at `now`: the same test in the scan and in the UPDATE. */
  const claimable = (query: Knex.QueryBuilder, now: number) =>
    query
      .whereNull('sent_at')
      .whereNull('failed_at')
      .where('next_attempt_at', '<=', now)
      .where((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', now));

  return {
    async enqueue(message) {
      await db(t.outbox).insert({
        id: message.id,
        kind: message.kind,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        created_at: message.createdAt,
        attempts: 0,
        next_attempt_at: message.nextAttemptAt,
      });
    },

    async claimDue(now, limit, claim) {
      let rows: OutboxRow[];
      if (isPostgres(db)) {
        // Rows another instance is claiming right now are skipped rather than waited
        // for. A CTE runs once (a subquery in `id IN (…)` may be re-run and take more
        // than `limit` rows), and the UPDATE repeats the test, which PostgreSQL
        // re-evaluates on the latest row version: a row is never taken twice.
        const result = (await db.raw(
          `with "due" as (
             select "id" from ?? where "sent_at" is null and "failed_at" is null and "next_attempt_at" <= ?
               and ("claimed_until" is null or "claimed_until" < ?)
             order by "next_attempt_at", "id" limit ? for update skip locked)
           update ?? as "o" set "claimed_until" = ?, "claim_id" = ?, "attempts" = "o"."attempts" + 1
           from "due" where "o"."id" = "due"."id" and "o"."sent_at" is null and "o"."failed_at" is null
             and ("o"."claimed_until" is null or "o"."claimed_until" < ?)
           returning "o".*`,
          [t.outbox, now, now, limit, t.outbox, claim.claimedUntil, claim.claimId, now],
        )) as { rows: OutboxRow[] };
        rows = result.rows;
      } else {
        // SQLite runs one writer at a time, so one conditional UPDATE is the whole claim.
        const due = claimable(db(t.outbox).select('id'), now).orderBy('next_attempt_at').orderBy('id').limit(limit);
        rows = (await claimable(db(t.outbox).whereIn('id', due), now)
          .update({ claimed_until: claim.claimedUntil, claim_id: claim.claimId, attempts: db.raw('?? + 1', ['attempts']) })
          .returning('*')) as OutboxRow[];
      }
      return rows.map(fromRow).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.id.localeCompare(b.id));
    },

    async markSent(id, claimId, now) {
      const changed = await db(t.outbox).where({ id, claim_id: claimId }).whereNull('sent_at').update({ sent_at: now, claimed_until: null });
      return changed === 1;
    },

    async markFailed(id, claimId, failure) {
      const changed = await db(t.outbox)
        .where({ id, claim_id: claimId })
        .whereNull('sent_at')
        .update({
          claimed_until: null,
          last_error: failure.error.slice(0, MAX_ERROR),
          ...(failure.nextAttemptAt === null ? { failed_at: failure.now } : { next_attempt_at: failure.nextAttemptAt }),
        });
      return changed === 1;
    },

    async find(id) {
      const row = await db<OutboxRow>(t.outbox).where({ id }).first();
      return row ? fromRow(row) : null;
    },

    async purgeFinished(before) {
      return db(t.outbox)
        .where((q) => q.where('sent_at', '<', before).orWhere('failed_at', '<', before))
        .delete();
    },
  };
}
