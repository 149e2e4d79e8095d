/**
 * Wire shapes of the default routes, as plain types so the client stays free of zod
 * and of anything server-side. src/http/response-checks.ts makes the compiler
 * compare them with the server's response schemas.
 */

export type Role = 'owner' | 'admin' | 'member';

export interface User {
  id: string;
  email: string;
  username: string | null;
  first_name: string | null;
  last_name: string | null;
  organizationId: string | null;
  roles: Role[];
}

export interface Organization {
  id: string;
  name: string;
  slug: string;
  description: string | null;
  createdAt: string;
}

export interface Me extends User {
  /** Whether the address was proved (a verification or reset link, a mailed invitation, or an identity provider). */
  emailVerified: boolean;
  organization: Organization | null;
  role: Role | null;
  via: 'jwt' | 'api_key';
}

export interface MyOrganization extends Organization {
  role: Role;
  joinedAt: string;
  /** Whether the org's policy gives this session a token for it, or what switching to it answers (docs/org-policies.md). */
  access: 'allowed' | 'mfa_enrollment_required' | 'sign_in_method_not_allowed';
}

export interface Member {
  userId: string;
  email: string;
  username: string | null;
  first_name: string | null;
  last_name: string | null;
  role: Role;
  /** The org's custom role the member holds; null: none. */
  customRoleId: string | null;
  joinedAt: string;
}

export interface Invitation {
  id: string;
  role: Role;
  email: string | null;
  expiresAt: string;
  createdAt: string;
  createdBy: string;
}

export interface CreatedInvitation extends Invitation {
  /** Shown only once: pass it on to the person invited. */
  code: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  expiresAt: string | null;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  /** The permissions the key is limited to (within its creator's); null: its role's. */
  permissions: string[] | null;
}

export interface CreatedApiKey extends Omit<ApiKey, 'createdBy' | 'lastUsedAt' | 'permissions'> {
  /** Present when the key was limited to a subset of permissions. */
  permissions?: string[];
  /** Shown only once: send it as `X-API-Key` with `X-Tenant-Id`. */
  key: string;
}

export interface MfaStatus {
  totp: 'off' | 'pending' | 'on';
  recoveryCodesLeft: number;
}

export interface TotpEnrolment {
  secret: string;
  otpauthUrl: string;
  /** A PNG data URL, ready for an `<img src>`. */
  qrCodeDataUrl: string;
}

/** The realtime credentials of the AxonPush wire contract. */
export interface RealtimeCredentials {
  endpoint: string;
  presignedWssUrl: string;
  expiresAt: string;
  topicPrefix: string;
  envSlug: string;
  topicTemplate: string;
  clientId: string;
  region: string;
  authorizerName: string;
  authToken: string;
}

export interface TokenPairBody {
  access_token: string;
  refresh_token: string;
}

export type OrgChoice =
  | { action: 'create'; orgCreateProps: { name: string; slug: string; description?: string } }
  | { action: 'join'; invitationCode: string };

export type SignupInput = {
  email: string;
  password: string;
  username?: string;
  first_name?: string;
  last_name?: string;
} & OrgChoice;

export interface CreateInvitationInput {
  email?: string;
  role?: Role;
  expiresInHours?: number;
}

export interface CreateApiKeyInput {
  name: string;
  role?: Role;
  /** ISO 8601 date-time. */
  expiresAt?: string;
  /** Limits the key to these of the creator's permissions (names of the service's vocabulary). */
  permissions?: string[];
}

/** A signed-in session of the user, as GET /sessions lists it. */
export interface Session {
  /** The `sid` claim of the session's tokens. */
  id: string;
  createdAt: string;
  lastUsedAt: string;
  /** Of the latest sign-in, refresh or renewal. */
  userAgent: string | null;
  ip: string | null;
  orgId: string | null;
  appId: string | null;
  /** The session of the token that asked. */
  current: boolean;
}

/** The answer of POST /email/verify. */
export interface VerifiedEmail {
  email: string;
  emailVerified: true;
}

/** The answer of POST /orgs/:orgId/transfer. */
export interface OrgTransfer {
  orgId: string;
  userId: string;
  role: 'owner';
  previousOwner: { userId: string; role: 'admin' };
}

/** What deleting an account or an organization takes: the password, or a TOTP code when TOTP is on. */
export type DeletionProof = { password: string } | { code: string };

