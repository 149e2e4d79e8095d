import type { Knex } from 'knex';
import type { IdentityRepository } from '../../../src/ports.js';
import { fromIdentityRow, toIdentityRow, type IdentityRow } from '../rows.js';
import type { TableNames } from '../tables.js';

export function identityRepository(db: Knex, t: TableNames): IdentityRepository {
  return {
    async create(identity) {
      await db(t.identities).insert(toIdentityRow(identity));
      return { ...identity };
    },

    async findBySubject(provider, subject) {
      const row = await db<IdentityRow>(t.identities).where({ provider, subject }).first();
      return row ? fromIdentityRow(row) : null;
    },

    async listForUser(userId) {
      const rows = await db<IdentityRow>(t.identities)
        .where({ user_id: userId })
        .orderBy([{ column: 'created_at' }, { column: 'provider' }, { column: 'subject' }]);
      return rows.map(fromIdentityRow);
    },
  };
}
