/**
 * The interfaces gatehouse depends on. Everything the core needs from the outside
 * world (storage, signing, hashing, time) comes through one of these, so each can
 * be replaced without touching the rules.
 */

import type { KeyObject } from 'node:crypto';
import type { ThrottleOptions } from './core/throttle.js';
import type { AuditEvent } from './core/audit-event.js';

export type Role = 'owner' | 'admin' | 'member';

/** Timestamps are epoch milliseconds throughout the storage port. */
export type EpochMs = number;

export interface UserRecord {
  id: string;
  /** Trimmed and lowercased. Unique. */
  email: string;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
  /** Null for accounts that only sign in through an external identity. */
  passwordHash: string | null;
  createdAt: EpochMs;
  /**
   * When gatehouse established that the email is the user's (an external identity that
   * vouched for it at sign-up); null while unverified, as for password sign-ups. Only
   * accounts with a verified email are ever linked to an external identity by email.
   */
  emailVerifiedAt: EpochMs | null;
}

export interface NewUser {
  id: string;
  email: string;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
  passwordHash: string | null;
  createdAt: EpochMs;
  emailVerifiedAt: EpochMs | null;
}

export interface OrgRecord {
  id: string;
  name: string;
  /** Unique, lowercase. */
  slug: string;
  description: string | null;
  createdAt: EpochMs;
}

export interface MembershipRecord {
  userId: string;
  orgId: string;
  role: Role;
  createdAt: EpochMs;
  /**
   * The org's custom role (`OrgRoleRecord.id`) a `member` holds on top of the role;
   * null or absent: none (adapters written before custom roles never set it).
   */
  customRoleId?: string | null;
}

export interface MembershipWithOrg extends MembershipRecord {
  org: OrgRecord;
}

export interface MembershipWithUser extends MembershipRecord {
  user: UserRecord;
}

export interface InvitationRecord {
  id: string;
  orgId: string;
  /** SHA-256 (hex) of the invitation code; the code itself is never stored. */
  codeHash: string;
  role: Role;
  /** When set, only this (lowercased) email may use the invitation. */
  email: string | null;
  expiresAt: EpochMs;
  createdBy: string;
  createdAt: EpochMs;
  usedAt: EpochMs | null;
  usedBy: string | null;
  revokedAt: EpochMs | null;
  /**
   * When the code was mailed to `email` by gatehouse: joining with it then proves the
   * address. Null when the inviter handed the code over themselves.
   */
  mailedAt: EpochMs | null;
}

export type NewInvitation = Omit<InvitationRecord, 'usedAt' | 'usedBy' | 'revokedAt' | 'mailedAt'> & { mailedAt?: EpochMs | null };

export interface RefreshTokenRecord {
  /**
   * The token's key: SHA-256 (hex) of its `jti`, led by the `jti`'s 12 hex digits of time
   * when the `jti` is a UUIDv7 (every token the default issuer signs), so new keys sort
   * after older ones (up to 76 characters). Opaque to storage: keep and compare it as given.
   */
  idHash: string;
  /** The session ("family") every rotation of one sign-in shares. */
  familyId: string;
  userId: string;
  orgId: string | null;
  expiresAt: EpochMs;
  /** Absolute end of the family: rotation never extends past it. */
  familyExpiresAt: EpochMs;
  createdAt: EpochMs;
  usedAt: EpochMs | null;
  revokedAt: EpochMs | null;
  /**
   * Set on the record of an app session (a per-application sign-in): a family with no
   * refresh token handed out, stored so that the app token's `sid` can be revoked.
   */
  appId: string | null;
  /** The client (`User-Agent`, truncated) and IP of the sign-in or refresh that wrote this token; null when unknown. */
  userAgent: string | null;
  ip: string | null;
  /** When the token was last renewed from without rotation (`touch`); null until then. */
  lastUsedAt: EpochMs | null;
  /**
   * What `rotate` stored with the consumption: the successor, sealed (opaque to the
   * storage, and bound to this row's `idHash`). Null (or absent, for adapters written
   * before it) otherwise.
   */
  successor?: string | null;  /**
   * The first factor the session began with (`password`, `passkey`, `google`, an
   * external issuer's provider name): what an org's `allowedSignInMethods` is checked
   * against. Handed on by rotation; null (or absent) when unknown (sessions of earlier versions).
   */
  method?: string | null;
}

export type NewRefreshToken = Omit<RefreshTokenRecord, 'usedAt' | 'revokedAt' | 'appId' | 'userAgent' | 'ip' | 'lastUsedAt'> & {
  appId?: string | null;
  userAgent?: string | null;
  ip?: string | null;
};

/** A session as the user sees it: one refresh family (or app session), summarised from its tokens. */
export interface SessionRecord {
  /** The family id: the `sid` of its tokens. */
  id: string;
  userId: string;
  orgId: string | null;
  appId: string | null;
  /** The sign-in: when the family's first token was issued, also once that token is purged. */
  createdAt: EpochMs;
  /** The latest sign-in, rotation or renewal: the newest token's `createdAt` or `lastUsedAt`. */
  lastUsedAt: EpochMs;
  /** Of the newest token. */
  userAgent: string | null;
  ip: string | null;
  /** The family's end (`familyExpiresAt`). */
  expiresAt: EpochMs;
  /** Whether the family was revoked (any of its tokens). */
  revoked: boolean;  /** The first factor the session began with (see `RefreshTokenRecord.method`); null (or absent) when unknown. */
  method?: string | null;
}

