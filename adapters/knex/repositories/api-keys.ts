import type { Knex } from 'knex';
import type { ApiKeyRepository } from '../../../src/ports.js';
import { fromApiKeyRow, toApiKeyRow, type ApiKeyRow } from '../rows.js';
import type { TableNames } from '../tables.js';

export function apiKeyRepository(db: Knex, t: TableNames): ApiKeyRepository {
  const findBy = async (where: Partial<ApiKeyRow>) => {
    const row = await db<ApiKeyRow>(t.apiKeys).where(where).first();
    return row ? fromApiKeyRow(row) : null;
  };

  return {
    async create(key) {
      const record = { ...key, lastUsedAt: null, revokedAt: null };
      await db(t.apiKeys).insert(toApiKeyRow(record));
      return record;
    },

    findByPrefix: (prefix) => findBy({ prefix }),

    async listForOrg(orgId) {
      const rows = await db<ApiKeyRow>(t.apiKeys)
        .where({ org_id: orgId })
        .whereNull('revoked_at')
        .orderBy([{ column: 'created_at' }, { column: 'id' }]);
      return rows.map(fromApiKeyRow);
    },

    async revoke(orgId, id, now) {
      const changed = await db(t.apiKeys).where({ org_id: orgId, id }).whereNull('revoked_at').update({ revoked_at: now });
      return changed === 1 ? findBy({ id }) : null;
    },

    async revokeByCreator(orgId, createdBy, now) {
      const rows = await db<ApiKeyRow>(t.apiKeys).where({ org_id: orgId, created_by: createdBy }).whereNull('revoked_at');
      if (rows.length === 0) return [];
      // Only the keys this UPDATE revoked are reported; one revoked meanwhile by someone else is theirs.
      const ids = rows.map((row) => row.id);
      await db(t.apiKeys).whereIn('id', ids).whereNull('revoked_at').update({ revoked_at: now });
      const revoked = await db<ApiKeyRow>(t.apiKeys).whereIn('id', ids).where({ revoked_at: now });
      return revoked.map(fromApiKeyRow);
    },

    async capRoleByCreator(orgId, createdBy, role, from) {
      if (from.length === 0) return 0;
      return db(t.apiKeys).where({ org_id: orgId, created_by: createdBy }).whereNull('revoked_at').whereIn('role', from).update({ role });
    },

    async touch(id, now) {
      // The conditional write decides which use was the first, also across instances.
      if ((await db(t.apiKeys).where({ id }).whereNull('last_used_at').update({ last_used_at: now })) > 0) return true;
      await db(t.apiKeys).where({ id }).update({ last_used_at: now });
      return false;
    },
  };
}
