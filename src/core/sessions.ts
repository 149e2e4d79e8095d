import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { Repositories, Role, SignedToken, TokenClaims } from '../ports.js';
import type { CoreContext } from './context.js';
import { sha256Hex } from './secrets.js';

/** Who a token pair speaks for: a user, acting in one org (or none yet) with one role. */
export interface SessionScope {
  userId: string;
  orgId: string | null;
  role: Role | null;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  access: SignedToken;
  refresh: SignedToken;
  familyId: string;
  scope: SessionScope;
}

/** What a verified access token says, as guards and handlers see it. */
export interface AccessContext {
  userId: string;
  orgId: string | null;
  role: Role | null;
  tokenId: string;
  familyId: string | undefined;
  expiresAt: number;
  claims: TokenClaims;
}

export function createSessions(ctx: CoreContext) {
  const { storage, tokens, clock, config, revocations } = ctx;

  /** Signs an access + refresh pair and records the refresh token, in a new family or an existing one. */
  async function issuePair(
    scope: SessionScope,
    family?: { id: string; expiresAt: number },
    repos: Repositories = storage,
  ): Promise<TokenPair> {
    const now = clock.now();
    const familyId = family?.id ?? randomUUID();
    const familyExpiresAt = family?.expiresAt ?? now + config.sessionMaxAge * 1000;
    const refreshTtl = Math.min(config.refreshTtl, Math.floor((familyExpiresAt - now) / 1000));
    if (refreshTtl < 1) throw new AuthError('token_expired', 'the session reached its maximum age; sign in again');
    const scoped = scope.orgId === null ? {} : { org: scope.orgId, role: scope.role };
    const access = await tokens.sign({ usefor: 'access', sub: scope.userId, ttl: config.accessTtl, claims: { ...scoped, sid: familyId } });
    const refresh = await tokens.sign({ usefor: 'refresh', sub: scope.userId, ttl: refreshTtl, claims: { sid: familyId } });
    await repos.refreshTokens.insert({
      idHash: sha256Hex(refresh.jti),
      familyId,
      userId: scope.userId,
      orgId: scope.orgId,
      expiresAt: refresh.exp * 1000,
      familyExpiresAt,
      createdAt: now,
    });
    return { accessToken: access.token, refreshToken: refresh.token, access, refresh, familyId, scope };
  }

  /** Starts a new session for the user in `orgId`, or in their oldest org when omitted. */
  async function start(userId: string, orgId?: string): Promise<TokenPair> {
    if (orgId !== undefined) {
      const membership = await storage.memberships.find(userId, orgId);
      if (!membership) throw new AuthError('org_not_found', 'no such organization among yours');
      return issuePair({ userId, orgId, role: membership.role });
    }
    const [first] = await storage.memberships.listForUser(userId);
    return issuePair({ userId, orgId: first?.orgId ?? null, role: first?.role ?? null });
  }

  /** Revokes a family in storage and in every instance's revocation list. */
  async function revokeFamily(familyId: string, familyExpiresAt: number): Promise<void> {
    await storage.refreshTokens.revokeFamily(familyId, clock.now());
    // An access token minted just before the family ended can outlive it by one access TTL.
    await revocations.revoke({ kind: 'family', key: familyId, expiresAt: familyExpiresAt + config.accessTtl * 1000 });
  }

  /**
   * Rotates a refresh token. The old one is consumed by one conditional write, so of
   * concurrent refreshes exactly one wins; presenting a consumed token again means it
   * leaked, so its whole family is revoked.
   */
  async function refresh(refreshToken: string): Promise<TokenPair> {
    const claims = tokens.verify(refreshToken, 'refresh');
    const idHash = sha256Hex(claims.jti);
    const pair = await storage.transaction(async (tx) => {
      const row = await tx.refreshTokens.consume(idHash, clock.now());
      if (!row) return null;
      let role: Role | null = null;
      if (row.orgId !== null) {
        const membership = await tx.memberships.find(row.userId, row.orgId);
        if (!membership) return 'membership_ended' as const;
        role = membership.role;
      }
      return issuePair({ userId: row.userId, orgId: row.orgId, role }, { id: row.familyId, expiresAt: row.familyExpiresAt }, tx);
    });
    if (pair !== null && pair !== 'membership_ended') return pair;

    const row = await storage.refreshTokens.find(idHash);
    if (!row) throw new AuthError('invalid_token', 'unknown refresh token');
    if (pair === 'membership_ended') {
      await revokeFamily(row.familyId, row.familyExpiresAt);
      throw new AuthError('token_revoked', 'the membership this session was scoped to has ended; sign in again');
    }
    if (row.usedAt !== null) {
      await revokeFamily(row.familyId, row.familyExpiresAt);
      throw new AuthError('refresh_token_reused', 'this refresh token was already used; the session has been revoked, sign in again');
    }
    if (row.revokedAt !== null) throw new AuthError('token_revoked', 'this session has been revoked; sign in again');
    throw new AuthError('token_expired', 'the refresh token has expired; sign in again');
  }

  /** Verifies an access token, including revocation. No storage round trip. */
  function verifyAccess(token: string): AccessContext {
    return checkAccessClaims(tokens.verify(token, 'access'));
  }

  /** The checks beyond the signature: token type and revocation. For claims a JWT library already verified. */
  function checkAccessClaims(claims: TokenClaims): AccessContext {
    if (claims.usefor !== 'access' || typeof claims.sub !== 'string' || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') {
      throw new AuthError('invalid_token', 'this is not an access token');
    }
    if (claims.exp * 1000 <= clock.now()) throw new AuthError('token_expired', 'the access token has expired; refresh it');
    const familyId = typeof claims.sid === 'string' ? claims.sid : undefined;
    revocations.assertFresh();
    if (revocations.has('token', claims.jti) || (familyId !== undefined && revocations.has('family', familyId))) throw new AuthError('token_revoked', 'the token has been revoked');
    return {
      userId: claims.sub,
      orgId: typeof claims.org === 'string' ? claims.org : null,
      role: typeof claims.role === 'string' ? (claims.role as Role) : null,
      tokenId: claims.jti,
      familyId,
      expiresAt: claims.exp * 1000,
      claims,
    };
  }

  /**
   * Ends the session of an access token: the token itself and its refresh family stop
   * working at once here, and on other instances within the revocation poll interval.
   * A refresh token of the same user passed along has its family revoked too.
   */
  async function logout(access: Pick<AccessContext, 'userId' | 'tokenId' | 'familyId' | 'expiresAt'>, refreshToken?: string): Promise<void> {
    await revocations.revoke({ kind: 'token', key: access.tokenId, expiresAt: access.expiresAt });
    const families = new Set<string>();
    if (access.familyId !== undefined) families.add(access.familyId);
    if (refreshToken !== undefined) {
      let claims: TokenClaims | undefined;
      try {
        claims = tokens.verify(refreshToken, 'refresh');
      } catch {
        // An expired or foreign refresh token has nothing left to revoke.
      }
      if (claims && claims.sub === access.userId && typeof claims.sid === 'string') families.add(claims.sid);
    }
    for (const familyId of families) {
      await revokeFamily(familyId, clock.now() + config.sessionMaxAge * 1000);
    }
  }

  /** Revokes the user's families (optionally only those in one org, or all but one). */
  async function revokeUserSessions(userId: string, filter?: { orgId?: string; exceptFamilyId?: string }): Promise<void> {
    const revoked = await storage.refreshTokens.revokeFamiliesOfUser(userId, clock.now(), filter);
    for (const { familyId, familyExpiresAt } of revoked) {
      await revocations.revoke({ kind: 'family', key: familyId, expiresAt: familyExpiresAt + config.accessTtl * 1000 });
    }
  }

  /** Picks up revocations made by other instances now instead of at the next poll. */
  function pollRevocations(): Promise<void> {
    return revocations.poll();
  }

  return { issuePair, start, refresh, verifyAccess, checkAccessClaims, logout, revokeUserSessions, revokeFamily, pollRevocations };
}

export type Sessions = ReturnType<typeof createSessions>;