export interface ApiKeyRecord {
  id: string;
  orgId: string;
  name: string;
  /** Public and unique: the part of the key used to find its record. */
  prefix: string;
  /** SHA-256 (hex) of the whole key; the key itself is never stored. */
  secretHash: string;
  /** The most the key may do; never above its creator's role. */
  role: Role;
  createdBy: string;
  createdAt: EpochMs;
  expiresAt: EpochMs | null;
  lastUsedAt: EpochMs | null;
  revokedAt: EpochMs | null;
  /** The permissions the key is limited to (within what its role grants); null or absent: its role's. */
  permissions?: string[] | null;
}

export type NewApiKey = Omit<ApiKeyRecord, 'lastUsedAt' | 'revokedAt'>;

/** An application users sign in to (per-application sign-in, as some wire contracts have). */
export interface ApplicationRecord {
  /** A UUID: the `appId` clients send. */
  id: string;
  orgId: string;
  name: string;
  /** As registered. */
  url: string;
  /** Lowercased host plus path without trailing slash: what sign-in URLs are matched on. Unique. */
  urlKey: string;
  redirectUrl: string | null;
  createdAt: EpochMs;
}

export interface TotpRecord {
  userId: string;
  /** The TOTP secret, encrypted by the core before it reaches storage. */
  secretCiphertext: string;
  /** Null while set up but not yet confirmed with a code. */
  enabledAt: EpochMs | null;
  /** Highest time step accepted so far: a code is never accepted twice. */
  lastUsedStep: number | null;
  createdAt: EpochMs;
}

/**
 * `token`: one access token by its `jti`; `family`: every token of a refresh family
 * (`sid`); `api_key`: an API key by its id.
 */
export type RevocationKind = 'token' | 'family' | 'api_key';

export interface RevocationRecord {
  kind: RevocationKind;
  key: string;
  /** After this moment nothing it revokes can still be valid, so it may be purged. */
  expiresAt: EpochMs;
  createdAt: EpochMs;
}

export interface RevocationPage {
  entries: RevocationRecord[];
  /** Opaque position to pass to the next `listSince` call. */
  cursor: string;
}

/** A user's account at an external identity provider, keyed by (provider, subject). */
export interface IdentityRecord {
  /** 'google' for Google sign-in, the issuer URL for an external issuer. */
  provider: string;
  /** The provider's stable id of the account (`sub`). */
  subject: string;
  userId: string;
  /** The email the provider reported when the identity was linked; informational only. */
  email: string | null;
  createdAt: EpochMs;
}

export interface UserRepository {
  /** Throws `StorageConflictError` with `field` 'email' or 'username' on a duplicate. */
  create(user: NewUser): Promise<UserRecord>;
  findById(id: string): Promise<UserRecord | null>;
  findByEmail(email: string): Promise<UserRecord | null>;
  /** Usernames match ignoring case. */
  findByUsername(username: string): Promise<UserRecord | null>;
  /**
   * With `expected`, replaces the hash only while the stored one is still `expected`, and
   * answers whether it did: a transparent rehash must not overwrite a password changed
   * (or rehashed by a concurrent sign-in) since it was checked. An adapter that answers
   * nothing is taken to have replaced it.
   */
  updatePasswordHash(id: string, passwordHash: string, expected?: string): Promise<boolean | void>;
  /**
   * Deletes the user and what only exists for them: memberships, refresh tokens, API keys
   * they created, TOTP and recovery codes, identities, application grants (and mail
   * tokens). Returns false when there is no such user. Orgs are not touched.
   */
  delete(id: string): Promise<boolean>;
  /** Sets `emailVerifiedAt` unless it is set already. */
  markEmailVerified(id: string, now: EpochMs): Promise<void>;
  /**
   * Replaces the email (already normalised) and sets `emailVerifiedAt` to `verifiedAt`.
   * Throws `StorageConflictError` with `field` 'email' when another account has it.
   */
  updateEmail(id: string, email: string, verifiedAt: EpochMs | null): Promise<void>;
}

export interface OrgRepository {
  /** Throws `StorageConflictError` with `field` 'slug' on a duplicate slug. */
  create(org: OrgRecord): Promise<OrgRecord>;
  findById(id: string): Promise<OrgRecord | null>;
  /**
   * Deletes the org with its memberships, invitations, API keys and applications (with
   * their grants). Refresh tokens scoped to it are left to the caller (revoke them).
   * Returns false when there is no such org.
   */
  delete(id: string): Promise<boolean>;
}

export interface MembershipRepository {
  /** Throws `StorageConflictError` with `field` 'membership' when the user is already a member. */
  add(membership: MembershipRecord): Promise<MembershipRecord>;
  find(userId: string, orgId: string): Promise<MembershipRecord | null>;
  /** Oldest membership first. */
  listForUser(userId: string): Promise<MembershipWithOrg[]>;
  /** Oldest membership first. */
  listForOrg(orgId: string): Promise<MembershipWithUser[]>;
  /**
   * Sets the role, and the custom role with it (`customRoleId`, default null: none), so
   * any role change clears a custom role not named again. Returns false when there is no
   * such membership.
   */
  updateRole(userId: string, orgId: string, role: Role, customRoleId?: string | null): Promise<boolean>;
  /** Returns false when there is no such membership. */
  remove(userId: string, orgId: string): Promise<boolean>;
  countOwners(orgId: string): Promise<number>;
  /**
   * Called first in a transaction that counts the org's owners and then demotes or
   * removes one, changes the org's policy, gives or takes away access to one of its
   * applications or deletes one, or stores a new session, API key or invitation: blocks
   * until no other transaction holding the lock for the same org has committed or
   * rolled back, and holds it until this transaction ends. Without it two owners
   * demoting each other at once could both see two owners (READ COMMITTED) and leave
   * none, and a session could be stored just after a removal or policy change ended
   * the org's sessions it no longer allows. A no-op where transactions already run
   * one at a time (SQLite), and outside a transaction.
   */
  lockOrg(orgId: string): Promise<void>;
}

