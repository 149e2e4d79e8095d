import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { MembershipRecord, NewRefreshToken, RefreshTokenRecord, Repositories, Role, SignedToken, TokenClaims } from '../ports.js';
import { tokenIdKey } from '../tokens/token-ids.js';
import { clientFields, type ClientInfo } from './client-info.js';
import type { CoreContext } from './context.js';
import { createPolicyRules, type PolicyRules } from './org-policies.js';

/** Who a token pair speaks for: a user, acting in one org (or none yet) with one role. */
export interface SessionScope {
  userId: string;
  orgId: string | null;
  role: Role | null;
  /** An application the token is limited to (wire contracts with per-application sign-in). */
  appId?: string;
  /**
   * Epoch seconds of the primary sign-in (password, external identity, second factor or
   * /reauthenticate) the session began with: the `auth_time` claim. Absent when unknown,
   * and then the session never counts as fresh for step-up.
   */
  authTime?: number;
  /** The first factor the session began with (`password`, `passkey`, …): what org policies allow or not. Absent when unknown. */
  method?: string;
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
  appId: string | undefined;
  tokenId: string;
  familyId: string | undefined;
  expiresAt: number;
  /** `auth_time`: epoch seconds of the sign-in behind the token, when the token carries it. */
  authTime: number | undefined;
  claims: TokenClaims;
}

