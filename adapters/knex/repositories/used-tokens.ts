import type { Knex } from 'knex';
import type { UsedTokenRepository } from '../../../src/ports.js';
import { deleteRows } from '../purge.js';
import type { TableNames } from '../tables.js';

export function usedTokenRepository(db: Knex, t: TableNames): UsedTokenRepository {
  return {
    async consume(idHash, expiresAt) {
      // One INSERT … ON CONFLICT DO NOTHING: a concurrent insert of the same id waits
      // for the other to commit (or roll back) and then yields, so one caller wins.
      const inserted = await db(t.usedTokens).insert({ id_hash: idHash, expires_at: expiresAt }).onConflict('id_hash').ignore().returning('id_hash');
      return inserted.length === 1;
    },

    async purgeExpired(now, limit) {
      return deleteRows(db, t.usedTokens, 'id_hash', (q) => q.where('expires_at', '<=', now), limit);
    },
  };
}