export interface InvitationRepository {
  create(invitation: NewInvitation): Promise<InvitationRecord>;
  findByCodeHash(codeHash: string): Promise<InvitationRecord | null>;
  /** Invitations of the org that are neither used, revoked nor expired at `now`. */
  listActive(orgId: string, now: EpochMs): Promise<InvitationRecord[]>;
  /** Returns false when the org has no such unused, unrevoked invitation. */
  revoke(orgId: string, id: string, now: EpochMs): Promise<boolean>;
  /**
   * Revokes the org's unused, unrevoked invitations created by `createdBy` (only those
   * whose role is one of `roles`, when given). Returns how many.
   */
  revokeByCreator(orgId: string, createdBy: string, now: EpochMs, roles?: Role[]): Promise<number>;
  /**
   * Atomically marks the invitation used by `userId`, in one conditional write:
   * only if it is unused, unrevoked, unexpired at `now`, and either unbound or bound
   * to `email`. Returns the record when this call won, null otherwise.
   */
  consume(codeHash: string, userId: string, email: string, now: EpochMs): Promise<InvitationRecord | null>;
}

export interface RefreshTokenRepository {
  insert(token: NewRefreshToken): Promise<void>;
  find(idHash: string): Promise<RefreshTokenRecord | null>;
  /**
   * Atomically marks the token used, in one conditional write: only if it is
   * unused, unrevoked and unexpired at `now`. Returns the record when this call
   * won, null otherwise (of N concurrent calls exactly one wins).
   */
  consume(idHash: string, now: EpochMs): Promise<RefreshTokenRecord | null>;
  /**
   * `consume`, storing `successor` with the token in the same conditional write: a
   * reader that sees `usedAt` set by this call also sees `successor`. Returns the
   * record when this call won, null otherwise.
   */
  rotate(idHash: string, now: EpochMs, successor: string): Promise<RefreshTokenRecord | null>;
  /**
   * A rotation as one atomic step: `consume` (or `rotate`, when `successor` is given) of
   * `idHash`, and, only when that call won, `insert` of `next`, the token replacing it.
   * Either both happen or neither: a loser (or a failure) inserts nothing. Returns the
   * consumed record when this call won, null otherwise. Optional: without it, rotation
   * inserts first and consumes after, in two calls.
   */
  replace?(idHash: string, now: EpochMs, successor: string | null, next: NewRefreshToken): Promise<RefreshTokenRecord | null>;
  /**
   * `find`, and in the same read the role of the token's user in the token's org: null
   * for a token without an org, or when that membership is gone. Null when the token is
   * unknown. Optional: without it, rotation reads the membership in a second call.
   * `sessionStartedAt` (optional): when the token's session began, as `findSession`'s
   * `createdAt` would say; an org policy with a maximum session age reads it at every
   * rotation, from `findSession` when it is absent.
   */
  findForRotation?(idHash: string): Promise<{ token: RefreshTokenRecord; role: Role | null; sessionStartedAt?: EpochMs } | null>;
  /** Revokes every token of the family. Returns how many were not revoked yet. */
  revokeFamily(familyId: string, now: EpochMs): Promise<number>;
  /** The family's expiry (`familyExpiresAt` of its tokens, the latest if they differ), or null when none of its tokens is stored. */
  familyExpiresAt(familyId: string): Promise<EpochMs | null>;
  /**
   * The user's live sessions at `now`: families with a token that is unused, unrevoked
   * and unexpired (an app session's one row counts), most recently used first.
   */
  listLiveSessions(userId: string, now: EpochMs): Promise<SessionRecord[]>;
  /** The family summarised as `listLiveSessions` does, whatever its state; null when none of its tokens is stored. */
  findSession(familyId: string): Promise<SessionRecord | null>;
  /** Records a renewal from the token without rotation: sets `lastUsedAt`, and `userAgent` and `ip` when given. */
  touch(idHash: string, now: EpochMs, client: { userAgent: string | null; ip: string | null }): Promise<void>;
  /**
   * Revokes the user's families that still have a live token (optionally only those
   * scoped to `orgId`, only app sessions with `appsOnly`, and never `exceptFamilyId`).
   * Returns the revoked family ids with the latest moment any of their tokens could
   * still be valid.
   */
  revokeFamiliesOfUser(
    userId: string,
    now: EpochMs,
    filter?: { orgId?: string; exceptFamilyId?: string; appsOnly?: boolean },
  ): Promise<Array<{ familyId: string; familyExpiresAt: EpochMs }>>;
  /**
   * Revokes every user's families scoped to `orgId` that still have a live token (app
   * sessions included). Returns them as `revokeFamiliesOfUser` does. `filter` narrows to
   * the families an org policy no longer allows: begun with a method not in
   * `methodsNotIn` (or an unknown one), begun (first token) before `startedBefore`, or of
   * one of `userIds`; several given: all of them.
   */
  revokeFamiliesOfOrg(
    orgId: string,
    now: EpochMs,
    filter?: { methodsNotIn?: string[]; startedBefore?: EpochMs; userIds?: string[] },
  ): Promise<Array<{ familyId: string; familyExpiresAt: EpochMs }>>;
  /**
   * Revokes the live app sessions (families) of application `appId`, optionally only
   * those of `userId`. Returns them as `revokeFamiliesOfUser` does.
   */
  revokeFamiliesOfApp(appId: string, now: EpochMs, filter?: { userId?: string }): Promise<Array<{ familyId: string; familyExpiresAt: EpochMs }>>;
  /**
   * Deletes tokens whose own expiry (`expiresAt`) is at or before `now`, in a live family
   * too: such a token can never be presented again (at most `limit` when given: the purge
   * runs in batches). Returns how many. The family's start outlives its first token:
   * `findSession` still reports it as `createdAt`, and `startedBefore` still judges by it.
   */
  purgeExpired(now: EpochMs, limit?: number): Promise<number>;
}

