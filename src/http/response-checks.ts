import type { z } from 'zod';
import type * as client from '../client/types.js';
import type { RealtimeCredentials } from '../core/realtime-credentials.js';
import type { MfaStatus, TotpEnrolment } from '../core/mfa.js';
import type * as r from './responses.js';
import type { verified } from './routes/account-email.js';
import type { changed as updatedPolicy, policy } from './routes/org-policy.js';
import type { transferred } from './routes/orgs.js';
import type { customRole, roleList } from './routes/roles.js';
import type { sessionSchema } from './routes/sessions.js';
import type { delivery, webhook, withSecret } from './routes/webhooks.js';
import type { apiKeyView, cookieSessionView, invitationView, memberView, myOrgView, orgView, pairView, userView } from './views.js';

/**
 * Compile-time only: each documented response schema must describe exactly what the
 * views build, and the client's plain types must match the schemas. Changing one
 * side without the other fails `tsc`, so the OpenAPI document and gatehouse-auth/client
 * cannot drift from the handlers.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;
type Out<S extends z.ZodType> = z.output<S>;

export type ResponseChecks = [
  Expect<Same<ReturnType<typeof userView>, Out<typeof r.user>>>,
  Expect<Same<ReturnType<typeof pairView>, Out<typeof r.tokenPair>>>,
  Expect<Same<ReturnType<typeof cookieSessionView>, Out<typeof r.cookieSession>>>,
  Expect<Same<ReturnType<typeof orgView>, Out<typeof r.org>>>,
  Expect<Same<ReturnType<typeof myOrgView>, Out<typeof r.myOrgs>['organizations'][number]>>,
  Expect<Same<ReturnType<typeof memberView>, Out<typeof r.members>['members'][number]>>,
  Expect<Same<ReturnType<typeof invitationView>, Out<typeof r.invitation>>>,
  Expect<Same<ReturnType<typeof apiKeyView>, Out<typeof r.apiKey>>>,
  Expect<Same<MfaStatus, Out<typeof r.mfaStatus>>>,
  Expect<Same<TotpEnrolment, Out<typeof r.totpEnrolment>>>,
  Expect<Same<RealtimeCredentials, Out<typeof r.realtimeCredentials>>>,
  // gatehouse-auth/client's own copies of the shapes.
  Expect<Same<client.User, Out<typeof r.user>>>,
  Expect<Same<client.Me, Out<typeof r.me>>>,
  Expect<Same<client.TokenPairBody, Out<typeof r.tokenPair>>>,
  Expect<Same<client.MyOrganization, Out<typeof r.myOrgs>['organizations'][number]>>,
  Expect<Same<client.Member, Out<typeof r.members>['members'][number]>>,
  Expect<Same<client.CreatedInvitation, Out<typeof r.createdInvitation>>>,
  Expect<Same<client.ApiKey, Out<typeof r.apiKey>>>,
  Expect<Same<client.CreatedApiKey, Out<typeof r.createdApiKey>>>,
  Expect<Same<client.MfaStatus, Out<typeof r.mfaStatus>>>,
  Expect<Same<client.TotpEnrolment, Out<typeof r.totpEnrolment>>>,
  Expect<Same<client.RealtimeCredentials, Out<typeof r.realtimeCredentials>>>,
  Expect<Same<client.Session, Out<typeof sessionSchema>>>,
  Expect<Same<client.VerifiedEmail, Out<typeof verified>>>,
  Expect<Same<client.OrgTransfer, Out<typeof transferred>>>,
  Expect<Same<client.AuditEntry, Out<typeof r.auditEntry>>>,
  Expect<Same<client.AuditPage, Out<typeof r.auditPage>>>,
  Expect<Same<client.AuditVerification, Out<typeof r.auditVerification>>>,
  Expect<Same<client.Webhook, Out<typeof webhook>>>,
  Expect<Same<client.WebhookWithSecret, Out<typeof withSecret>>>,
  Expect<Same<client.WebhookDelivery, Out<typeof delivery>>>,
  Expect<Same<client.OrgPolicy, Out<typeof policy>>>,
  Expect<Same<client.UpdatedOrgPolicy, Out<typeof updatedPolicy>>>,
  Expect<Same<client.CustomRole, Out<typeof customRole>>>,
  Expect<Same<client.OrgRoles, Out<typeof roleList>>>,
  Expect<Same<client.RoleChanged, Out<typeof r.roleChanged>>>,
];
