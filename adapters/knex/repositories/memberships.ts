import type { Knex } from 'knex';
import type { MembershipRepository } from '../../../src/ports.js';
import {
  fromMembershipRow,
  fromOrgRow,
  fromUserRow,
  toNumber,
  type MembershipRow,
  type OrgRow,
  type UserRow,
} from '../rows.js';
import { isPostgres } from '../dialect.js';
import { quoted, sqliteStatements } from '../sqlite-statements.js';
import type { TableNames } from '../tables.js';

const MEMBERSHIP_COLUMNS = ['m.user_id', 'm.org_id', 'm.role', 'm.created_at', 'm.custom_role_id'];

// Joined columns are aliased with a prefix so they cannot collide with the membership's own.
const ORG_COLUMNS = {
  o_id: 'o.id',
  o_name: 'o.name',
  o_slug: 'o.slug',
  o_description: 'o.description',
  o_created_at: 'o.created_at',
};

const USER_COLUMNS = {
  u_id: 'u.id',
  u_email: 'u.email',
  u_username: 'u.username',
  u_username_key: 'u.username_key',
  u_first_name: 'u.first_name',
  u_last_name: 'u.last_name',
  u_password_hash: 'u.password_hash',
  u_created_at: 'u.created_at',
  u_email_verified_at: 'u.email_verified_at',
};

type Prefixed<Row, P extends string> = { [K in keyof Row & string as `${P}${K}`]: Row[K] };

export function membershipRepository(db: Knex, t: TableNames): MembershipRepository {
  // Read on every refresh: straight on better-sqlite3 (see sqlite-statements.ts).
  const fast = sqliteStatements(db);
  const findSql = `select * from ${quoted(t.memberships)} where "user_id" = ? and "org_id" = ? limit 1`;
  return {
    async add(membership) {
      await db(t.memberships).insert({
        user_id: membership.userId,
        org_id: membership.orgId,
        role: membership.role,
        created_at: membership.createdAt,
      });
      return { ...membership };
    },

    async find(userId, orgId) {
      const row = fast
        ? await fast.get<MembershipRow>(findSql, [userId, orgId])
        : await db<MembershipRow>(t.memberships).where({ user_id: userId, org_id: orgId }).first();
      return row ? fromMembershipRow(row) : null;
    },

    async listForUser(userId) {
      const rows: Array<MembershipRow & Prefixed<OrgRow, 'o_'>> = await db({ m: t.memberships })
        .join({ o: t.orgs }, 'o.id', 'm.org_id')
        .where('m.user_id', userId)
        .select(...MEMBERSHIP_COLUMNS, ORG_COLUMNS)
        .orderBy([{ column: 'm.created_at' }, { column: 'm.org_id' }]);
      return rows.map((row) => ({
        ...fromMembershipRow(row),
        org: fromOrgRow({
          id: row.o_id,
          name: row.o_name,
          slug: row.o_slug,
          description: row.o_description,
          created_at: row.o_created_at,
        }),
      }));
    },

    async listForOrg(orgId) {
      const rows: Array<MembershipRow & Prefixed<UserRow, 'u_'>> = await db({ m: t.memberships })
        .join({ u: t.users }, 'u.id', 'm.user_id')
        .where('m.org_id', orgId)
        .select(...MEMBERSHIP_COLUMNS, USER_COLUMNS)
        .orderBy([{ column: 'm.created_at' }, { column: 'm.user_id' }]);
      return rows.map((row) => ({
        ...fromMembershipRow(row),
        user: fromUserRow({
          id: row.u_id,
          email: row.u_email,
          username: row.u_username,
          username_key: row.u_username_key,
          first_name: row.u_first_name,
          last_name: row.u_last_name,
          password_hash: row.u_password_hash,
          created_at: row.u_created_at,
          email_verified_at: row.u_email_verified_at,
        }),
      }));
    },

    async updateRole(userId, orgId, role, customRoleId = null) {
      const changed = await db(t.memberships).where({ user_id: userId, org_id: orgId }).update({ role, custom_role_id: customRoleId });
      return changed > 0;
    },

    async remove(userId, orgId) {
      const removed = await db(t.memberships).where({ user_id: userId, org_id: orgId }).delete();
      return removed > 0;
    },

    async lockOrg(orgId) {
      // SQLite has one writer at a time, and a transaction whose reads went stale
      // cannot become the writer (SQLITE_BUSY): there is nothing to lock.
      if (!isPostgres(db)) return;
      // One row lock on the org serialises every transaction that changes its owners.
      // NO KEY UPDATE, not UPDATE: the foreign-key checks of concurrent joins take
      // KEY SHARE on this row, and should not wait for it.
      await db(t.orgs).where({ id: orgId }).select('id').forNoKeyUpdate();
    },

    async countOwners(orgId) {
      const row = await db(t.memberships).where({ org_id: orgId, role: 'owner' }).count({ n: '*' }).first();
      return row ? toNumber(row.n as number | string) : 0;
    },
  };
}