export interface ApiKeyRepository {
  /** Throws `StorageConflictError` with `field` 'prefix' on a duplicate prefix. */
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  findByPrefix(prefix: string): Promise<ApiKeyRecord | null>;
  /** The org's keys that are not revoked (expired ones included), oldest first. */
  listForOrg(orgId: string): Promise<ApiKeyRecord[]>;
  /** Marks the org's key revoked. Returns the record, or null when the org has no such unrevoked key. */
  revoke(orgId: string, id: string, now: EpochMs): Promise<ApiKeyRecord | null>;
  /** Revokes the org's unrevoked keys created by `createdBy`. Returns them as revoked. */
  revokeByCreator(orgId: string, createdBy: string, now: EpochMs): Promise<ApiKeyRecord[]>;
  /** Sets `role` on the org's unrevoked keys created by `createdBy` whose role is one of `from`. Returns how many changed. */
  capRoleByCreator(orgId: string, createdBy: string, role: Role, from: Role[]): Promise<number>;
  /**
   * Records a use. True when it is the key's first recorded use (`lastUsedAt` was null):
   * of concurrent first uses, on any instance, exactly one gets true.
   */
  touch(id: string, now: EpochMs): Promise<boolean>;
}

export interface MfaRepository {
  /** Stores a new, not yet enabled TOTP secret, replacing a pending one. Returns false when TOTP is already enabled. */
  savePendingTotp(userId: string, secretCiphertext: string, now: EpochMs): Promise<boolean>;
  findTotp(userId: string): Promise<TotpRecord | null>;
  /** Enables the pending secret. Returns false when there is none pending. */
  enableTotp(userId: string, now: EpochMs): Promise<boolean>;
  /** Removes the TOTP secret and every recovery code. */
  deleteTotp(userId: string): Promise<void>;
  /**
   * Atomically records `step` as used, in one conditional write: only when it is
   * above the last used step. True when this call won.
   */
  consumeTotpStep(userId: string, step: number): Promise<boolean>;
  /** Replaces the user's recovery codes (SHA-256 hex of each). */
  replaceRecoveryCodes(userId: string, codeHashes: string[], now: EpochMs): Promise<void>;
  /** Atomically marks an unused code used. True when this call won. */
  consumeRecoveryCode(userId: string, codeHash: string, now: EpochMs): Promise<boolean>;
  countUnusedRecoveryCodes(userId: string): Promise<number>;
}

export interface ApplicationRepository {
  /** Throws `StorageConflictError` with `field` 'url_key' when the URL is registered already. */
  create(app: ApplicationRecord): Promise<ApplicationRecord>;
  findById(id: string): Promise<ApplicationRecord | null>;
  findByUrlKey(urlKey: string): Promise<ApplicationRecord | null>;
  /** Oldest first. */
  listForOrg(orgId: string): Promise<ApplicationRecord[]>;
  /** Deletes the org's application and its grants. Returns false when the org has no such application. */
  remove(orgId: string, id: string): Promise<boolean>;
  /** Idempotent. */
  grant(appId: string, userId: string, now: EpochMs): Promise<void>;
  /** Returns false when there was no such grant. */
  revokeGrant(appId: string, userId: string): Promise<boolean>;
  /** Removes the user's grants to every application of the org. Returns how many. */
  revokeGrantsInOrg(orgId: string, userId: string): Promise<number>;
  hasGrant(appId: string, userId: string): Promise<boolean>;
  /** User ids with access, oldest grant first. */
  listGrants(appId: string): Promise<string[]>;
}

export interface RevocationRepository {
  add(revocation: RevocationRecord): Promise<void>;
  /** All revocations still in force at `now`, and the cursor to poll from. */
  listActive(now: EpochMs): Promise<RevocationPage>;
  /**
   * Revocations added after `cursor` (from `listActive` or an earlier `listSince`).
   * Never moves the cursor past an entry that becomes visible only later: with a
   * database sequence, concurrent writers may commit out of sequence order (the knex
   * adapter serialises revocation inserts on PostgreSQL for this).
   */
  listSince(cursor: string): Promise<RevocationPage>;
  /** Deletes revocations whose `expiresAt` is at or before `now` (at most `limit` when given). Returns how many. */
  purgeExpired(now: EpochMs, limit?: number): Promise<number>;
}

/**
 * Spent single-use tokens (an `mfa_token`; any token that must work once), by a hash
 * of their id, kept until the token would have expired anyway.
 */
export interface UsedTokenRepository {
  /**
   * Records the token as used, in one conditional write (insert unless present).
   * True when this call recorded it, false when it was used already: of N
   * concurrent calls exactly one wins.
   */
  consume(idHash: string, expiresAt: EpochMs): Promise<boolean>;
  /** Deletes entries whose token expired at or before `now` (at most `limit` when given). Returns how many. */
  purgeExpired(now: EpochMs, limit?: number): Promise<number>;
}

/** What a mailed single-use token proves: the address (`verify_email`), the right to set a password, or a new address. */
export type MailTokenKind = 'verify_email' | 'reset_password' | 'change_email';

