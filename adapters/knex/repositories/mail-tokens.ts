import type { Knex } from 'knex';
import type { MailTokenKind, MailTokenRecord, MailTokenRepository } from '../../../src/ports.js';
import { toNumber } from '../rows.js';
import { deleteRows } from '../purge.js';
import type { TableNames } from '../tables.js';

interface MailTokenRow {
  id_hash: string;
  kind: string;
  user_id: string;
  email: string;
  expires_at: number | string;
  created_at: number | string;
  used_at: number | string | null;
  revoked_at: number | string | null;
}

function fromRow(row: MailTokenRow): MailTokenRecord {
  return {
    idHash: row.id_hash,
    kind: row.kind as MailTokenKind,
    userId: row.user_id,
    email: row.email,
    expiresAt: toNumber(row.expires_at),
    createdAt: toNumber(row.created_at),
    usedAt: row.used_at === null ? null : toNumber(row.used_at),
    revokedAt: row.revoked_at === null ? null : toNumber(row.revoked_at),
  };
}

export function mailTokenRepository(db: Knex, t: TableNames): MailTokenRepository {
  const find = async (idHash: string): Promise<MailTokenRecord | null> => {
    const row = await db<MailTokenRow>(t.mailTokens).where({ id_hash: idHash }).first();
    return row ? fromRow(row) : null;
  };

  return {
    async insert(token) {
      await db(t.mailTokens).insert({
        id_hash: token.idHash,
        kind: token.kind,
        user_id: token.userId,
        email: token.email,
        expires_at: token.expiresAt,
        created_at: token.createdAt,
        used_at: null,
        revoked_at: null,
      });
    },

    find,

    async consume(idHash, now) {
      // One conditional UPDATE, never read-then-write: of concurrent callers the
      // database lets exactly one match.
      const changed = await db(t.mailTokens)
        .where({ id_hash: idHash })
        .whereNull('used_at')
        .whereNull('revoked_at')
        .where('expires_at', '>', now)
        .update({ used_at: now });
      return changed === 1 ? find(idHash) : null;
    },

    async revokeForUser(userId, kind, now) {
      return db(t.mailTokens).where({ user_id: userId, kind }).whereNull('used_at').whereNull('revoked_at').update({ revoked_at: now });
    },

    async purgeExpired(now, limit) {
      return deleteRows(db, t.mailTokens, 'id_hash', (q) => q.where('expires_at', '<', now), limit);
    },
  };
}
