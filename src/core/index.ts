import { createAccounts } from './accounts.js';
import { createApiKeys } from './api-keys.js';
import { createApplications } from './applications.js';
import { createRealtimeCredentials, type RealtimeConfig } from './realtime-credentials.js';
import { createMfa, type MfaConfig } from './mfa.js';
import type { CoreContext } from './context.js';
import { createIdentities, type IdentityProviders } from './identities.js';
import { createInstance } from './instance.js';
import { createInvitations } from './invitations.js';
import { createOrgs } from './orgs.js';
import { createSessions } from './sessions.js';
import { createStepUp } from './step-up.js';

/** The business rules, free of HTTP. Routes call these; hosts may wrap or replace them. */
export function createServices(ctx: CoreContext, config: { mfa: MfaConfig; realtime: RealtimeConfig | null; identity?: IdentityProviders }) {
  const { realtime } = config;
  const sessions = createSessions(ctx);
  const invitations = createInvitations(ctx);
  const apiKeys = createApiKeys(ctx);
  const mfa = createMfa(ctx, sessions, config.mfa, apiKeys);
  const accounts = createAccounts(ctx, sessions, invitations, mfa);
  const orgs = createOrgs(ctx, sessions, accounts, apiKeys);
  return {
    accounts,
    sessions,
    orgs,
    invitations,
    apiKeys,
    mfa,
    /** Freshness of the sign-in behind a token, for sensitive changes, and renewing it. */
    stepUp: createStepUp(ctx, { accounts, mfa, sessions }),
    /** Applications users sign in to one at a time (the axonize preset). */
    applications: createApplications(ctx, sessions, accounts, mfa),
    /** Google sign-in and external-token exchange (their methods refuse when not configured). */
    identities: createIdentities(ctx, accounts, config.identity),
    /** The installation's stable id, first start and this process's uptime. */
    instance: createInstance(ctx),
    /** Null when the `realtime` option is not set. */
    realtime: realtime === null ? null : createRealtimeCredentials(ctx, realtime),
  };
}

// An interface rather than a type alias so that TypeDoc documents its members once and
// `router.services` links here instead of repeating the whole resolved type.
/** The services `createAuthRouter` builds, as `router.services` and to `overrideServices`. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Services extends ReturnType<typeof createServices> {}
