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
}

export interface Member {
  userId: string;
  email: string;
  username: string | null;
  first_name: string | null;
  last_name: string | null;
  role: Role;
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
}

export interface CreatedApiKey extends Omit<ApiKey, 'createdBy' | 'lastUsedAt'> {
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
