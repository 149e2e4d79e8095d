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

    async touch(id, now) {
      await db(t.apiKeys).where({ id }).update({ last_used_at: now });
    },
  };
}
