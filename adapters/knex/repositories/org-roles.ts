import type { Knex } from 'knex';
import type { OrgRoleRecord, OrgRoleRepository } from '../../../src/ports.js';
import { toNumber } from '../rows.js';
import type { TableNames } from '../tables.js';

interface OrgRoleRow {
  id: string;
  org_id: string;
  name: string;
  description: string | null;
  permissions: string;
  created_at: number | string;
  updated_at: number | string;
}

const fromRow = (row: OrgRoleRow): OrgRoleRecord => ({
  id: row.id,
  orgId: row.org_id,
  name: row.name,
  description: row.description,
  permissions: JSON.parse(row.permissions) as string[],
  createdAt: toNumber(row.created_at),
  updatedAt: toNumber(row.updated_at),
});

export function orgRoleRepository(db: Knex, t: TableNames): OrgRoleRepository {
  const find = async (orgId: string, id: string) => {
    const row = await db<OrgRoleRow>(t.orgRoles).where({ org_id: orgId, id }).first();
    return row ? fromRow(row) : null;
  };

  return {
    async create(role) {
      await db(t.orgRoles).insert({
        id: role.id,
        org_id: role.orgId,
        name: role.name,
        description: role.description,
        permissions: JSON.stringify(role.permissions),
        created_at: role.createdAt,
        updated_at: role.updatedAt,
      });
      return { ...role, permissions: [...role.permissions] };
    },

    find,

    async listForOrg(orgId) {
      const rows = await db<OrgRoleRow>(t.orgRoles)
        .where({ org_id: orgId })
        .orderBy([{ column: 'created_at' }, { column: 'id' }]);
      return rows.map(fromRow);
    },

    async update(orgId, id, changes, now) {
      const set: Partial<OrgRoleRow> = { updated_at: now };
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.description !== undefined) set.description = changes.description;
      if (changes.permissions !== undefined) set.permissions = JSON.stringify(changes.permissions);
      const changed = await db(t.orgRoles).where({ org_id: orgId, id }).update(set);
      return changed > 0 ? find(orgId, id) : null;
    },

    async delete(orgId, id) {
      return (await db(t.orgRoles).where({ org_id: orgId, id }).delete()) > 0;
    },

    async countHolders(orgId, id) {
      const row = await db(t.memberships).where({ org_id: orgId, custom_role_id: id }).count({ n: '*' }).first();
      return row ? toNumber(row.n as number | string) : 0;
    },
  };
}
