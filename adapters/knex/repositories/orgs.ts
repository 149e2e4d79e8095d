import type { Knex } from 'knex';
import type { OrgRepository } from '../../../src/ports.js';
import { fromOrgRow, toOrgRow, type OrgRow } from '../rows.js';
import type { TableNames } from '../tables.js';

export function orgRepository(db: Knex, t: TableNames): OrgRepository {
  return {
    async create(org) {
      await db(t.orgs).insert(toOrgRow(org));
      return { ...org };
    },

    async findById(id) {
      const row = await db<OrgRow>(t.orgs).where({ id }).first();
      return row ? fromOrgRow(row) : null;
    },

    async delete(id) {
      // Memberships, invitations, API keys and applications (with their grants) go with it: foreign key cascades.
      return (await db(t.orgs).where({ id }).delete()) > 0;
    },
  };
}
