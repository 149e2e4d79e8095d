import { createAccounts } from './accounts.js';
import { createApiKeys } from './api-keys.js';
import { createRealtimeCredentials, type RealtimeConfig } from './realtime-credentials.js';
import { createMfa, type MfaConfig } from './mfa.js';
import type { CoreContext } from './context.js';
import { createInvitations } from './invitations.js';
import { createOrgs } from './orgs.js';
import { createSessions } from './sessions.js';

/** The business rules, free of HTTP. Routes call these; hosts may wrap or replace them. */
export function createServices(ctx: CoreContext, config: { mfa: MfaConfig; realtime: RealtimeConfig | null }) {
  const { realtime } = config;
  const sessions = createSessions(ctx);
  const invitations = createInvitations(ctx);
  const mfa = createMfa(ctx, sessions, config.mfa);
  const accounts = createAccounts(ctx, sessions, invitations, mfa);
  const orgs = createOrgs(ctx, sessions, accounts);
  const apiKeys = createApiKeys(ctx);
  return {
    accounts,
    sessions,
    orgs,
    invitations,
    apiKeys,
    mfa,
    /** Null when the `realtime` option is not set. */
    realtime: realtime === null ? null : createRealtimeCredentials(ctx, realtime),
  };
}

export type Services = ReturnType<typeof createServices>;
