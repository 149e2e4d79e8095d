import type { Knex } from 'knex';
import type { ApplicationRecord, ApplicationRepository } from '../../../src/ports.js';
import { toNumber } from '../rows.js';
import type { TableNames } from '../tables.js';

interface ApplicationRow {
  id: string;
  org_id: string;
  name: string;
  url: string;
  url_key: string;
  redirect_url: string | null;
  created_at: number | string;
}

function fromRow(row: ApplicationRow): ApplicationRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    url: row.url,
    urlKey: row.url_key,
    redirectUrl: row.redirect_url,
    createdAt: toNumber(row.created_at),
  };
}

export function applicationRepository(db: Knex, t: TableNames): ApplicationRepository {
  const findBy = async (where: Partial<ApplicationRow>) => {
    const row = await db<ApplicationRow>(t.applications).where(where).first();
    return row ? fromRow(row) : null;
  };

  return {
    async create(app) {
      await db(t.applications).insert({
        id: app.id,
        org_id: app.orgId,
        name: app.name,
        url: app.url,
        url_key: app.urlKey,
        redirect_url: app.redirectUrl,
        created_at: app.createdAt,
      });
      return { ...app };
    },

    findById: (id) => findBy({ id }),

    findByUrlKey: (urlKey) => findBy({ url_key: urlKey }),

    async listForOrg(orgId) {
      const rows = await db<ApplicationRow>(t.applications).where({ org_id: orgId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
      return rows.map(fromRow);
    },

    async remove(orgId, id) {
      // Grants go with the application (foreign key cascade).
      return (await db(t.applications).where({ org_id: orgId, id }).delete()) > 0;
    },

    async grant(appId, userId, now) {
      await db(t.applicationGrants).insert({ app_id: appId, user_id: userId, created_at: now }).onConflict(['app_id', 'user_id']).ignore();
    },

    async revokeGrant(appId, userId) {
      return (await db(t.applicationGrants).where({ app_id: appId, user_id: userId }).delete()) > 0;
    },

    async revokeGrantsInOrg(orgId, userId) {
      return db(t.applicationGrants)
        .where({ user_id: userId })
        .whereIn('app_id', db(t.applications).where({ org_id: orgId }).select('id'))
        .delete();
    },

    async hasGrant(appId, userId) {
      return (await db(t.applicationGrants).where({ app_id: appId, user_id: userId }).first()) !== undefined;
    },

    async listGrants(appId) {
      const rows: Array<{ user_id: string }> = await db(t.applicationGrants)
        .where({ app_id: appId })
        .orderBy([{ column: 'created_at' }, { column: 'user_id' }])
        .select('user_id');
      return rows.map((r) => r.user_id);
    },
  };
}