/** A token sent by mail (a link's `token` parameter), kept only as a hash. */
export interface MailTokenRecord {
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  idHash: string;
  kind: MailTokenKind;
  userId: string;
  /** The address the token was mailed to (for `change_email`: the new address it proves). */
  email: string;
  expiresAt: EpochMs;
  createdAt: EpochMs;
  usedAt: EpochMs | null;
  /** Set when a newer token of the same kind (or a use of one) made it dead. */
  revokedAt: EpochMs | null;
}

export type NewMailToken = Omit<MailTokenRecord, 'usedAt' | 'revokedAt'>;

export interface MailTokenRepository {
  insert(token: NewMailToken): Promise<void>;
  find(idHash: string): Promise<MailTokenRecord | null>;
  /**
   * Atomically marks the token used, in one conditional write: only if it is unused,
   * unrevoked and unexpired at `now`. Returns the record when this call won, null
   * otherwise (of N concurrent calls exactly one wins).
   */
  consume(idHash: string, now: EpochMs): Promise<MailTokenRecord | null>;
  /** Revokes the user's unused, unrevoked tokens of `kind`. Returns how many. */
  revokeForUser(userId: string, kind: MailTokenKind, now: EpochMs): Promise<number>;
  /** Deletes tokens that expired before `now` (at most `limit` when given). Returns how many. */
  purgeExpired(now: EpochMs, limit?: number): Promise<number>;
}

/** A value set once for the whole installation (every instance on one store), by name. */
export interface SettingRecord {
  name: string;
  value: string;
  createdAt: EpochMs;
}

export interface SettingRepository {
  /**
   * Stores the setting unless its name is set already, in one conditional write, and
   * returns what is stored: concurrent callers with different values all get the winner's.
   */
  ensure(setting: SettingRecord): Promise<SettingRecord>;
}

export interface IdentityRepository {
  /** Throws `StorageConflictError` with `field` 'identity' when (provider, subject) is already linked. */
  create(identity: IdentityRecord): Promise<IdentityRecord>;
  findBySubject(provider: string, subject: string): Promise<IdentityRecord | null>;
  /** Oldest first. */
  listForUser(userId: string): Promise<IdentityRecord[]>;
}

/** A rendered mail, as handed to a Mailer. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** The sender, from option `mail.from`; absent, the mailer's own default applies. */
  from?: string;
}

/**
 * Delivers one rendered mail (SMTP, a provider's API, a log). Rejects when the mail was
 * not accepted. The outbox worker calls `send` up to `mail.worker.concurrency` times at
 * once (default 4).
 */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

/** A mail waiting in (or delivered from) the outbox. */
export interface OutboxRecord {
  id: string;
  /** The message kind it was rendered from ('reset_password', …); informational. */
  kind: string;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  createdAt: EpochMs;
  /** Delivery attempts started so far (a claim counts as one). */
  attempts: number;
  /** Not claimed before this moment (backoff after a failure). */
  nextAttemptAt: EpochMs;
  /** While in the future, one worker holds the row (its lease); others skip it. */
  claimedUntil: EpochMs | null;
  /** Set by the claim, so only the claimer's outcome is recorded. */
  claimId: string | null;
  sentAt: EpochMs | null;
  /** Set when the worker gave up (too many attempts); the row is kept for inspection. */
  failedAt: EpochMs | null;
  /** The last delivery error (never the message body). */
  lastError: string | null;
}

export type NewOutboxMessage = Pick<OutboxRecord, 'id' | 'kind' | 'to' | 'subject' | 'text' | 'html' | 'createdAt' | 'nextAttemptAt'>;

/** Mail written in the transaction of the action that caused it, delivered later by a worker. */
export interface OutboxRepository {
  enqueue(message: NewOutboxMessage): Promise<void>;
  /**
   * Claims up to `limit` due rows (unsent, not given up, `nextAttemptAt <= now`, lease
   * free or expired) in one conditional write: sets `claimedUntil`, `claimId` and
   * counts an attempt. Concurrent claimers (other instances) never get the same row
   * while its lease holds. Oldest due first.
   */
  claimDue(now: EpochMs, limit: number, claim: { claimId: string; claimedUntil: EpochMs }): Promise<OutboxRecord[]>;
  /** Marks the row sent, if `claimId` still holds it. False otherwise. */
  markSent(id: string, claimId: string, now: EpochMs): Promise<boolean>;
  /**
   * Records a failed attempt (if `claimId` still holds it): releases the lease and
   * sets the next attempt, or gives up when `nextAttemptAt` is null.
   */
  markFailed(id: string, claimId: string, failure: { now: EpochMs; error: string; nextAttemptAt: EpochMs | null }): Promise<boolean>;
  find(id: string): Promise<OutboxRecord | null>;
  /** Deletes rows sent or given up before `before`. Returns how many. */
  purgeFinished(before: EpochMs): Promise<number>;
}

/** The repositories, as seen inside or outside a transaction. */
/** A WebAuthn credential (passkey) registered to a user. */
export interface PasskeyRecord {
  /** Our id, for GET/DELETE /passkeys. */
  id: string;
  userId: string;
  /** The authenticator's credential ID, base64url; unique. */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The signature counter last seen (0 when the authenticator keeps none). */
  counter: number;
  /** Transports the browser reported (`internal`, `hybrid`, `usb`, ...), as hints for sign-in. */
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  name: string | null;
  createdAt: EpochMs;
  lastUsedAt: EpochMs | null;
}

