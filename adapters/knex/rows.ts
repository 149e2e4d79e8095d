import type {
  ApiKeyRecord,
  IdentityRecord,
  InvitationRecord,
  MembershipRecord,
  OrgRecord,
  RefreshTokenRecord,
  RevocationKind,
  RevocationRecord,
  Role,
  UserRecord,
} from '../../src/ports.js';

// Row shapes as the database returns them. bigint columns arrive as numbers from
// SQLite and as strings from PostgreSQL, hence `Big`.
type Big = number | string;

export interface UserRow {
  id: string;
  email: string;
  username: string | null;
  username_key: string | null;
  first_name: string | null;
  last_name: string | null;
  password_hash: string | null;
  created_at: Big;
  email_verified_at: Big | null;
}

export interface OrgRow {
  id: string;
  name: string;
  slug: string;
  description: string | null;
  created_at: Big;
}

export interface MembershipRow {
  user_id: string;
  org_id: string;
  role: string;
  created_at: Big;
  /** Absent from rows selected by column list without it. */
  custom_role_id?: string | null;
}

export interface InvitationRow {
  id: string;
  org_id: string;
  code_hash: string;
  role: string;
  email: string | null;
  expires_at: Big;
  created_by: string;
  created_at: Big;
  used_at: Big | null;
  used_by: string | null;
  revoked_at: Big | null;
  mailed_at: Big | null;
}

export interface RefreshTokenRow {
  id_hash: string;
  family_id: string;
  user_id: string;
  org_id: string | null;
  expires_at: Big;
  family_expires_at: Big;
  created_at: Big;
  used_at: Big | null;
  revoked_at: Big | null;
  app_id: string | null;
  user_agent: string | null;
  ip: string | null;
  last_used_at: Big | null;
  /** Sealed successor pair of a consumed token (migration 014); absent on insert. */
  successor?: string | null;  /** The session's first factor (migration 020). */
  method?: string | null;
}

export interface RevocationRow {
  seq: Big;
  kind: string;
  key: string;
  expires_at: Big;
  created_at: Big;
}

export function toNumber(value: Big): number {
  return typeof value === 'number' ? value : Number(value);
}

function toNullableNumber(value: Big | null): number | null {
  return value === null ? null : toNumber(value);
}

export function usernameKey(username: string | null): string | null {
  return username === null ? null : username.toLowerCase();
}

export function toUserRow(user: UserRecord): UserRow {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    username_key: usernameKey(user.username),
    first_name: user.firstName,
    last_name: user.lastName,
    password_hash: user.passwordHash,
    created_at: user.createdAt,
    email_verified_at: user.emailVerifiedAt,
  };
}

export function fromUserRow(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    firstName: row.first_name,
    lastName: row.last_name,
    passwordHash: row.password_hash,
    createdAt: toNumber(row.created_at),
    emailVerifiedAt: toNullableNumber(row.email_verified_at),
  };
}

export function toOrgRow(org: OrgRecord): OrgRow {
  return { id: org.id, name: org.name, slug: org.slug, description: org.description, created_at: org.createdAt };
}

export function fromOrgRow(row: OrgRow): OrgRecord {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    description: row.description,
    createdAt: toNumber(row.created_at),
  };
}

export function fromMembershipRow(row: MembershipRow): MembershipRecord {
  return {
    userId: row.user_id,
    orgId: row.org_id,
    role: row.role as Role,
    createdAt: toNumber(row.created_at),
    // Only when set, so a membership without one reads back as it was written.
    ...(row.custom_role_id ? { customRoleId: row.custom_role_id } : {}),
  };
}

export function toInvitationRow(invitation: InvitationRecord): InvitationRow {
  return {
    id: invitation.id,
    org_id: invitation.orgId,
    code_hash: invitation.codeHash,
    role: invitation.role,
    email: invitation.email,
    expires_at: invitation.expiresAt,
    created_by: invitation.createdBy,
    created_at: invitation.createdAt,
    used_at: invitation.usedAt,
    used_by: invitation.usedBy,
    revoked_at: invitation.revokedAt,
    mailed_at: invitation.mailedAt,
  };
}

