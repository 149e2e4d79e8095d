import type { Knex } from 'knex';
import type { InvitationRepository } from '../../../src/ports.js';
import { fromInvitationRow, toInvitationRow, type InvitationRow } from '../rows.js';
import type { TableNames } from '../tables.js';

export function invitationRepository(db: Knex, t: TableNames): InvitationRepository {
  const findByCodeHash = async (codeHash: string) => {
    const row = await db<InvitationRow>(t.invitations).where({ code_hash: codeHash }).first();
    return row ? fromInvitationRow(row) : null;
  };

  return {
    async create(invitation) {
      const record = { ...invitation, usedAt: null, usedBy: null, revokedAt: null, mailedAt: invitation.mailedAt ?? null };
      await db(t.invitations).insert(toInvitationRow(record));
      return record;
    },

    findByCodeHash,

    async listActive(orgId, now) {
      const rows = await db<InvitationRow>(t.invitations)
        .where({ org_id: orgId })
        .whereNull('used_at')
        .whereNull('revoked_at')
        .where('expires_at', '>', now)
        .orderBy([{ column: 'created_at' }, { column: 'id' }]);
      return rows.map(fromInvitationRow);
    },

    async revoke(orgId, id, now) {
      const changed = await db(t.invitations)
        .where({ org_id: orgId, id })
        .whereNull('used_at')
        .whereNull('revoked_at')
        .update({ revoked_at: now });
      return changed > 0;
    },

    async revokeByCreator(orgId, createdBy, now, roles) {
      const query = db(t.invitations).where({ org_id: orgId, created_by: createdBy }).whereNull('used_at').whereNull('revoked_at');
      if (roles !== undefined) query.whereIn('role', roles);
      return query.update({ revoked_at: now });
    },

    async consume(codeHash, userId, email, now) {
      // The conditions live in the UPDATE itself so concurrent callers cannot both
      // pass a check before either writes: the database lets exactly one match.
      const changed = await db(t.invitations)
        .where({ code_hash: codeHash })
        .whereNull('used_at')
        .whereNull('revoked_at')
        .where('expires_at', '>', now)
        .where((q) => q.whereNull('email').orWhere('email', email))
        .update({ used_at: now, used_by: userId });
      return changed === 1 ? findByCodeHash(codeHash) : null;
    },
  };
}