export interface PasskeyRepository {
  /** Throws StorageConflictError when the credential ID is registered already. */
  insert(passkey: PasskeyRecord): Promise<void>;
  findByCredentialId(credentialId: string): Promise<PasskeyRecord | null>;
  listForUser(userId: string): Promise<PasskeyRecord[]>;
  /**
   * Records a use: the new counter and backup state, in one conditional write that only
   * matches while the stored counter is still `previousCounter`, so of two concurrent
   * sign-ins with one counter value only one wins. True when this call won.
   */
  recordUse(id: string, use: { previousCounter: number; counter: number; backedUp: boolean; at: EpochMs }): Promise<boolean>;
  /** Deletes the user's passkey; false when the user has none with that id. */
  delete(userId: string, id: string): Promise<boolean>;
}

/** An audit event as stored: its place in its chain and the chain's hashes (see src/core/audit-chain.ts). */
export interface AuditEntry extends AuditEvent {
  /** 1, 2, 3, … per chain, without gaps. */
  seq: number;
  /** `hash` of the entry before (64 zeros for the first). */
  prevHash: string;
  /** SHA-256 (hex) of the entry's canonical JSON (prevHash and seq included). */
  hash: string;
}

/** Filters of `AuditRepository.list`; all optional but `limit`. */
export interface AuditListQuery {
  action?: string;
  actorId?: string;
  /** Entries at or after this time. */
  since?: EpochMs;
  /** Entries before this time. */
  until?: EpochMs;
  /** Only entries older than this seq (the cursor of the previous page). */
  beforeSeq?: number;
  limit: number;
}

/** The last entry purged from a chain: verification starts from it. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
}

/** The chain's newest entry as last appended, and its checkpoint; a deleted newest entry shows as a mismatch. */
export interface AuditChainHead {
  seq: number;
  hash: string;
  checkpoint: AuditCheckpoint | null;
}

export interface AuditRepository {
  /**
   * Appends `event` to `chain`: gives it the next seq, the current head's hash as
   * prevHash and its own hash (`auditEntryHash`), and moves the head, atomically: of
   * concurrent appends to one chain (other transactions, other instances) each gets its
   * own seq. Inside a transaction, the entry commits or rolls back with it.
   */
  append(chain: string, event: AuditEvent): Promise<AuditEntry>;
  /** Entries of `chain` matching the filters, newest (highest seq) first. */
  list(chain: string, query: AuditListQuery): Promise<AuditEntry[]>;
  /** Up to `limit` entries of `chain` with seq > `afterSeq`, in seq order (for verification). */
  readChain(chain: string, afterSeq: number, limit: number): Promise<AuditEntry[]>;
  /** Null for a chain that has no entry yet. */
  head(chain: string): Promise<AuditChainHead | null>;
  /**
   * Deletes entries recorded before `before` (at most about `limit`), oldest first and
   * only as a prefix of each chain, and moves each chain's checkpoint to the last entry
   * deleted from it in the same transaction. Returns how many were deleted.
   */
  purgeBefore(before: EpochMs, limit: number): Promise<number>;
}

