import type { Knex } from 'knex';
import type { NewUser, UserRecord, UserRepository } from '../../../src/ports.js';
import { fromUserRow, toUserRow, usernameKey, type UserRow } from '../rows.js';
import type { TableNames } from '../tables.js';

export function userRepository(db: Knex, t: TableNames): UserRepository {
  return {
    async create(user: NewUser): Promise<UserRecord> {
      await db(t.users).insert(toUserRow(user));
      return { ...user };
    },

    async findById(id) {
      const row = await db<UserRow>(t.users).where({ id }).first();
      return row ? fromUserRow(row) : null;
    },

    async findByEmail(email) {
      const row = await db<UserRow>(t.users).where({ email }).first();
      return row ? fromUserRow(row) : null;
    },

    async findByUsername(username) {
      const row = await db<UserRow>(t.users).where({ username_key: usernameKey(username) }).first();
      return row ? fromUserRow(row) : null;
    },

    async updatePasswordHash(id, passwordHash, expected) {
      const query = db(t.users).where({ id });
      if (expected !== undefined) query.where({ password_hash: expected });
      return (await query.update({ password_hash: passwordHash })) > 0;
    },

    async delete(id) {
      // Everything that references the user goes with it: foreign key cascades.
      return (await db(t.users).where({ id }).delete()) > 0;
    },

    async markEmailVerified(id, now) {
      await db(t.users).where({ id }).whereNull('email_verified_at').update({ email_verified_at: now });
    },

    async updateEmail(id, email, verifiedAt) {
      await db(t.users).where({ id }).update({ email, email_verified_at: verifiedAt });
    },
  };
}
