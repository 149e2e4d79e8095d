import { z } from 'zod';
import type { Services } from '../../core/index.js';
import type { OrgPolicy } from '../../core/org-policies.js';
import { endpoint } from '../endpoint.js';
import * as r from '../responses.js';
import * as s from '../schemas.js';

// Whole seconds, from one minute up to ten years: beyond that a limit means nothing.
const seconds = z
  .number()
  .int('must be whole seconds')
  .min(60, 'must be at least 60 seconds')
  .max(10 * 365 * 24 * 3600, 'must be at most ten years');
const methodName = z.string().min(1, 'is required').max(100);

const changeBody = z
  .strictObject({
    requireMfa: z.boolean().optional(),
    allowedSignInMethods: z
      .array(methodName)
      .min(1, 'list at least one method, or null for every method')
      .max(50)
      .transform((list) => [...new Set(list)])
      .nullable()
      .optional(),
    maxSessionAge: seconds.nullable().optional(),
    apiKeyMaxLifetime: seconds.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'change at least one of requireMfa, allowedSignInMethods, maxSessionAge, apiKeyMaxLifetime' });

export const policy = z.object({
  orgId: z.string(),
  requireMfa: r.described(z.boolean(), 'Members need a second factor (a confirmed TOTP or a passkey) for tokens of this organization'),
  allowedSignInMethods: r.described(z.array(z.string()).nullable(), 'The first factors (and `api_key`) this organization allows; null: every method'),
  maxSessionAge: r.described(z.number().int().nullable(), "Longest life (s) of a session scoped to this organization; null: the router's sessionMaxAge"),
  apiKeyMaxLifetime: r.described(z.number().int().nullable(), "Longest life (s) of this organization's API keys; null: no limit"),
  updatedAt: r.described(z.iso.datetime({ offset: true }).nullable(), 'Null while the organization has the defaults'),
});
r.metadata.add(policy, { id: 'OrgPolicy', description: "An organization's security policy (docs/org-policies.md)" });
export const changed = policy.extend({
  enforced: r.described(
    z.object({ sessionsEnded: z.number().int().min(0), apiKeysRevoked: z.number().int().min(0) }),
    'What the change ended at once: sessions and API keys the new policy no longer allows',
  ),
});

const policyView = (p: OrgPolicy) => ({ ...p, updatedAt: p.updatedAt === null ? null : new Date(p.updatedAt).toISOString() });

/** An organization's security policy (owners). Non-members get 404 for the org, other members 403. */
export function orgPolicyEndpoints(services: Services) {
  const { orgPolicies } = services;
  const problems = { 403: r.problem, 404: r.problem } as const;

  return [
    endpoint({
      method: 'get',
      path: '/orgs/:orgId/policy',
      summary: "The organization's security policy (owners): MFA requirement, allowed sign-in methods, session and API key lifetimes",
      auth: 'jwt',
      responses: { 200: policy, ...problems },
      params: s.orgParams,
      async handler({ auth, params }) {
        return { status: 200, body: policyView(await orgPolicies.get(auth.userId, params.orgId)) };
      },
    }),
    endpoint({
      method: 'patch',
      path: '/orgs/:orgId/policy',
      summary:
        "Change the organization's security policy (owners; needs a recent sign-in): any of the fields, null resets one. Sessions and API keys the new policy no longer allows end at once; a change that would shut you out is refused (409 policy_excludes_you)",
      auth: 'jwt',
      // It can end every session of the organization: a recent sign-in, as for webhooks and keys.
      stepUp: true,
      responses: { 200: changed, ...problems, 409: r.problem },
      params: s.orgParams,
      body: changeBody,
      async handler({ auth, params, body, client }) {
        const { enforced, ...next } = await orgPolicies.update({ userId: auth.userId, sessionId: auth.sessionId }, params.orgId, body, client);
        return { status: 200, body: { ...policyView(next), enforced } };
      },
    }),
  ];
}
