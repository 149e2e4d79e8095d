import type { Knex } from 'knex';
import type { SettingRepository } from '../../../src/ports.js';
import type { TableNames } from '../tables.js';

interface SettingRow {
  name: string;
  value: string;
  // bigint: a number from SQLite, a string from PostgreSQL.
  created_at: number | string;
}

export function settingRepository(db: Knex, t: TableNames): SettingRepository {
  return {
    async ensure(setting) {
      // INSERT … ON CONFLICT DO NOTHING, then read: whoever inserted first is what every caller gets.
      await db(t.instanceSettings).insert({ name: setting.name, value: setting.value, created_at: setting.createdAt }).onConflict('name').ignore();
      const row = (await db(t.instanceSettings).where({ name: setting.name }).first()) as SettingRow | undefined;
      if (!row) throw new Error(`setting ${setting.name} vanished after it was stored`);
      return { name: row.name, value: row.value, createdAt: Number(row.created_at) };
    },
  };
}