/** A URL an organization's events are POSTed to (signed per Standard Webhooks). */
export interface WebhookEndpointRecord {
  id: string;
  orgId: string;
  url: string;
  /** Audit actions sent there; null: every event. */
  events: string[] | null;
  /** The signing secret (`whsec_…`), sealed with the endpoint's id as context; opaque to the storage. */
  secret: string;
  enabled: boolean;
  /** Failed attempts since the last success; the endpoint is disabled at the configured limit. */
  consecutiveFailures: number;
  /** Why gatehouse disabled it (null when enabled, or disabled by an admin). */
  disabledReason: string | null;
  createdAt: EpochMs;
  updatedAt: EpochMs;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event for one endpoint, in the webhook outbox. */
export interface WebhookDeliveryRecord {
  id: string;
  endpointId: string;
  /** The audit event's id: the `webhook-id` header, the same on every attempt. */
  eventId: string;
  eventType: string;
  /** The JSON body, as sent. */
  payload: string;
  status: WebhookDeliveryStatus;
  /** Attempts started so far (a claim counts as one). */
  attempts: number;
  /** Not claimed before this moment (backoff after a failure). */
  nextAttemptAt: EpochMs;
  /** While in the future, one worker holds the row; others skip it. */
  claimedUntil: EpochMs | null;
  claimId: string | null;
  lastStatusCode: number | null;
  /** The last failure, for the delivery log (never the secret or a signature). */
  lastError: string | null;
  createdAt: EpochMs;
  deliveredAt: EpochMs | null;
}

export type NewWebhookDelivery = Pick<WebhookDeliveryRecord, 'id' | 'endpointId' | 'eventId' | 'eventType' | 'payload' | 'createdAt' | 'nextAttemptAt'>;

export type WebhookEndpointChanges = Partial<Pick<WebhookEndpointRecord, 'url' | 'events' | 'secret' | 'enabled' | 'consecutiveFailures' | 'disabledReason'>> & { updatedAt: EpochMs };

/** Webhook endpoints and their delivery outbox. */
export interface WebhookRepository {
  insertEndpoint(endpoint: WebhookEndpointRecord): Promise<void>;
  findEndpoint(orgId: string, id: string): Promise<WebhookEndpointRecord | null>;
  /** For the delivery worker, which knows only the delivery's endpoint id. */
  findEndpointById(id: string): Promise<WebhookEndpointRecord | null>;
  /** Oldest first. */
  listEndpoints(orgId: string): Promise<WebhookEndpointRecord[]>;
  /** The endpoint after the change; null when the org has no endpoint `id`. */
  updateEndpoint(orgId: string, id: string, changes: WebhookEndpointChanges): Promise<WebhookEndpointRecord | null>;
  /** Deletes the endpoint with its deliveries; false when the org has no endpoint `id`. */
  deleteEndpoint(orgId: string, id: string): Promise<boolean>;
  insertDeliveries(deliveries: NewWebhookDelivery[]): Promise<void>;
  findDelivery(endpointId: string, id: string): Promise<WebhookDeliveryRecord | null>;
  /** Newest first; `before` is the id of the last delivery of the previous page. */
  listDeliveries(endpointId: string, page: { limit: number; before?: string }): Promise<WebhookDeliveryRecord[]>;
  /**
   * Claims up to `limit` due deliveries in one conditional write (sets the lease, counts
   * an attempt). Only the oldest pending delivery of each enabled endpoint is due, so
   * one endpoint's events go out one at a time, in order; concurrent claimers (other
   * instances) never get the same row while its lease holds.
   */
  claimDue(now: EpochMs, limit: number, claim: { claimId: string; claimedUntil: EpochMs }): Promise<WebhookDeliveryRecord[]>;
  /** Records the outcome of an attempt, if `claimId` still holds the row: delivered, a retry at `nextAttemptAt`, or given up (`nextAttemptAt` null). */
  recordAttempt(
    id: string,
    claimId: string,
    outcome: { now: EpochMs; delivered: boolean; statusCode: number | null; error: string | null; nextAttemptAt: EpochMs | null },
  ): Promise<boolean>;
  /** Sets the endpoint's failure counter back to 0 (a delivery succeeded). */
  resetFailures(endpointId: string, now: EpochMs): Promise<void>;
  /**
   * Counts a failed attempt; at `limit` consecutive failures disables the endpoint with
   * `reason`, in one conditional write. True for the one call that disabled it.
   */
  countFailure(endpointId: string, now: EpochMs, limit: number, reason: string): Promise<boolean>;
  /** Deletes delivered and given-up deliveries created before `before` (never pending ones). Returns how many. */
  purgeFinished(before: EpochMs): Promise<number>;
}

/** An organization's security policy (see docs/org-policies.md); an org without a stored one has the defaults. */
export interface OrgPolicyRecord {
  orgId: string;
  /** Members need a second factor (a confirmed TOTP or a passkey) for tokens of this org. */
  requireMfa: boolean;
  /** The first factors (and `api_key`) allowed for this org; null: every method. */
  allowedSignInMethods: string[] | null;
  /** Longest life (s) of a session scoped to this org; null: the router's `sessionMaxAge`. */
  maxSessionAge: number | null;
  /** Longest life (s) of an API key of this org; null: no limit. */
  apiKeyMaxLifetime: number | null;
  updatedAt: EpochMs;
}

/** Security policies of organizations, one row per org. */
export interface OrgPolicyRepository {
  find(orgId: string): Promise<OrgPolicyRecord | null>;
  /** Stores the policy, replacing the org's previous one. */
  save(policy: OrgPolicyRecord): Promise<void>;
}

export interface Repositories {
  users: UserRepository;
  orgs: OrgRepository;
  memberships: MembershipRepository;
  invitations: InvitationRepository;
  refreshTokens: RefreshTokenRepository;
  revocations: RevocationRepository;
  apiKeys: ApiKeyRepository;
  mfa: MfaRepository;
  identities: IdentityRepository;
  applications: ApplicationRepository;
  usedTokens: UsedTokenRepository;
  /** Single-use tokens sent by mail (verification, reset, email change). */
  mailTokens: MailTokenRepository;
  /** Mail waiting for delivery (written inside the transaction of the action that caused it). */
  outbox: OutboxRepository;
  /** WebAuthn credentials (passkeys). */
  passkeys: PasskeyRepository;
  /** Webhook endpoints of organizations and their delivery outbox. */
  webhooks: WebhookRepository;
  /** The audit log: hash-chained entries, appended inside the transaction of the action. */
  audit: AuditRepository;  /** Security policies of organizations (MFA, sign-in methods, session and API key lifetimes). */
  orgPolicies: OrgPolicyRepository;
  /** Custom roles of organizations (named sets of the host's permissions). */
  orgRoles: OrgRoleRepository;
}

/** A custom role an org's owners defined from the host's permission vocabulary. */
export interface OrgRoleRecord {
  id: string;
  orgId: string;
  /** Unique within the org. */
  name: string;
  description: string | null;
  permissions: string[];
  createdAt: EpochMs;
  updatedAt: EpochMs;
}

export interface OrgRoleRepository {
  /** Throws `StorageConflictError` with `field` 'name' when the org has a role of that name. */
  create(role: OrgRoleRecord): Promise<OrgRoleRecord>;
  find(orgId: string, id: string): Promise<OrgRoleRecord | null>;
  /** Oldest first. */
  listForOrg(orgId: string): Promise<OrgRoleRecord[]>;
  /**
   * Changes the given fields and `updatedAt`. Returns the record, or null when the org has
   * no such role; throws `StorageConflictError` ('name') as `create` does.
   */
  update(orgId: string, id: string, changes: Partial<Pick<OrgRoleRecord, 'name' | 'description' | 'permissions'>>, now: EpochMs): Promise<OrgRoleRecord | null>;
  /** Returns false when the org has no such role. */
  delete(orgId: string, id: string): Promise<boolean>;
  /** How many memberships of the org hold the role. */
  countHolders(orgId: string, id: string): Promise<number>;
}

/**
 * Background jobs shared by every instance on one store (the purge): which instance
 * runs the next run of each.
 */
export interface JobLeaseRepository {
  /**
   * Claims one run of job `name` for `holder`, in one conditional write: only when the
   * run is due (the stored next run is at or before `now`, or the job never ran), and
   * then sets the next run to `nextRunAt`. True when this call won: of N concurrent
   * calls (instances) at most one does.
   */
  claim(name: string, holder: string, now: EpochMs, nextRunAt: EpochMs): Promise<boolean>;
}

/** The throttle's counters, where the store keeps them (see `rateLimiterFactory`). */
export interface RateLimitRepository {
  /** Deletes counters whose window ended at or before `now` (at most `limit` when given). Returns how many. */
  purgeExpired(now: EpochMs, limit?: number): Promise<number>;
}

export interface StorageAdapter extends Repositories {
  /**
   * Runs `fn` with repositories bound to one transaction: committed when the promise
   * resolves, rolled back when it rejects.
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Prepares the store (migrations). Idempotent; the router calls it at startup. */
  init?(): Promise<void>;
  /** Releases connections. */
  close?(): Promise<void>;
  /**
   * Failed-attempt counters kept in this store, so every instance on it counts the same
   * guesses. Used for throttling unless `throttle.createLimiter` is given.
   */
  rateLimiterFactory?(): NonNullable<ThrottleOptions['createLimiter']>;
  /**
   * Settings kept once per installation (the datarhei preset's instance id and first
   * start). Optional: without it those fall back to per-process values.
   */
  settings?: SettingRepository;
  /**
   * Leases for background jobs, so one instance runs each scheduled purge. Optional:
   * without it every instance purges on its own schedule (harmless, only more work).
   */
  jobs?: JobLeaseRepository;
  /** Purge of the throttle counters kept in this store (optional: only with `rateLimiterFactory`). */
  rateLimits?: RateLimitRepository;
  /**
   * Tells `listener` as soon as any instance has committed a revocation (the knex
   * adapter on PostgreSQL: LISTEN/NOTIFY), so it can read `revocations.listSince` at
   * once instead of at its next poll. Optional: without it, polling alone carries
   * revocations between instances. Returns the function that unsubscribes (and
   * releases the connection with the last subscriber).
   */
  watchRevocations?(listener: RevocationWatchListener): () => Promise<void>;
}

/**
 * What `StorageAdapter.watchRevocations` reports. Called synchronously from the
 * adapter; must not throw.
 */
export interface RevocationWatchListener {
  /** Revocations were committed (by any instance; possibly more than one, possibly one already read). */
  onChange(): void;
  /**
   * `listening` once notifications flow, again after every reconnect (read then:
   * revocations committed while nobody listened were not announced); `lost` once per
   * outage, with a reason fit for a log (no secrets), while the adapter reconnects.
   */
  onState?(state: 'listening' | 'lost', reason?: string): void;
}

export type TokenUse = 'access' | 'refresh' | 'realtime' | 'mfa';

/** Claims gatehouse puts in its tokens; `usefor` types the token. */
export interface TokenClaims {
  sub: string;
  usefor: TokenUse;
  jti: string;
  iat: number;
  exp: number;
  /** Lifetime in seconds (`exp - iat`), for clients that schedule refreshes. */
  exi: number;
  iss: string;
  aud?: string | string[];
  [claim: string]: unknown;
}

export interface SignInput {
  usefor: TokenUse;
  sub: string;
  /** Lifetime in seconds. */
  ttl: number;
  /** Extra claims (`org`, `role`, `sid`, …). Registered claims are set by the issuer. */
  claims?: Record<string, unknown>;
}

export interface SignedToken {
  token: string;
  jti: string;
  /** Epoch seconds. */
  iat: number;
  /** Epoch seconds. */
  exp: number;
}

export interface TokenIssuer {
  sign(input: SignInput): Promise<SignedToken> | SignedToken;
  /**
   * Verifies signature, algorithm, `iss`, `aud`, `exp` and that `usefor` equals
   * `use` (and, when the issuer types its tokens, the `typ` header of that use).
   * Throws `AuthError` (`token_expired` or `invalid_token`) otherwise.
   */
  verify(token: string, use: TokenUse): TokenClaims;
  /** The public keys to publish at `/.well-known/jwks.json`, or null for symmetric keys. */
  jwks(): { keys: Array<Record<string, unknown>> } | null;
  /**
   * What a JWT library needs to check signatures, algorithm, `iss` and `aud` the same
   * way `verify` does. The guard hands it to passport-jwt.
   */
  verification(): JwtVerification;
}

export interface JwtVerification {
  key: KeyObject | string | Buffer;
  algorithms: Array<'HS256' | 'RS256' | 'ES256'>;
  issuer: string;
  /** Undefined when tokens carry no `aud`. */
  audience: string | undefined;
  /**
   * The `typ` header every access token carries (the default issuer: `at+jwt`). When
   * set, the guard refuses tokens with another `typ`; the `usefor` check applies either way.
   */
  accessTokenType?: string;
}

export interface PasswordHasher {
  /** Throws `AuthError('password_too_long')` for passwords it would truncate. */
  hash(password: string): Promise<string>;
  /** False for a wrong password, and for any password the algorithm would truncate. */
  verify(password: string, hash: string): Promise<boolean>;
  /** True when the hash was made with other parameters than the current ones. */
  needsRehash(hash: string): boolean;
  /** A valid hash of a random password, verified against when the user is unknown. */
  dummyHash(): Promise<string>;
}

export interface Clock {
  now(): EpochMs;
}

export interface Logger {
  /** Development output such as the log mailer's messages; falls back to `warn` when absent. */
  info?(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
