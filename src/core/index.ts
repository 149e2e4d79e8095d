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
import { createOrgRoles } from './org-roles.js';
import { createSessions } from './sessions.js';
import { BUILT_IN_SIGN_IN_METHODS, createOrgPolicies, createPolicyRules } from './org-policies.js';
import { createStepUp } from './step-up.js';
import { createSessionList } from './session-list.js';
import { createAccountDeletion } from './account-deletion.js';
import { createMailService, type MailConfig } from '../mail/service.js';
import { createEmailChange } from './email-change.js';
import { createEmailVerification } from './email-verification.js';
import { createMailTokens } from './mail-tokens.js';
import { createPasswordRecovery } from './password-recovery.js';
import { createPasskeys, type PasskeyConfig } from './passkeys.js';
import { createWebhookService, type WebhookHooks } from '../webhooks/service.js';
import type { WebhookConfig } from '../webhooks/options.js';

/** The business rules, free of HTTP. Routes call these; hosts may wrap or replace them. */
export function createServices(
  ctx: CoreContext,
  config: { mfa: MfaConfig; realtime: RealtimeConfig | null; identity?: IdentityProviders; mail: MailConfig; onMailQueued?: () => void; passkeys?: PasskeyConfig | null; webhooks: WebhookConfig; webhookHooks?: WebhookHooks },
) {
  const { realtime } = config;
  // First: the services that send mail take it as a dependency.
  const mail = createMailService(ctx, config.mail, { onQueued: config.onMailQueued });
  // One policy cache for every issuance point.
  const policyRules = createPolicyRules(ctx);
  const sessions = createSessions(ctx, policyRules);
  const invitations = createInvitations(ctx, mail);
  const apiKeys = createApiKeys(ctx, policyRules);
  const mfa = createMfa(ctx, sessions, config.mfa, apiKeys);
  const mailTokens = createMailTokens(ctx, mail);
  const emailVerification = createEmailVerification(ctx, mailTokens, mail);
  const accounts = createAccounts(ctx, sessions, invitations, mfa, emailVerification);
  const orgRoles = createOrgRoles(ctx, ctx.config.permissions);
  const orgs = createOrgs(ctx, sessions, accounts, apiKeys, orgRoles);
  const stepUp = createStepUp(ctx, { accounts, mfa, sessions });
  return {
    /** Mail: links, the outbox (`queue` in a transaction), send limits, one delivery pass. */
    mail,
    accounts,
    sessions,
    orgs,
    /** Custom roles of organizations and the permissions members and keys hold (`requireAuth({ permissions })`). */
    orgRoles,
    invitations,
    apiKeys,
    /** Security policies of organizations (`GET/PATCH /orgs/:orgId/policy`): reading, changing, and ending what a change no longer allows. */
    orgPolicies: createOrgPolicies(ctx, {
      rules: policyRules,
      sessions,
      apiKeys,
      // The method names a policy may list: the built-in ones and each configured external issuer's.
      methods: () => [...BUILT_IN_SIGN_IN_METHODS, ...(config.identity?.external?.issuers.keys() ?? [])],
    }),
    mfa,
    /** Verification mails and the use of mailed tokens (verification, completing an email change). */
    emailVerification,
    /** Asking to move the account to a new email address (proved by a mailed token). */
    emailChange: createEmailChange(ctx, { accounts, mailTokens, mail }),
    /** Forgotten passwords (mailed reset links) and password changes. */
    passwordRecovery: createPasswordRecovery(ctx, { accounts, sessions, apiKeys, mailTokens, mail }),
    /** Freshness of the sign-in behind a token, for sensitive changes, and renewing it. */
    stepUp,
    /** The signed-in user's sessions: listing them, ending one or all others. */
    sessionList: createSessionList(ctx, sessions),
    /** Deleting an account or an organization with everything that exists for it. */
    accountDeletion: createAccountDeletion(ctx, { stepUp, mfa }),
    /** Applications users sign in to one at a time (the axonize preset). */
    applications: createApplications(ctx, sessions, accounts, mfa),
    /** Google sign-in and external-token exchange (their methods refuse when not configured). */
    identities: createIdentities(ctx, accounts, config.identity),
    /** The installation's stable id, first start and this process's uptime. */
    instance: createInstance(ctx),
    /** Null when the `realtime` option is not set. */
    realtime: realtime === null ? null : createRealtimeCredentials(ctx, realtime),
    /** The audit log: recording (inside an action's transaction), listing, export and chain verification. */
    audit: ctx.audit,
    /** Webhooks of organizations: endpoints, `enqueue` (inside an action's transaction) and one delivery pass. */
    webhooks: createWebhookService(ctx, config.webhooks, config.webhookHooks),
    /** Passkeys (WebAuthn); null when the `passkeys` option is not set. */
    passkeys: config.passkeys ? createPasskeys(ctx, { accounts, sessions }, config.passkeys) : null,
  };
}

// An interface rather than a type alias so that TypeDoc documents its members once and
// `router.services` links here instead of repeating the whole resolved type.
/** The services `createAuthRouter` builds, as `router.services` and to `overrideServices`. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Services extends ReturnType<typeof createServices> {}
