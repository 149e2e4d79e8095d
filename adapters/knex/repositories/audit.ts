import type { Knex } from 'knex';
import type { AuditChainHead, AuditEntry, AuditRepository } from '../../../src/ports.js';
import type { AuditEvent } from '../../../src/core/audit-event.js';
import { AUDIT_GENESIS_HASH, auditEntryHash } from '../../../src/core/audit-chain.js';
import { isPostgres } from '../dialect.js';
import type { TableNames } from '../tables.js';

type Big = number | string;

interface AuditRow {
  id: string;
  chain: string;
  seq: Big;
  org_id: string | null;
  at: Big;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

interface HeadRow {
  chain: string;
  seq: Big;
  hash: string;
  checkpoint_seq: Big | null;
  checkpoint_hash: string | null;
}

function fromRow(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    orgId: row.org_id,
    at: Number(row.at),
    actor: { type: row.actor_type as AuditEntry['actor']['type'], id: row.actor_id },
    action: row.action,
    target: row.target_type === null || row.target_id === null ? null : { type: row.target_type, id: row.target_id },
    ip: row.ip,
    userAgent: row.user_agent,
    data: JSON.parse(row.data) as AuditEntry['data'],
    seq: Number(row.seq),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toRow(chain: string, entry: AuditEntry): AuditRow {
  return {
    id: entry.id,
    chain,
    seq: entry.seq,
    org_id: entry.orgId,
    at: entry.at,
    actor_type: entry.actor.type,
    actor_id: entry.actor.id,
    action: entry.action,
    target_type: entry.target?.type ?? null,
    target_id: entry.target?.id ?? null,
    ip: entry.ip,
    user_agent: entry.userAgent,
    data: JSON.stringify(entry.data),
    prev_hash: entry.prevHash,
    hash: entry.hash,
  };
}

/** Runs `fn` in `db` when it is a transaction already, else in a new one: the head lock must last until the entry is written. */
function inTransaction<T>(db: Knex, fn: (trx: Knex) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction(fn);
}

export function auditRepository(db: Knex, t: TableNames): AuditRepository {
  const postgres = isPostgres(db);

  /**
   * The chain's head, locked until the transaction ends. On PostgreSQL FOR UPDATE makes
   * a second appender wait here and then read the head the first one moved; SQLite runs
   * one writer at a time (the insert below takes the write lock before the read).
   */
  async function lockHead(trx: Knex, chain: string): Promise<HeadRow> {
    const select = () => {
      const query = trx<HeadRow>(t.auditHeads).where({ chain }).first();
      return postgres ? query.forUpdate() : query;
    };
    const found = postgres ? await select() : undefined;
    if (found) return found;
    // First entry of the chain (or SQLite): create the head if missing. A concurrent
    // creator on PostgreSQL waits on the unique key, then this is a no-op.
    await trx(t.auditHeads).insert({ chain, seq: 0, hash: AUDIT_GENESIS_HASH, checkpoint_seq: null, checkpoint_hash: null }).onConflict('chain').ignore();
    const head = await select();
    if (!head) throw new Error(`audit chain head ${chain} vanished`);
    return head;
  }

  return {
    append(chain: string, event: AuditEvent) {
      return inTransaction(db, async (trx) => {
        const head = await lockHead(trx, chain);
        const linked = { ...event, seq: Number(head.seq) + 1, prevHash: head.hash };
        const entry: AuditEntry = { ...linked, hash: auditEntryHash(linked) };
        await trx(t.auditLog).insert(toRow(chain, entry));
        await trx(t.auditHeads).where({ chain }).update({ seq: entry.seq, hash: entry.hash });
        return entry;
      });
    },

    async list(chain, query) {
      const q = db<AuditRow>(t.auditLog).where({ chain });
      if (query.action !== undefined) q.where({ action: query.action });
      if (query.actorId !== undefined) q.where({ actor_id: query.actorId });
      if (query.since !== undefined) q.where('at', '>=', query.since);
      if (query.until !== undefined) q.where('at', '<', query.until);
      if (query.beforeSeq !== undefined) q.where('seq', '<', query.beforeSeq);
      const rows = await q.orderBy('seq', 'desc').limit(query.limit);
      return rows.map(fromRow);
    },

    async readChain(chain, afterSeq, limit) {
      const rows = await db<AuditRow>(t.auditLog).where({ chain }).where('seq', '>', afterSeq).orderBy('seq', 'asc').limit(limit);
      return rows.map(fromRow);
    },

    async head(chain): Promise<AuditChainHead | null> {
      const row = await db<HeadRow>(t.auditHeads).where({ chain }).first();
      if (!row) return null;
      return {
        seq: Number(row.seq),
        hash: row.hash,
        checkpoint: row.checkpoint_seq === null || row.checkpoint_hash === null ? null : { seq: Number(row.checkpoint_seq), hash: row.checkpoint_hash },
      };
    },

    purgeBefore(before, limit) {
      return inTransaction(db, async (trx) => {
        const old: Array<Pick<AuditRow, 'chain' | 'seq' | 'hash'>> = await trx(t.auditLog)
          .select('chain', 'seq', 'hash')
          .where('at', '<', before)
          .orderBy('at', 'asc')
          .orderBy('seq', 'asc')
          .limit(limit);
        // Per chain, everything up to the newest old entry goes, so what stays is always
        // a suffix of the chain (an entry a skewed clock dated a little later goes too).
        const last = new Map<string, { seq: number; hash: string }>();
        for (const row of old) {
          const seq = Number(row.seq);
          if ((last.get(row.chain)?.seq ?? -1) < seq) last.set(row.chain, { seq, hash: row.hash });
        }
        let deleted = 0;
        for (const [chain, checkpoint] of [...last].sort(([a], [b]) => (a < b ? -1 : 1))) {
          // The head lock orders this against appends to the chain.
          await lockHead(trx, chain);
          deleted += await trx(t.auditLog).where({ chain }).where('seq', '<=', checkpoint.seq).delete();
          await trx(t.auditHeads)
            .where({ chain })
            .where((w) => w.whereNull('checkpoint_seq').orWhere('checkpoint_seq', '<', checkpoint.seq))
            .update({ checkpoint_seq: checkpoint.seq, checkpoint_hash: checkpoint.hash });
        }
        return deleted;
      });
    },
  };
}
