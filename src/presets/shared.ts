import type { AnyEndpoint } from '../http/endpoint.js';
import { accountEndpoints } from '../http/routes/accounts.js';
import { apiKeyEndpoints } from '../http/routes/api-keys.js';
import { identityEndpoints } from '../http/routes/identity.js';
import { mfaEndpoints } from '../http/routes/mfa.js';
import { orgEndpoints } from '../http/routes/orgs.js';
import { realtimeEndpoints } from '../http/routes/realtime.js';
import { stepUpEndpoints } from '../http/routes/step-up.js';
import { sessionEndpoints } from '../http/routes/sessions.js';
import { accountDeletionEndpoints } from '../http/routes/account-deletion.js';
import { accountEmailEndpoints } from '../http/routes/account-email.js';
import { passkeyEndpoints } from '../http/routes/passkeys.js';
import { webhookEndpoints } from '../http/routes/webhooks.js';
import { auditEndpoints } from '../http/routes/audit.js';
import { orgPolicyEndpoints } from '../http/routes/org-policy.js';
import { roleEndpoints } from '../http/routes/roles.js';
import type { PresetContext } from './types.js';

/**
 * The routes every preset shares: the signed-in user, org management, invitations,
 * API keys, MFA, step-up (/reauthenticate), email verification and change, password reset
 * and change, the session list, account deletion, and (when configured)
 * Google sign-in and realtime credentials.
 * Presets that rename sign-up and sign-in serve these under a prefix of their own.
 */
export function managementEndpoints({ services, features, cookies }: PresetContext): AnyEndpoint[] {
  const own = new Set(['/me', '/setup-org', '/switch-org']);
  return [
    ...accountEndpoints(services, cookies).filter((ep) => own.has(ep.path)),
    ...orgEndpoints(services),
    ...roleEndpoints(services),
    ...apiKeyEndpoints(services),
    ...webhookEndpoints(services),
    ...auditEndpoints(services),
    ...orgPolicyEndpoints(services),
    ...mfaEndpoints(services, cookies),
    ...stepUpEndpoints(services),
    ...accountEmailEndpoints(services),
    ...sessionEndpoints(services),
    ...accountDeletionEndpoints(services),
    ...(features.google ? identityEndpoints(services, cookies) : []),
    ...(features.realtime && services.realtime ? realtimeEndpoints(services.realtime) : []),
    ...(features.passkeys && services.passkeys ? passkeyEndpoints(services.passkeys, cookies) : []),
  ] as AnyEndpoint[];
}

/** The same endpoints under another path prefix. */
export function under(prefix: string, endpoints: AnyEndpoint[]): AnyEndpoint[] {
  return endpoints.map((ep) => ({ ...ep, path: `${prefix}${ep.path}` }));
}
