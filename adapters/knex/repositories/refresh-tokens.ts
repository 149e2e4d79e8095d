import type { Knex } from 'knex';
import type { RefreshTokenRepository } from '../../../src/ports.js';
import { fromRefreshTokenRow, toNumber, toRefreshTokenRow, type RefreshTokenRow } from '../rows.js';
import type { TableNames } from '../tables.js';

export function refreshTokenRepository(db: Knex, t: TableNames): RefreshTokenRepository {
  const find = async (idHash: string) => {
    const row = await db<RefreshTokenRow>(t.refreshTokens).where({ id_hash: idHash }).first();
    return row ? fromRefreshTokenRow(row) : null;
  };

  return {
    async insert(token) {
      await db(t.refreshTokens).insert(toRefreshTokenRow({ ...token, usedAt: null, revokedAt: null }));
    },

    find,

    async consume(idHash, now) {
      // One conditional UPDATE, never read-then-write: of concurrent callers the
      // database lets exactly one match, which is what makes reuse detectable.
      const changed = await db(t.refreshTokens)
        .where({ id_hash: idHash })
        .whereNull('used_at')
        .whereNull('revoked_at')
        .where('expires_at', '>', now)
        .update({ used_at: now });
      return changed === 1 ? find(idHash) : null;
    },

    async revokeFamily(familyId, now) {
      return db(t.refreshTokens).where({ family_id: familyId }).whereNull('revoked_at').update({ revoked_at: now });
    },

    async revokeFamiliesOfUser(userId, now, filter = {}) {
      const query = db(t.refreshTokens)
        .where({ user_id: userId })
        .whereNull('revoked_at')
        .where('family_expires_at', '>', now)
        .groupBy('family_id')
        .select('family_id')
        .max({ family_expires_at: 'family_expires_at' })
        .orderBy('family_id');
      if (filter.orgId !== undefined) query.where({ org_id: filter.orgId });
      if (filter.exceptFamilyId !== undefined) query.whereNot({ family_id: filter.exceptFamilyId });
      const families = (await query) as Array<{ family_id: string; family_expires_at: number | string }>;
      if (families.length === 0) return [];
      // A token rotated into one of these families meanwhile is caught too: the
      // UPDATE selects by family, not by the rows read above.
      await db(t.refreshTokens)
        .whereIn(
          'family_id',
          families.map((f) => f.family_id),
        )
        .whereNull('revoked_at')
        .update({ revoked_at: now });
      return families.map((f) => ({ familyId: f.family_id, familyExpiresAt: toNumber(f.family_expires_at) }));
    },

    async purgeExpired(now) {
      return db(t.refreshTokens).where('family_expires_at', '<=', now).delete();
    },
  };
}