export function createSessions(ctx: CoreContext, policies: PolicyRules = createPolicyRules(ctx)) {
  const { storage, tokens, clock, config, revocations, audit } = ctx;

  /**
   * Signs an access + refresh pair and records the refresh token, in a new family or an
   * existing one, with the client asking (`client`).
   */
  async function issuePair(
    scope: SessionScope,
    family?: { id: string; expiresAt: number },
    repos: Repositories = storage,
    client?: ClientInfo,
  ): Promise<TokenPair> {
    const { pair, record } = await signPair(scope, family, repos, client);
    if (family !== undefined || repos !== storage) await repos.refreshTokens.insert(record);
    else {
      const refused = await storeNewSession(record);
      if (refused) throw refused;
    }
    return pair;
  }

  /**
   * Stores the first record of a new session once the user is still a member of its org
   * and the org's policy still admits its method, both read in the transaction that
   * stores it, under the org's lock; `alsoWrite` (its audit entry) commits with it, and
   * is given the membership read there (null for a session in no org).
   * Returns why not instead, with nothing stored. An account deleted meanwhile is a 401
   * `invalid_credentials`, not the foreign key's failure.
   *
   * The checks before signing read a policy cached for up to 1 s and a membership that
   * may be gone by now. A policy change or a removal takes the same lock, commits, and
   * only then ends the sessions it no longer allows: a session committed before it is
   * among those, and one committed after is judged here by what it wrote.
   */
  async function storeNewSession(record: NewRefreshToken, alsoWrite?: (tx: Repositories, member: MembershipRecord | null) => Promise<void>): Promise<AuthError | null> {
    const { userId, orgId, method } = record;
    const outcome: { refused: AuthError | null } = { refused: null };
    try {
      await audit.transaction(async (tx) => {
        let member: MembershipRecord | null = null;
        if (orgId !== null) {
          await tx.memberships.lockOrg(orgId);
          member = await tx.memberships.find(userId, orgId);
          outcome.refused = member ? await policies.refusal(userId, await policies.policyOf(orgId, tx), method, tx) : notAMember();
          if (outcome.refused) throw outcome.refused;
        } else if (!(await tx.users.findById(userId))) {
          throw new AuthError('invalid_credentials', 'this account no longer exists');
        }
        await tx.refreshTokens.insert(record);
        await alsoWrite?.(tx, member);
      });
    } catch (err) {
      if (outcome.refused === null || err !== outcome.refused) throw err;
      // The cached policy was out of date: the next read takes the stored one.
      policies.forget(orgId as string);
    }
    return outcome.refused;
  }

  /** The pair `issuePair` hands out, and the record of its refresh token, not stored yet. */
  async function signPair(
    scope: SessionScope,
    family: { id: string; expiresAt: number } | undefined,
    repos: Repositories,
    client: ClientInfo | undefined,
  ): Promise<{ pair: TokenPair; record: NewRefreshToken }> {
    const now = clock.now();
    const familyId = family?.id ?? randomUUID();
    let familyExpiresAt = family?.expiresAt ?? now + config.sessionMaxAge * 1000;
    // A new session in an org with a shorter maxSessionAge ends sooner (a refresh caps its family itself).
    if (!family && scope.orgId !== null) familyExpiresAt = policies.sessionEnd(await policies.policyOf(scope.orgId, repos === storage ? undefined : repos), now, familyExpiresAt);
    const refreshTtl = Math.min(config.refreshTtl, Math.floor((familyExpiresAt - now) / 1000));
    if (refreshTtl < 1) throw new AuthError('token_expired', 'the session reached its maximum age; sign in again');
    const sub = config.subject === 'id' ? scope.userId : await subjectOf(scope.userId, repos);
    const access = await signAccess(scope, familyId, undefined, sub);
    // auth_time rides in the refresh token so that rotation hands it on unchanged.
    const refreshClaims: Record<string, unknown> = {};
    if (config.claims !== 'minimal') {
      refreshClaims.sid = familyId;
      if (scope.authTime !== undefined) refreshClaims.auth_time = scope.authTime;
    }
    const refresh = await tokens.sign({ usefor: 'refresh', sub, ttl: refreshTtl, claims: refreshClaims });
    const { userAgent, ip } = clientFields(client);
    const record: NewRefreshToken = {
      idHash: tokenIdKey(refresh.jti),
      familyId,
      userId: scope.userId,
      orgId: scope.orgId,
      expiresAt: refresh.exp * 1000,
      familyExpiresAt,
      createdAt: now,
      userAgent,
      ip,
      method: scope.method ?? null,
    };
    return { pair: { accessToken: access.token, refreshToken: refresh.token, access, refresh, familyId, scope }, record };
  }

  /**
   * An access token of the session; `extra` claims are for wire contracts that name their
   * tokens. With `claims: 'minimal'` only the registered claims go in, plus `extra`: the
   * one caller passing extra claims there is /reauthenticate, whose token is for gatehouse's
   * own step-up routes, never seen by the contract's client as a sign-in answer.
   */
  async function signAccess(scope: SessionScope, familyId: string | undefined, extra: Record<string, unknown> = {}, sub?: string): Promise<SignedToken> {
    const subject = sub ?? (await subjectOf(scope.userId, storage));
    if (config.claims === 'minimal') return tokens.sign({ usefor: 'access', sub: subject, ttl: config.accessTtl, claims: extra });
    // Assigned in this order rather than spread: one object per token, not one per part.
    const claims: Record<string, unknown> = Object.assign({}, extra);
    if (scope.orgId !== null) {
      claims.org = scope.orgId;
      claims.role = scope.role;
    }
    if (scope.appId !== undefined) claims.app = scope.appId;
    if (scope.authTime !== undefined) claims.auth_time = scope.authTime;
    claims.sid = familyId;
    return tokens.sign({ usefor: 'access', sub: subject, ttl: config.accessTtl, claims });
  }

  /** The first factor a stored session began with, handed on to the tokens of its rotation. */
  function methodOf(row: RefreshTokenRecord): { method?: string } {
    return typeof row.method === 'string' ? { method: row.method } : {};
  }

  /** The sign-in time a refresh token carries on to the tokens of its rotation. */
  function authTimeOf(claims: TokenClaims): { authTime?: number } {
    return typeof claims.auth_time === 'number' ? { authTime: claims.auth_time } : {};
  }

  async function subjectOf(userId: string, repos: Repositories): Promise<string> {
    if (config.subject === 'id') return userId;
    const user = await repos.users.findById(userId);
    if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
    // Accounts made by an external sign-in may have no username: their email names them.
    return user.username ?? user.email;
  }

  /**
   * Starts a new session for the user in `orgId`, or in their oldest org when omitted.
   * `authTime` defaults to now: a call without it is a sign-in. A session started from
   * another one (switching org) passes that one's auth time, or null when unknown.
   *
   * `method` is the first factor the session began with (a switch passes that of the
   * session it came from); the org's policy must allow it, and a second factor when it
   * requires one. Without `orgId` the session lands in the user's oldest org whose
   * policy they satisfy, or in none: a sign-in never dead-ends, the user can still enroll
   * a second factor (docs/org-policies.md).
   */
  async function start(
    userId: string,
    orgId?: string,
    authTime: number | null = Math.floor(clock.now() / 1000),
    client?: ClientInfo,
    method?: string,
  ): Promise<TokenPair> {
    return begin(userId, orgId, authTime, method, client);
  }

  /**
   * A session for a user past every factor, scoped as `start` scopes it, stored in one
   * transaction with its `signin.succeeded` entry: the session exists exactly when the
   * entry does. `method` is the first factor (what org policies judge; undefined when
   * unknown), `recorded` the method the entry names: the last factor passed.
   *
   * `stillHolds`, asked once the session is stored, says whether the account is still as
   * the sign-in found it (`accounts.unchangedSince`). When not, a change to it ran beside
   * the sign-in and ended the user's sessions, maybe before this one was stored: it is
   * ended at once, recorded as `session.revoked` (reason `credentials_changed`), and
   * refused with `invalid_credentials`.
   */
  async function signIn(userId: string, method: string | undefined, recorded: string, client?: ClientInfo, stillHolds?: () => Promise<boolean>): Promise<TokenPair> {
    const user = { type: 'user', id: userId } as const;
    const pair = await begin(userId, undefined, Math.floor(clock.now() / 1000), method, client, async (tx, { scope, familyId }) => {
      await audit.record(tx, { client, orgId: scope.orgId, actor: user, action: 'signin.succeeded', target: { type: 'session', id: familyId }, data: { method: recorded } });
    });
    if (stillHolds === undefined || (await stillHolds())) return pair;
    // The refresh token's expiry bounds the access token's too, plus one access TTL (revokeFamily).
    await revokeFamily(pair.familyId, pair.refresh.exp * 1000);
    await audit.record(storage, { client, orgId: pair.scope.orgId, actor: user, action: 'session.revoked', target: { type: 'session', id: pair.familyId }, data: { reason: 'credentials_changed' } });
    throw new AuthError('invalid_credentials', 'the password or second factor of this account changed during the sign-in; sign in again');
  }

  /**
   * A new session, scoped by `scopeOf`, signed, and stored by `storeNewSession` (with
   * `alsoWrite`). When the scope no longer holds at the store (the org's policy changed,
   * or the membership ended), it is chosen once more from what is stored now.
   */
  async function begin(
    userId: string,
    orgId: string | undefined,
    authTime: number | null,
    method: string | undefined,
    client: ClientInfo | undefined,
    alsoWrite?: (tx: Repositories, pair: TokenPair) => Promise<void>,
  ): Promise<TokenPair> {
    for (let attempt = 1; ; attempt++) {
      const { pair, record } = await signPair(await scopeOf(userId, orgId, authTime, method), undefined, storage, client);
      const refused = await storeNewSession(record, alsoWrite && ((tx) => alsoWrite(tx, pair)));
      if (refused === null) return pair;
      if (attempt === 2) throw refused;
    }
  }

  /** The scope of a new session: the org asked for, else the user's first org whose policy admits `method`, else none. */
  async function scopeOf(userId: string, orgId: string | undefined, authTime: number | null, method: string | undefined): Promise<SessionScope> {
    const signedIn = { ...(authTime === null ? {} : { authTime }), ...(method === undefined ? {} : { method }) };
    if (orgId !== undefined) {
      const membership = await storage.memberships.find(userId, orgId);
      if (!membership) throw notAMember();
      await policies.assertAdmits(userId, orgId, method);
      return { userId, orgId, role: membership.role, ...signedIn };
    }
    for (const membership of await storage.memberships.listForUser(userId)) {
      if ((await policies.refusal(userId, await policies.policyOf(membership.orgId), method)) !== null) continue;
      return { userId, orgId: membership.orgId, role: membership.role, ...signedIn };
    }
    return { userId, orgId: null, role: null, ...signedIn };
  }

  /**
   * What the org's policy says of a stored session scoped to it, at a refresh or renewal:
   * throws when it no longer allows it (a method it excludes ends the session; a missing
   * second factor only refuses), else returns the family's end, lowered to the policy's
   * `maxSessionAge` when it has one.
   */
  async function policyEnd(row: RefreshTokenRecord, sessionStartedAt?: number): Promise<number> {
    if (row.orgId === null) return row.familyExpiresAt;
    const policy = await policies.policyOf(row.orgId);
    if (!policies.allowsMethod(policy, row.method)) {
      await revokeFamily(row.familyId, row.familyExpiresAt);
      throw new AuthError('sign_in_method_not_allowed', 'this organization no longer allows the sign-in method of this session; sign in again', {
        allowedSignInMethods: policy.allowedSignInMethods,
      });
    }
    const refused = await policies.refusal(row.userId, policy, row.method);
    if (refused) throw refused;
    if (policy.maxSessionAge === null) return row.familyExpiresAt;
    // Read only for an org with a limit, unless the rotation's read brought it along.
    const startedAt = sessionStartedAt ?? (await storage.refreshTokens.findSession(row.familyId))?.createdAt ?? row.createdAt;
    return policies.sessionEnd(policy, startedAt, row.familyExpiresAt);
  }

  /** Revokes a family in storage and in every instance's revocation list. */
  async function revokeFamily(familyId: string, familyExpiresAt: number): Promise<void> {
    await storage.refreshTokens.revokeFamily(familyId, clock.now());
    // An access token minted just before the family ended can outlive it by one access TTL.
    await revocations.revoke({ kind: 'family', key: familyId, expiresAt: familyExpiresAt + config.accessTtl * 1000 });
  }

  /**
   * A new access token from a refresh token that stays valid (no rotation), for wire
   * contracts whose clients keep the refresh token they were given.
   */
  async function renewAccess(refreshToken: string, client?: ClientInfo): Promise<{ access: SignedToken; scope: SessionScope; familyId: string }> {
    const claims = tokens.verify(refreshToken, 'refresh');
    const row = await storage.refreshTokens.find(tokenIdKey(claims.jti));
    if (!row) throw new AuthError('invalid_token', 'unknown refresh token');
    if (row.revokedAt !== null) throw new AuthError('token_revoked', 'this session has been revoked; sign in again');
    if (row.usedAt !== null) throw new AuthError('refresh_token_reused', 'this refresh token was rotated; use the newest one');
    if (row.expiresAt <= clock.now()) throw new AuthError('token_expired', 'the refresh token has expired; sign in again');
    let role: Role | null = null;
    if (row.orgId !== null) {
      const membership = await storage.memberships.find(row.userId, row.orgId);
      if (!membership) {
        await revokeFamily(row.familyId, row.familyExpiresAt);
        throw new AuthError('token_revoked', 'the membership this session was scoped to has ended; sign in again');
      }
      role = membership.role;
    }
    if ((await policyEnd(row)) <= clock.now()) throw new AuthError('token_expired', 'the session reached the maximum age its organization allows; sign in again');
    const scope = { userId: row.userId, orgId: row.orgId, role, ...authTimeOf(claims), ...methodOf(row) };
    const access = await signAccess(scope, row.familyId);
    try {
      // For the session list only: a failed write must not fail the renewal.
      await storage.refreshTokens.touch(row.idHash, clock.now(), clientFields(client));
    } catch (err) {
      ctx.logger.warn('gatehouse: could not record a session renewal', { error: (err as Error).message });
    }
    return { access, scope, familyId: row.familyId };
  }

  /**
   * Rotates a refresh token. The old one is consumed by one conditional write that also
   * stores its successor (sealed), so a token has exactly one successor: of concurrent
   * refreshes one wins, and the others, or a retry within `refreshReuseGrace` of the
   * consumption, get that same refresh token back (with an access token of the same
   * session). A consumed token
   * presented later means it leaked, so its whole family is revoked.
   *
   * The consume and the record of the new refresh token are one atomic storage step
   * (`replace`): a rotation that lost the race, or failed, stores nothing, and the old
   * token stays usable after a failure, so the client can retry. With an adapter
   * without `replace`, the new pair is recorded first and the old token consumed after;
   * the new refresh token of a rotation that lost the race was never handed out, and is
   * consumed unused.
   */
  async function refresh(refreshToken: string, client?: ClientInfo): Promise<TokenPair> {
    const claims = tokens.verify(refreshToken, 'refresh');
    const idHash = tokenIdKey(claims.jti);
    const { refreshTokens } = storage;
    let row: RefreshTokenRecord | null;
    let role: Role | null = null;
    let sessionStartedAt: number | undefined;
    if (refreshTokens.findForRotation) {
      // The token and the membership in one read (one storage round trip, not two).
      const found = await refreshTokens.findForRotation(idHash);
      row = found === null ? null : found.token;
      if (found !== null) ({ role, sessionStartedAt } = found);
    } else row = await refreshTokens.find(idHash);
    if (!row) throw new AuthError('invalid_token', 'unknown refresh token');
    if (row.usedAt === null && row.revokedAt === null && row.expiresAt > clock.now()) {
      let membershipEnded = false;
      if (row.orgId !== null) {
        if (!refreshTokens.findForRotation) role = (await storage.memberships.find(row.userId, row.orgId))?.role ?? null;
        membershipEnded = role === null;
      }
      if (membershipEnded) {
        if (await storage.refreshTokens.consume(idHash, clock.now())) {
          await revokeFamily(row.familyId, row.familyExpiresAt);
          throw new AuthError('token_revoked', 'the membership this session was scoped to has ended; sign in again');
        }
      } else {
        const scope = { userId: row.userId, orgId: row.orgId, role, ...authTimeOf(claims), ...methodOf(row) };
        const family = { id: row.familyId, expiresAt: await policyEnd(row, sessionStartedAt) };
        if (refreshTokens.replace) {
          const { pair, record } = await signPair(scope, family, storage, client);
          // Strict rotation never hands a successor out twice: no need to store it.
          if (await refreshTokens.replace(idHash, clock.now(), config.refreshReuseGrace > 0 ? sealSuccessor(idHash, pair) : null, record)) return pair;
        } else {
          const pair = await issuePair(scope, family, storage, client);
          const won =
            config.refreshReuseGrace > 0 ? await refreshTokens.rotate(idHash, clock.now(), sealSuccessor(idHash, pair)) : await refreshTokens.consume(idHash, clock.now());
          if (won) return pair;
          // Lost the race: this pair is never handed out, so its refresh token can go at once.
          await refreshTokens.consume(tokenIdKey(pair.refresh.jti), clock.now());
        }
      }
      // Another rotation (or a logout) got there first: judge the token by what it left.
      row = (await storage.refreshTokens.find(idHash)) ?? row;
    }

    if (row.usedAt !== null) {
      const successor = row.revokedAt === null ? await successorInGrace(row) : null;
      if (successor) return successor;
      await revokeFamily(row.familyId, row.familyExpiresAt);
      throw new AuthError('refresh_token_reused', 'this refresh token was already used; the session has been revoked, sign in again');
    }
    if (row.revokedAt !== null) throw new AuthError('token_revoked', 'this session has been revoked; sign in again');
    throw new AuthError('token_expired', 'the refresh token has expired; sign in again');
  }

  /**
   * What a consumed token's row keeps of its successor: the refresh token as handed out
   * and the role it carries, sealed to that row (its `idHash`). The access token is not
   * kept: the consumption grows the row by what is sealed, and with the whole pair
   * (1.8 KB) a SQLite table took about a 4 KiB page per rotation, 3.4 times what it takes
   * now, with that much more to write. A retry signs a new access token for the same
   * session instead.
   */
  function sealSuccessor(idHash: string, pair: TokenPair): string {
    return config.successorBox.seal(JSON.stringify([pair.refresh.token, pair.scope.role]), idHash);
  }

  /**
   * The successor stored with a consumed, unrevoked token, while within the grace of its
   * consumption: its refresh token, with an access token of the same session; null
   * after the grace, in strict mode, or when none was stored (a token consumed by
   * `consume`, or by an older version).
   */
  async function successorInGrace(row: RefreshTokenRecord): Promise<TokenPair | null> {
    if (config.refreshReuseGrace <= 0 || row.usedAt === null || !row.successor) return null;
    if (clock.now() - row.usedAt > config.refreshReuseGrace * 1000) return null;
    // The row says whether storage revoked the family; this also catches one this instance revoked since it was read.
    if (revocations.has('family', row.familyId)) return null;
    let refresh: TokenClaims & { token: string };
    let role: Role | null;
    try {
      // Sealed to this row: a successor copied into another row does not open.
      const [token, sealedRole] = JSON.parse(config.successorBox.open(row.successor, row.idHash)) as [string, Role | null];
      refresh = Object.assign(tokens.verify(token, 'refresh'), { token });
      role = sealedRole;
    } catch (err) {
      // Sealed under another key (the server key changed) or by a version that kept the whole pair: treat as no successor.
      ctx.logger.warn('gatehouse: could not open a stored refresh successor', { error: (err as Error).message });
      return null;
    }
    const scope: SessionScope = { userId: row.userId, orgId: row.orgId, role, ...authTimeOf(refresh) };
    const access = await signAccess(scope, row.familyId, undefined, refresh.sub);
    const { token, jti, iat, exp } = refresh;
    return { accessToken: access.token, refreshToken: token, access, refresh: { token, jti, iat, exp }, familyId: row.familyId, scope };
  }

  /** Verifies an access token, including revocation. No storage round trip (but see `resolveSubject`). */
  function verifyAccess(token: string): Promise<AccessContext> {
    return resolveSubject(checkAccessClaims(tokens.verify(token, 'access')));
  }

  // username → user id, for tokens whose `sub` is the username: read once a minute, not per request.
  const userIds = new Map<string, { userId: string; at: number }>();

  /** Turns a username `sub` into the user id (cached); a no-op when `sub` is the id. */
  async function resolveSubject(access: AccessContext): Promise<AccessContext> {
    if (config.subject === 'id') return access;
    const now = clock.now();
    let hit = userIds.get(access.userId);
    if (!hit || now - hit.at > 60_000) {
      const user = (await storage.users.findByUsername(access.userId)) ?? (await storage.users.findByEmail(access.userId));
      if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
      hit = { userId: user.id, at: now };
      if (userIds.size > 10_000) userIds.clear();
      userIds.set(access.userId, hit);
    }
    return { ...access, userId: hit.userId };
  }

  /** The checks beyond the signature: token type and revocation. For claims a JWT library already verified. */
  function checkAccessClaims(claims: TokenClaims, acceptRevoked = false): AccessContext {
    if (claims.usefor !== 'access' || typeof claims.sub !== 'string' || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') {
      throw new AuthError('invalid_token', 'this is not an access token');
    }
    const access: AccessContext = {
      userId: claims.sub,
      orgId: typeof claims.org === 'string' ? claims.org : null,
      role: typeof claims.role === 'string' ? (claims.role as Role) : null,
      appId: typeof claims.app === 'string' ? claims.app : undefined,
      tokenId: claims.jti,
      familyId: typeof claims.sid === 'string' ? claims.sid : undefined,
      expiresAt: claims.exp * 1000,
      authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
      claims,
    };
    checkAccess(access, acceptRevoked);
    return access;
  }

  /**
   * What is checked of an access token on every request, also when it was verified
   * before (the guard's cache of verified tokens): expiry by the clock, and revocation.
   */
  function checkAccess(access: AccessContext, acceptRevoked = false): void {
    if (access.expiresAt <= clock.now()) throw new AuthError('token_expired', 'the access token has expired; refresh it');
    revocations.assertFresh();
    if (!acceptRevoked && (revocations.has('token', access.tokenId) || (access.familyId !== undefined && revocations.has('family', access.familyId)))) {
      throw new AuthError('token_revoked', 'the token has been revoked');
    }
  }

  /**
   * Ends the session of an access token: the token itself and its refresh family stop
   * working at once here, and on other instances within the revocation poll interval.
   * A refresh token of the same user passed along has its family revoked too.
   *
   * Storage is written before anything is applied in memory, families before the token:
   * if a write fails, the token still passes and the whole logout can be repeated, and
   * repeating a completed one changes nothing.
   */
  async function logout(access: Pick<AccessContext, 'userId' | 'tokenId' | 'familyId' | 'expiresAt'> & { orgId?: string | null }, refreshToken?: string, client?: ClientInfo): Promise<void> {
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
      // A family with no stored token (nothing to refresh) ends with its access tokens, at the latest one TTL from now.
      await revokeFamily(familyId, (await storage.refreshTokens.familyExpiresAt(familyId)) ?? clock.now());
    }
    await revocations.revoke({ kind: 'token', key: access.tokenId, expiresAt: access.expiresAt });
    // After the revocations (several writes, no one transaction): a logout that failed half way is repeated, and recorded then.
    await audit.record(storage, {
      client,
      orgId: access.orgId ?? null,
      actor: { type: 'user', id: access.userId },
      action: 'session.revoked',
      target: access.familyId === undefined ? null : { type: 'session', id: access.familyId },
      data: { reason: 'logout' },
    });
  }

  /** Revokes one access token of the user (an expired, foreign or malformed one is ignored: nothing to revoke). */
  async function revokeAccessToken(token: string, userId: string): Promise<void> {
    let access: AccessContext;
    try {
      access = await verifyAccess(token);
    } catch {
      return;
    }
    if (access.userId === userId) await revocations.revoke({ kind: 'token', key: access.tokenId, expiresAt: access.expiresAt });
  }

  /** Revokes the user's families (optionally only those in one org, only app sessions, or all but one). */
  async function revokeUserSessions(userId: string, filter?: { orgId?: string; exceptFamilyId?: string; appsOnly?: boolean }): Promise<void> {
    const revoked = await storage.refreshTokens.revokeFamiliesOfUser(userId, clock.now(), filter);
    for (const { familyId, familyExpiresAt } of revoked) {
      await revocations.revoke({ kind: 'family', key: familyId, expiresAt: familyExpiresAt + config.accessTtl * 1000 });
    }
  }

  /** Revokes the org's sessions an org policy no longer allows (see `revokeFamiliesOfOrg`), as `revokeUserSessions` does. Returns how many. */
  async function revokeOrgSessions(orgId: string, filter: { methodsNotIn?: string[]; startedBefore?: number; userIds?: string[] }): Promise<number> {
    const revoked = await storage.refreshTokens.revokeFamiliesOfOrg(orgId, clock.now(), filter);
    for (const { familyId, familyExpiresAt } of revoked) {
      await revocations.revoke({ kind: 'family', key: familyId, expiresAt: familyExpiresAt + config.accessTtl * 1000 });
    }
    return revoked.length;
  }

  /** The first factor the session (refresh family) began with; undefined when unknown. */
  async function methodOfSession(familyId: string | undefined): Promise<string | undefined> {
    if (familyId === undefined) return undefined;
    return (await storage.refreshTokens.findSession(familyId))?.method ?? undefined;
  }

  /** Revokes the app sessions of an application (optionally only one user's), as `revokeUserSessions` does. */
  async function revokeAppSessions(appId: string, filter?: { userId?: string }): Promise<void> {
    const revoked = await storage.refreshTokens.revokeFamiliesOfApp(appId, clock.now(), filter);
    for (const { familyId, familyExpiresAt } of revoked) {
      await revocations.revoke({ kind: 'family', key: familyId, expiresAt: familyExpiresAt + config.accessTtl * 1000 });
    }
  }

  /** Picks up revocations made by other instances now instead of at the next poll: what was stored before the call is known once it resolves. */
  function pollRevocations(): Promise<void> {
    return revocations.poll();
  }

  /** False when `sub` is the user id, so `resolveSubject` has nothing to do (the guard then skips it). */
  const resolvesSubject = config.subject !== 'id';

  return { issuePair, storeNewSession, signAccess, start, signIn, refresh, renewAccess, verifyAccess, checkAccessClaims, checkAccess, resolveSubject, resolvesSubject, logout, revokeAccessToken, revokeUserSessions, revokeAppSessions, revokeOrgSessions, revokeFamily, pollRevocations, methodOfSession, policies };
}

export type Sessions = ReturnType<typeof createSessions>;

function notAMember(): AuthError {
  return new AuthError('org_not_found', 'no such organization among yours');
}
