import type { Knex } from 'knex';
import type { MfaRepository, TotpRecord } from '../../../src/ports.js';
import { toNumber } from '../rows.js';
import type { TableNames } from '../tables.js';

interface TotpRow {
  user_id: string;
  secret_ciphertext: string;
  enabled_at: number | string | null;
  last_used_step: number | string | null;
  created_at: number | string;
}

function fromTotpRow(row: TotpRow): TotpRecord {
  return {
    userId: row.user_id,
    secretCiphertext: row.secret_ciphertext,
    enabledAt: row.enabled_at === null ? null : toNumber(row.enabled_at),
    lastUsedStep: row.last_used_step === null ? null : toNumber(row.last_used_step),
    createdAt: toNumber(row.created_at),
  };
}

export function mfaRepository(db: Knex, t: TableNames): MfaRepository {
  return {
    async savePendingTotp(userId, secretCiphertext, now) {
      // Only a pending secret may be replaced: the delete leaves an enabled one alone,
      // and the insert then yields to it.
      await db(t.totp).where({ user_id: userId }).whereNull('enabled_at').delete();
      await db(t.totp)
        .insert({ user_id: userId, secret_ciphertext: secretCiphertext, enabled_at: null, last_used_step: null, created_at: now })
        .onConflict('user_id')
        .ignore();
      const row = await db<TotpRow>(t.totp).where({ user_id: userId }).first();
      return row !== undefined && row.enabled_at === null && row.secret_ciphertext === secretCiphertext;
    },

    async findTotp(userId) {
      const row = await db<TotpRow>(t.totp).where({ user_id: userId }).first();
      return row ? fromTotpRow(row) : null;
    },

    async enableTotp(userId, now) {
      const changed = await db(t.totp).where({ user_id: userId }).whereNull('enabled_at').update({ enabled_at: now });
      return changed === 1;
    },

    async deleteTotp(userId) {
      await db(t.recoveryCodes).where({ user_id: userId }).delete();
      await db(t.totp).where({ user_id: userId }).delete();
    },

    async consumeTotpStep(userId, step) {
      const changed = await db(t.totp)
        .where({ user_id: userId })
        .where((q) => q.whereNull('last_used_step').orWhere('last_used_step', '<', step))
        .update({ last_used_step: step });
      return changed === 1;
    },

    async replaceRecoveryCodes(userId, codeHashes, now) {
      await db(t.recoveryCodes).where({ user_id: userId }).delete();
      if (codeHashes.length > 0) {
        await db(t.recoveryCodes).insert(codeHashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now, used_at: null })));
      }
    },

    async consumeRecoveryCode(userId, codeHash, now) {
      const changed = await db(t.recoveryCodes).where({ user_id: userId, code_hash: codeHash }).whereNull('used_at').update({ used_at: now });
      return changed === 1;
    },

    async countUnusedRecoveryCodes(userId) {
      const row = await db(t.recoveryCodes).where({ user_id: userId }).whereNull('used_at').count({ n: '*' }).first();
      return row ? toNumber(row.n as number | string) : 0;
    },
  };
}
