import { createAccounts } from './accounts.js';
import type { CoreContext } from './context.js';
import { createInvitations } from './invitations.js';
import { createOrgs } from './orgs.js';
import { createSessions } from './sessions.js';

/** The business rules, free of HTTP. Routes call these; hosts may wrap or replace them. */
export function createServices(ctx: CoreContext) {
  const sessions = createSessions(ctx);
  const invitations = createInvitations(ctx);
  const accounts = createAccounts(ctx, sessions, invitations);
  const orgs = createOrgs(ctx, sessions, accounts);
  return { accounts, sessions, orgs, invitations };
}

export type Services = ReturnType<typeof createServices>;
