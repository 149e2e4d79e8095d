import { z } from 'zod';
import { errorStatus } from '../errors.js';

/**
 * Response bodies of the default routes as zod schemas. The OpenAPI document is
 * generated from them, and `response-checks.ts` makes the compiler compare them with
 * what views.ts actually builds, so the document cannot drift from the handlers.
 */

/** Metadata lives in this registry rather than zod's global one, so a host's own schemas never clash with ours. */
export const metadata = z.registry<{ id?: string; description?: string; format?: string }>();

function named<S extends z.ZodType>(id: string, schema: S, description?: string): S {
  metadata.add(schema, description === undefined ? { id } : { id, description });
  return schema;
}

function note<S extends z.ZodType>(schema: S, meta: { description?: string; format?: string }): S {
  metadata.add(schema, meta);
  return schema;
}

/** `schema`, described in the OpenAPI document: for a field of a response declared next to its route. */
export function described<S extends z.ZodType>(schema: S, description: string): S {
  return note(schema, { description });
}

const isoDate = z.iso.datetime({ offset: true });
// Emails in answers are whatever was stored (already validated when written), so no pattern.
const storedEmail = note(z.string(), { format: 'email' });
export const roleName = named('Role', z.enum(['owner', 'admin', 'member']), 'owner > admin > member');

export const user = named(
  'User',
  z.object({
    id: z.string(),
    email: storedEmail,
    username: z.string().nullable(),
    first_name: z.string().nullable(),
    last_name: z.string().nullable(),
    organizationId: z.string().nullable(),
    roles: z.array(roleName),
  }),
  'The user object of the default wire contract',
);

export const tokenPair = named(
  'TokenPair',
  z.object({ access_token: z.string(), refresh_token: z.string() }),
  'A new access token (claims include `exp` and `exi`, its lifetime in seconds) and its rotating refresh token',
);

/** A sign-in through an identity provider: `needsOrg: true` while the user has no organization yet (then POST /setup-org). */
export const externalSignIn = tokenPair.extend({ needsOrg: z.literal(true).optional() });

export const cookieSession = named(
  'CookieSession',
  z.object({ access_token: z.string(), expires_in: note(z.number().int(), { description: 'Lifetime of the access token in seconds' }) }),
  'The answer to a request with `X-Auth-Transport: cookie`: the access token and its lifetime; the refresh token is in an HttpOnly cookie',
);

/** A pair-issuing route's 200 with the `cookies` option on: the pair, or the cookie session. */
export const tokenPairOrCookie = z.union([tokenPair, cookieSession]);

export const externalSignInOrCookie = z.union([externalSignIn, cookieSession.extend({ needsOrg: z.literal(true).optional() })]);

export const org = named(
  'Organization',
  z.object({ id: z.string(), name: z.string(), slug: z.string(), description: z.string().nullable(), createdAt: isoDate }),
);

export const me = named(
  'Me',
  user.extend({
    emailVerified: note(z.boolean(), { description: 'Whether the address was proved (a verification or reset link, a mailed invitation, or an identity provider)' }),
    organization: org.nullable(),
    role: roleName.nullable(),
    via: z.enum(['jwt', 'api_key']),
  }),
  'The caller, the organization its credentials are scoped to and its role there',
);

export const myOrgs = z.object({
  organizations: z.array(
    named(
      'MyOrganization',
      org.extend({
        role: roleName,
        joinedAt: isoDate,
        access: note(z.enum(['allowed', 'mfa_enrollment_required', 'sign_in_method_not_allowed']), {
          description:
            "Whether the organization's policy gives this session a token for it (`allowed`), or what switching to it answers: enroll a second factor first, or sign in with a method it allows",
        }),
      }),
    ),
  ),
});

export const members = z.object({
  members: z.array(
    named(
      'Member',
      z.object({
        userId: z.string(),
        email: storedEmail,
        username: z.string().nullable(),
        first_name: z.string().nullable(),
        last_name: z.string().nullable(),
        role: roleName,
        customRoleId: note(z.string().nullable(), { description: "The org's custom role the member holds (GET /orgs/:orgId/roles); null: none" }),
        joinedAt: isoDate,
      }),
    ),
  ),
});

export const roleChanged = z.object({ userId: z.string(), orgId: z.string(), role: roleName, customRoleId: z.string().nullable().optional() });