export function fromInvitationRow(row: InvitationRow): InvitationRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    codeHash: row.code_hash,
    role: row.role as Role,
    email: row.email,
    expiresAt: toNumber(row.expires_at),
    createdBy: row.created_by,
    createdAt: toNumber(row.created_at),
    usedAt: toNullableNumber(row.used_at),
    usedBy: row.used_by,
    revokedAt: toNullableNumber(row.revoked_at),
    mailedAt: toNullableNumber(row.mailed_at),
  };
}

export function toRefreshTokenRow(token: RefreshTokenRecord): RefreshTokenRow {
  return {
    id_hash: token.idHash,
    family_id: token.familyId,
    user_id: token.userId,
    org_id: token.orgId,
    expires_at: token.expiresAt,
    family_expires_at: token.familyExpiresAt,
    created_at: token.createdAt,
    used_at: token.usedAt,
    revoked_at: token.revokedAt,
    app_id: token.appId,
    user_agent: token.userAgent,
    ip: token.ip,
    last_used_at: token.lastUsedAt,
    method: token.method ?? null,
  };
}

export function fromRefreshTokenRow(row: RefreshTokenRow): RefreshTokenRecord {
  const record: RefreshTokenRecord = {
    idHash: row.id_hash,
    familyId: row.family_id,
    userId: row.user_id,
    orgId: row.org_id,
    expiresAt: toNumber(row.expires_at),
    familyExpiresAt: toNumber(row.family_expires_at),
    createdAt: toNumber(row.created_at),
    usedAt: toNullableNumber(row.used_at),
    revokedAt: toNullableNumber(row.revoked_at),
    appId: row.app_id ?? null,
    userAgent: row.user_agent ?? null,
    ip: row.ip ?? null,
    lastUsedAt: toNullableNumber(row.last_used_at ?? null),
  };
  // Only when known, as `successor`: records of sessions from before migration 020 look as they did.
  if (row.method != null) record.method = row.method;
  // Only on a consumed row that has one, so records of other tokens read as before it
  // existed. Assigned, not spread: every rotation converts two rows.
  if (row.successor) record.successor = row.successor;
  return record;
}

export function fromRevocationRow(row: RevocationRow): RevocationRecord {
  return {
    kind: row.kind as RevocationKind,
    key: row.key,
    expiresAt: toNumber(row.expires_at),
    createdAt: toNumber(row.created_at),
  };
}

export interface ApiKeyRow {
  id: string;
  org_id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  role: string;
  created_by: string;
  created_at: Big;
  expires_at: Big | null;
  last_used_at: Big | null;
  revoked_at: Big | null;
  /** JSON array, or null: the role's permissions. */
  permissions?: string | null;
}

export function toApiKeyRow(key: ApiKeyRecord): ApiKeyRow {
  return {
    id: key.id,
    org_id: key.orgId,
    name: key.name,
    prefix: key.prefix,
    secret_hash: key.secretHash,
    role: key.role,
    created_by: key.createdBy,
    created_at: key.createdAt,
    expires_at: key.expiresAt,
    last_used_at: key.lastUsedAt,
    revoked_at: key.revokedAt,
    permissions: key.permissions == null ? null : JSON.stringify(key.permissions),
  };
}

export function fromApiKeyRow(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    prefix: row.prefix,
    secretHash: row.secret_hash,
    role: row.role as Role,
    createdBy: row.created_by,
    createdAt: toNumber(row.created_at),
    expiresAt: toNullableNumber(row.expires_at),
    lastUsedAt: toNullableNumber(row.last_used_at),
    revokedAt: toNullableNumber(row.revoked_at),
    // Only when set, so a key without a subset reads back as it was written.
    ...(row.permissions ? { permissions: JSON.parse(row.permissions) as string[] } : {}),
  };
}

export interface IdentityRow {
  provider: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: Big;
}

export function toIdentityRow(identity: IdentityRecord): IdentityRow {
  return {
    provider: identity.provider,
    subject: identity.subject,
    user_id: identity.userId,
    email: identity.email,
    created_at: identity.createdAt,
  };
}

export function fromIdentityRow(row: IdentityRow): IdentityRecord {
  return {
    provider: row.provider,
    subject: row.subject,
    userId: row.user_id,
    email: row.email,
    createdAt: toNumber(row.created_at),
  };
}
