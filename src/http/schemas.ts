import { z } from 'zod';
import { ROLES } from '../core/roles.js';
import { USERNAME_MAX, USERNAME_PATTERN } from '../core/usernames.js';

/** Trimmed and lowercased before it is checked or stored. */
export const email = z.string().trim().toLowerCase().max(254).email('must be an email address');

/** Length limits only; the hasher decides what it can take (bcrypt: 72 bytes) and answers 400 beyond it. */
export const newPassword = z.string().min(8, 'must be at least 8 characters').max(1024);

/** Any string up to a sane size: a wrong password must fail as credentials, not as a field rule. */
export const anyPassword = z.string().min(1, 'is required').max(1024);

export const role = z.enum(ROLES as [string, ...string[]]).transform((r) => r as (typeof ROLES)[number]);

export const slug = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'must be 1-64 lowercase letters, digits or inner hyphens');

export const orgCreateProps = z.strictObject({
  name: z.string().trim().min(1, 'is required').max(200),
  slug,
  description: z.string().trim().max(1000).optional(),
});

export const invitationCode = z.string().trim().min(1, 'is required').max(200);

const name = z.string().trim().max(100);

/** `action: create` with `orgCreateProps`, or `action: join` with `invitationCode`. */
export function withOrgChoice<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.discriminatedUnion('action', [
    z.strictObject({ ...shape, action: z.literal('create'), orgCreateProps }),
    z.strictObject({ ...shape, action: z.literal('join'), invitationCode }),
  ]);
}

export const signupBody = withOrgChoice({
  email,
  password: newPassword,
  // The same rule as for usernames from identity providers (core/usernames.ts).
  username: z.string().trim().min(1).max(USERNAME_MAX).regex(USERNAME_PATTERN, 'may hold letters, digits, dot, underscore and hyphen').optional(),
  first_name: name.optional(),
  last_name: name.optional(),
});

export const setupOrgBody = withOrgChoice({});

/**
 * Email and password, both or neither: an empty body (or none) asks to exchange the
 * `Authorization: Bearer` token of an external issuer, which the handler checks.
 */
export const signinBody = z
  .strictObject({ email: email.optional(), password: anyPassword.optional() })
  .superRefine((body, ctx) => {
    if (body.email === undefined && body.password !== undefined) ctx.addIssue({ code: 'custom', path: ['email'], message: 'is required' });
    if (body.password === undefined && body.email !== undefined) ctx.addIssue({ code: 'custom', path: ['password'], message: 'is required' });
  });

export const refreshBody = z.strictObject({ refresh_token: z.string().min(1, 'is required').max(8192) });

export const logoutBody = z.strictObject({ refresh_token: z.string().min(1).max(8192).optional() });

export const id = z.string().min(1).max(128);

export const switchOrgBody = z.strictObject({ orgId: id });

export const orgParams = z.strictObject({ orgId: id });

export const memberParams = z.strictObject({ orgId: id, userId: id });

export const invitationParams = z.strictObject({ orgId: id, invitationId: id });

/** A permission name as the host's vocabulary has them (checked against it by the service). */
export const permissionName = z.string().min(1).max(128);
export const permissionList = z.array(permissionName).max(1000);

/** `customRoleId` (with role `member`) gives the member one of the org's custom roles; null or absent: none. */
export const changeRoleBody = z.strictObject({ role, customRoleId: id.nullable().optional() });

export const createInvitationBody = z.strictObject({
  email: email.optional(),
  role: role.optional(),
  expiresInHours: z.number().positive().max(24 * 365).optional(),
  /** With `email`: false to hand the code over yourself instead of having it mailed. Default true. */
  sendEmail: z.boolean().optional(),
});

export const createApiKeyBody = z.strictObject({
  name: z.string().trim().min(1, 'is required').max(100),
  role: role.optional(),
  expiresAt: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }).transform((v) => Date.parse(v)).optional(),
  /** Limits the key to these of the creator's permissions. */
  permissions: permissionList.optional(),
});

export const apiKeyParams = z.strictObject({ id });

/** Becomes one topic level, so it must not hold '/', '+', '#' or start with '$'. */
export const realtimeQuery = z.object({
  envSlug: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, "_" or "-"')
    .optional(),
});

export const totpCode = z.string().trim().regex(/^\d{6}$/, 'must be the 6-digit code from the authenticator app');

export const recoveryCode = z.string().trim().min(10, 'must be a recovery code').max(32);

export const enableTotpBody = z.strictObject({ code: totpCode });

/** Exactly one of the listed fields must be present. */
function exactlyOne<T extends Record<string, unknown>>(fields: Array<keyof T & string>) {
  return (body: T, ctx: z.RefinementCtx) => {
    if (fields.filter((f) => body[f] !== undefined).length !== 1) {
      ctx.addIssue({ code: 'custom', path: [fields[0] as string], message: `send exactly one of ${fields.join(', ')}` });
    }
  };
}

export const disableTotpBody = z
  .strictObject({ code: totpCode.optional(), recoveryCode: recoveryCode.optional(), password: anyPassword.optional() })
  .superRefine(exactlyOne(['code', 'recoveryCode', 'password']));

export const verifyMfaBody = z
  .strictObject({ mfa_token: z.string().min(1, 'is required').max(8192), code: totpCode.optional(), recoveryCode: recoveryCode.optional() })
  .superRefine(exactlyOne(['code', 'recoveryCode']));
