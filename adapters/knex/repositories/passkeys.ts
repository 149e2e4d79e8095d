import type { Knex } from 'knex';
import type { PasskeyRecord, PasskeyRepository } from '../../../src/ports.js';
import { toNumber } from '../rows.js';
import type { TableNames } from '../tables.js';

interface PasskeyRow {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: number | string;
  transports: string;
  device_type: string;
  backed_up: boolean | number;
  name: string | null;
  created_at: number | string;
  last_used_at: number | string | null;
}

function fromRow(row: PasskeyRow): PasskeyRecord {
  return {
    id: row.id,
    userId: row.user_id,
    credentialId: row.credential_id,
    publicKey: row.public_key,
    counter: toNumber(row.counter),
    transports: row.transports === '' ? [] : row.transports.split(','),
    deviceType: row.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: Boolean(row.backed_up),
    name: row.name,
    createdAt: toNumber(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : toNumber(row.last_used_at),
  };
}

export function passkeyRepository(db: Knex, t: TableNames): PasskeyRepository {
  return {
    async insert(p) {
      await db(t.passkeys).insert({
        id: p.id,
        user_id: p.userId,
        credential_id: p.credentialId,
        public_key: p.publicKey,
        counter: p.counter,
        transports: p.transports.join(','),
        device_type: p.deviceType,
        backed_up: p.backedUp,
        name: p.name,
        created_at: p.createdAt,
        last_used_at: p.lastUsedAt,
      });
    },

    async findByCredentialId(credentialId) {
      const row = await db<PasskeyRow>(t.passkeys).where({ credential_id: credentialId }).first();
      return row ? fromRow(row) : null;
    },

    async listForUser(userId) {
      const rows = await db<PasskeyRow>(t.passkeys).where({ user_id: userId }).orderBy('created_at', 'asc').orderBy('id', 'asc');
      return rows.map(fromRow);
    },

    async recordUse(id, use) {
      // Conditional on the counter read before verifying: a cloned authenticator racing
      // the real one cannot both pass with one counter value.
      const changed = await db(t.passkeys)
        .where({ id, counter: use.previousCounter })
        .update({ counter: use.counter, backed_up: use.backedUp, last_used_at: use.at });
      return changed === 1;
    },

    async delete(userId, id) {
      return (await db(t.passkeys).where({ id, user_id: userId }).delete()) === 1;
    },
  };
}
