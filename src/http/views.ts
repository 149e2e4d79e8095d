import type { ApiKeyRecord, InvitationRecord, MembershipWithOrg, MembershipWithUser, OrgRecord, Role, UserRecord } from '../ports.js';
import type { TokenPair } from '../core/sessions.js';
import type { OrgAccess } from '../core/orgs.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** The user object of the default wire contract. */
export function userView(user: UserRecord, orgId: string | null, role: Role | null) {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    first_name: user.firstName,
    last_name: user.lastName,
    organizationId: orgId,
    roles: role === null ? [] : [role],
  };
}

export function orgView(org: OrgRecord) {
  return { id: org.id, name: org.name, slug: org.slug, description: org.description, createdAt: iso(org.createdAt) };
}

export function myOrgView(m: MembershipWithOrg & { access: OrgAccess }) {
  return { ...orgView(m.org), role: m.role, joinedAt: iso(m.createdAt), access: m.access };
}

export function memberView(m: MembershipWithUser) {
  return {
    userId: m.userId,
    email: m.user.email,
    username: m.user.username,
    first_name: m.user.firstName,
    last_name: m.user.lastName,
    role: m.role,
    customRoleId: m.customRoleId ?? null,
    joinedAt: iso(m.createdAt),
  };
}

export function invitationView(inv: InvitationRecord) {
  return { id: inv.id, role: inv.role, email: inv.email, expiresAt: iso(inv.expiresAt), createdAt: iso(inv.createdAt), createdBy: inv.createdBy };
}

export function pairView(pair: TokenPair) {
  return { access_token: pair.accessToken, refresh_token: pair.refreshToken };
}

/** A pair answered with the refresh token in a cookie: the access token and its lifetime in seconds. */
export function cookieSessionView(pair: TokenPair) {
  return { access_token: pair.accessToken, expires_in: pair.access.exp - pair.access.iat };
}

/** An API key as listed: never its secret. */
export function apiKeyView(key: ApiKeyRecord) {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    role: key.role,
    expiresAt: key.expiresAt === null ? null : iso(key.expiresAt),
    createdAt: iso(key.createdAt),
    createdBy: key.createdBy,
    lastUsedAt: key.lastUsedAt === null ? null : iso(key.lastUsedAt),
    permissions: key.permissions ?? null,
  };
}