export const invitation = named(
  'Invitation',
  z.object({ id: z.string(), role: roleName, email: storedEmail.nullable(), expiresAt: isoDate, createdAt: isoDate, createdBy: z.string() }),
);

export const createdInvitation = invitation.extend({ code: note(z.string(), { description: 'Shown only in this response' }) });

export const invitations = z.object({ invitations: z.array(invitation) });

export const apiKey = named(
  'ApiKey',
  z.object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    role: roleName,
    expiresAt: isoDate.nullable(),
    createdAt: isoDate,
    createdBy: z.string(),
    lastUsedAt: isoDate.nullable(),
    permissions: note(z.array(z.string()).nullable(), { description: "The permissions the key is limited to (within its creator's); null: its role's" }),
  }),
  'An API key as listed: never its secret',
);

export const createdApiKey = apiKey
  .omit({ createdBy: true, lastUsedAt: true, permissions: true })
  .extend({ permissions: z.array(z.string()).optional() })
  .extend({ key: note(z.string(), { description: 'The whole key, shown only in this response; send it as X-API-Key with X-Tenant-Id' }) });

export const apiKeys = z.object({ apiKeys: z.array(apiKey) });

export const mfaStatus = named('MfaStatus', z.object({ totp: z.enum(['off', 'pending', 'on']), recoveryCodesLeft: z.number().int().min(0) }));

export const totpEnrolment = z.object({
  secret: z.string(),
  otpauthUrl: z.string(),
  qrCodeDataUrl: note(z.string(), { description: 'A PNG data URL of the otpauth URL, for an <img>' }),
});

export const recoveryCodes = z.object({ recoveryCodes: note(z.array(z.string()), { description: 'Shown only in this response' }) });

export const realtimeCredentials = named(
  'RealtimeCredentials',
  z.object({
    endpoint: z.string(),
    presignedWssUrl: z.string(),
    expiresAt: isoDate,
    topicPrefix: z.string(),
    envSlug: z.string(),
    topicTemplate: z.string(),
    clientId: z.string(),
    region: z.string(),
    authorizerName: z.string(),
    authToken: note(z.string(), { description: 'MQTT CONNECT username (password empty); reconnect with fresh credentials before expiresAt' }),
  }),
);

export const errorCode = named('ErrorCode', z.enum(Object.keys(errorStatus) as [keyof typeof errorStatus, ...Array<keyof typeof errorStatus>]));

/** RFC 9457 problem document; extra members (for example `mfa_token`) depend on the code. */
export const problem = named(
  'Problem',
  z.looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: errorCode,
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
  'An application/problem+json error with a stable `code`',
);

export const mfaRequired = named(
  'MfaRequired',
  problem.extend({ code: z.literal('mfa_required'), mfa_token: note(z.string(), { description: 'Present it to POST /mfa/verify with a code' }) }),
  'Password accepted; a second factor is needed',
);

/** A sign-in's 403 with the `cookies` option on: a second factor is needed, or `csrf_rejected`. */
export const mfaRequiredOrProblem = z.union([mfaRequired, problem]);

export const auditEntry = named(
  'AuditEntry',
  z.object({
    id: z.string(),
    orgId: z.string().nullable(),
    at: isoDate,
    actor: z.object({ type: z.enum(['user', 'api_key', 'system']), id: z.string().nullable() }),
    action: note(z.string(), { description: 'Stable dotted name, such as `member.role_changed` (docs/audit-log.md lists them)' }),
    target: z.object({ type: z.string(), id: z.string() }).nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    seq: z.number().int().min(1),
    prevHash: z.string(),
    hash: note(z.string(), { description: 'SHA-256 (hex) of the canonical JSON of the entry, with `at` in epoch milliseconds' }),
  }),
  'One entry of an organization’s hash-chained audit log',
);

export const auditPage = z.object({
  entries: z.array(auditEntry),
  next: note(z.string().nullable(), { description: 'Pass as `cursor` for the next (older) page; null on the last one' }),
});

export const auditVerification = named(
  'AuditVerification',
  z.union([
    z.object({ valid: z.literal(true), checked: z.number().int().min(0) }),
    z.object({
      valid: z.literal(false),
      checked: z.number().int().min(0),
      brokenAt: note(z.number().int().min(1), { description: 'Seq of the first entry that does not fit the chain' }),
      entryId: note(z.string().nullable(), { description: 'Its id; null when that entry is missing' }),
    }),
  ]),
);