/** A registered passkey, as GET /passkeys lists it and POST /passkeys/registration/verify answers. */
export interface Passkey {
  id: string;
  name: string | null;
  /** 'multiDevice': it can be synced to the user's other devices. */
  deviceType: 'singleDevice' | 'multiDevice';
  /** Synced at its last use. */
  backedUp: boolean;
  transports: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

/**
 * WebAuthn options as JSON, as the server answers them: pass them to the browser
 * ceremony, e.g. @simplewebauthn/browser's `startAuthentication({ optionsJSON })` or
 * `startRegistration({ optionsJSON })`.
 */
export interface PasskeyOptions {
  challenge: string;
  [field: string]: unknown;
}

/** One entry of an organization's hash-chained audit log (docs/audit-log.md lists the actions). */
export interface AuditEntry {
  id: string;
  orgId: string | null;
  /** ISO 8601, to the millisecond. */
  at: string;
  actor: { type: 'user' | 'api_key' | 'system'; id: string | null };
  /** A stable dotted name such as `member.role_changed`. */
  action: string;
  target: { type: string; id: string } | null;
  ip: string | null;
  userAgent: string | null;
  data: Record<string, string | number | boolean | null>;
  seq: number;
  prevHash: string;
  hash: string;
}

/** A page of GET /orgs/:orgId/audit, newest first. */
export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `cursor` for the next (older) page; null on the last one. */
  next: string | null;
}

/** Filters and paging of GET /orgs/:orgId/audit. */
export interface AuditQuery {
  /** One action, such as `member.invited`. */
  action?: string;
  /** A user or API key id. */
  actor?: string;
  /** ISO 8601 date-times bounding `at`. */
  since?: string;
  until?: string;
  /** The `next` of the previous page. */
  cursor?: string;
  /** 1-200. */
  limit?: number;
}

/** The answer of GET /orgs/:orgId/audit/verify. */
export type AuditVerification =
  | { valid: true; checked: number }
  | {
      valid: false;
      checked: number;
      /** Seq of the first entry that does not fit the chain. */
      brokenAt: number;
      /** Its id; null when that entry is missing. */
      entryId: string | null;
    };

/** A webhook endpoint of an organization, as listed: never its secret. */
export interface Webhook {
  id: string;
  url: string;
  /** The audit actions sent there; null: every event. */
  events: string[] | null;
  enabled: boolean;
  consecutiveFailures: number;
  /** Why gatehouse disabled it after failures; null otherwise. */
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The answer of registering an endpoint or rotating its secret. */
export interface WebhookWithSecret extends Webhook {
  /** The signing secret (`whsec_…`, Standard Webhooks), shown only in this answer. */
  secret: string;
}

export interface CreateWebhookInput {
  /** https, or http to localhost when the router allows it (development). */
  url: string;
  /** Audit actions to send; left out or null: every event. */
  events?: string[] | null;
}

/** At least one field. Changing `url` needs a recent sign-in. */
export interface UpdateWebhookInput {
  url?: string;
  events?: string[] | null;
  /** true again resets the failure counter. */
  enabled?: boolean;
}

/** One event for one endpoint, with the outcome of its latest attempt. */
export interface WebhookDelivery {
  id: string;
  /** The `webhook-id` header: the audit event id, the same on every attempt. */
  eventId: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** A page of an endpoint's delivery log, newest first. */
export interface WebhookDeliveryPage {
  deliveries: WebhookDelivery[];
  /** Pass as `before` for the next (older) page; null on the last one. */
  next: string | null;
}

/** An organization's security policy (GET /orgs/:orgId/policy). */
export interface OrgPolicy {
  orgId: string;
  requireMfa: boolean;
  /** `password`, `passkey`, `google`, `api_key` or an external issuer's name; null: every method. */
  allowedSignInMethods: string[] | null;
  /** Seconds; null: no limit beyond the router's. */
  maxSessionAge: number | null;
  /** Seconds; null: keys may live as long as the router allows. */
  apiKeyMaxLifetime: number | null;
  updatedAt: string | null;
}

/** Any subset of the policy's fields; null resets one. */
export type OrgPolicyChanges = Partial<Pick<OrgPolicy, 'requireMfa' | 'allowedSignInMethods' | 'maxSessionAge' | 'apiKeyMaxLifetime'>>;

/** The answer of PATCH /orgs/:orgId/policy: the policy, and what enforcing it ended at once. */
export interface UpdatedOrgPolicy extends OrgPolicy {
  enforced: { sessionsEnded: number; apiKeysRevoked: number };
}

/** A role an organization's owners defined from the service's permissions; it sits at member level for gatehouse's own routes. */
export interface CustomRole {
  id: string;
  name: string;
  description: string | null;
  permissions: string[];
  createdAt: string;
  updatedAt: string;
}

/** The answer of GET /orgs/:orgId/roles. */
export interface OrgRoles {
  /** owner, admin and member with the permissions each grants. */
  builtIn: { name: Role; permissions: string[] }[];
  custom: CustomRole[];
  /** Every permission of the service: what a custom role may be made of. */
  permissions: string[];
}

export interface CreateRoleInput {
  /** 1-64 characters, unique in the organization, not a built-in role's name. */
  name: string;
  permissions: string[];
  description?: string | null;
}

/** At least one field; `permissions` replaces the list, a null `description` clears it. */
export interface UpdateRoleInput {
  name?: string;
  permissions?: string[];
  description?: string | null;
}

/** The answer of PATCH /orgs/:orgId/members/:userId. */
export interface RoleChanged {
  userId: string;
  orgId: string;
  role: Role;
  /** Present when the request named one (null: the custom role ended). */
  customRoleId?: string | null;
}
