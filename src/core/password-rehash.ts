import type { UserRecord } from '../ports.js';
import type { CoreContext } from './context.js';

/**
 * Called once a password has proved right: when the stored hash is of another
 * algorithm or other parameters than the configured hasher's, stores a new one.
 * Best effort: the caller's success stands, and a failed upgrade (storage down, or
 * a password too long for the configured algorithm, as a 100-byte argon2id password
 * is for bcrypt) is logged and tried again at the next sign-in; the old hash keeps
 * verifying meanwhile. Returns the hash stored now.
 *
 * The new hash replaces the one checked only while it is still stored: two first
 * sign-ins after a cost change rehash at once, and the one that loses takes the other's
 * hash once it verifies the same password (a password changed meanwhile doesn't, and the
 * caller's later checks of the stored hash then see that change).
 */
export async function rehashIfNeeded(ctx: Pick<CoreContext, 'storage' | 'passwords' | 'logger'>, user: UserRecord, password: string): Promise<string | null> {
  if (user.passwordHash === null || !ctx.passwords.needsRehash(user.passwordHash)) return user.passwordHash;
  try {
    const rehashed = await ctx.passwords.hash(password);
    if ((await ctx.storage.users.updatePasswordHash(user.id, rehashed, user.passwordHash)) !== false) return rehashed;
    const stored = (await ctx.storage.users.findById(user.id))?.passwordHash ?? null;
    return stored !== null && (await ctx.passwords.verify(password, stored)) ? stored : user.passwordHash;
  } catch (err) {
    ctx.logger.warn('gatehouse: could not rehash a password', { userId: user.id, error: (err as Error).message });
    return user.passwordHash;
  }
}
