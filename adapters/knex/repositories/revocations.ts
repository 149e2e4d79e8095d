import type { Knex } from 'knex';
import type { RevocationRepository } from '../../../src/ports.js';
import { fromRevocationRow, toNumber, type RevocationRow } from '../rows.js';
import { isPostgres } from '../dialect.js';
import { REVOCATION_CHANNEL } from '../revocation-notify.js';
import { deleteRows } from '../purge.js';
import type { TableNames } from '../tables.js';

// The cursor is the highest `seq` seen, as a decimal string.
function parseCursor(cursor: string): number {
  const seq = /^\d{1,16}$/.test(cursor) ? Number(cursor) : NaN;
  if (!Number.isSafeInteger(seq)) throw new TypeError(`invalid revocation cursor ${JSON.stringify(cursor)}`);
  return seq;
}

export function revocationRepository(db: Knex, t: TableNames): RevocationRepository {
  return {
    async add(revocation) {
      const row = {
        kind: revocation.kind,
        key: revocation.key,
        expires_at: revocation.expiresAt,
        created_at: revocation.createdAt,
      };
      if (!isPostgres(db)) {
        // SQLite has one writer at a time: rows become visible in `seq` order.
        await db(t.revocations).insert(row);
        return;
      }
      // On PostgreSQL, concurrent inserts take their `seq` first and commit later in
      // any order, so a poller could see seq 8 before seq 7 commits and move its
      // cursor past 7 for good. Holding a lock that only revocation writers contend
      // for (SHARE ROW EXCLUSIVE conflicts with itself and with writes, never with
      // reads) until commit makes `seq` order the visibility order. Inside a caller's
      // transaction this runs as a savepoint and the lock lasts until that commits.
      //
      // The notification tells listening instances to poll now (see revocation-notify.ts).
      // PostgreSQL delivers it only when the outermost transaction commits, so a
      // listener never polls before the row is visible, and never for a rolled-back one.
      await db.transaction(async (trx) => {
        await trx.raw('LOCK TABLE ?? IN SHARE ROW EXCLUSIVE MODE', [t.revocations]);
        await trx(t.revocations).insert(row);
        await trx.raw('SELECT pg_notify(?, ?)', [REVOCATION_CHANNEL, t.revocations]);
      });
    },

    async listActive(now) {
      // Read the cursor first and bound the list by it: an entry added in between is
      // then delivered once, by the next listSince, rather than missed or repeated.
      const top = await db(t.revocations).max({ seq: 'seq' }).first();
      const cursor = top?.seq == null ? 0 : toNumber(top.seq as number | string);
      const rows = await db<RevocationRow>(t.revocations)
        .where('seq', '<=', cursor)
        .where('expires_at', '>', now)
        .orderBy('seq');
      return { entries: rows.map(fromRevocationRow), cursor: String(cursor) };
    },

    async listSince(cursor) {
      const after = parseCursor(cursor);
      const rows = await db<RevocationRow>(t.revocations).where('seq', '>', after).orderBy('seq');
      const last = rows.at(-1);
      return {
        entries: rows.map(fromRevocationRow),
        cursor: last ? String(toNumber(last.seq)) : cursor,
      };
    },

    async purgeExpired(now, limit) {
      return deleteRows(db, t.revocations, 'seq', (q) => q.where('expires_at', '<=', now), limit);
    },
  };
}
