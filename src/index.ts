/**
 * gatehouse-auth: `createAuthRouter` and everything it takes and returns, the storage
 * port a custom adapter implements, the realtime (MQTT broker) authorizers, presets
 * and the `endpoint` helper for routes of your own.
 *
 * @module gatehouse-auth
 */
export { createAuthRouter, type AuthRouter } from './router.js';
export type { AuthRouterOptions, SigningOptions, TokenOptions, TokenLifetimes } from './options.js';
export type { Duration } from './duration.js';
export { AuthError, errorStatus, isAuthError, StorageConflictError, StorageUnavailableError } from './errors.js';
export type { AuthErrorCode, AuthErrorDetails, FieldError } from './errors.js';
export type * from './ports.js';
export { createJwtTokenIssuer, MIN_SECRET_BYTES } from './tokens/jwt-issuer.js';
export type { JwtIssuerOptions, HmacJwtOptions, KeyPairJwtOptions, AsymmetricAlgorithm } from './tokens/jwt-issuer.js';
export type { TokenCacheOptions } from './tokens/verified-token-cache.js';
export { createBcryptHasher, BCRYPT_MAX_BYTES } from './passwords/bcrypt-hasher.js';
export type { BcryptOptions, BcryptHasher, BcryptImplementationChoice } from './passwords/bcrypt-hasher.js';
export { createArgon2Hasher, ARGON2_DEFAULTS, ARGON2_MAX_BYTES } from './passwords/argon2-hasher.js';
export type { Argon2Options } from './passwords/argon2-hasher.js';
export { createPasswordHasher } from './passwords/password-hasher.js';
export type { PasswordOptions, BcryptPasswordOptions, Argon2PasswordOptions } from './passwords/password-hasher.js';
export type { ManagedPasswordHasher } from './passwords/hasher-core.js';
export type { HashImplementation } from './passwords/bcrypt-engines.js';
export type { ThrottleOptions, ThrottleRule } from './core/throttle.js';
export type { PurgeOptions, PurgeReport } from './core/purge-scheduler.js';
export type { AuditEvent, AuditActor, AuditTarget } from './core/audit-event.js';
export type { AuditLog, AuditOptions, AuditConfig, AuditRecordInput, AuditListFilters, AuditPage, AuditVerification } from './core/audit.js';
// For custom storage adapters: `AuditRepository.append` links entries with these.
export { AUDIT_GENESIS_HASH, auditEntryHash, canonicalAuditJson, type AuditChainLink } from './core/audit-chain.js';
export type { Services } from './core/index.js';
export type { TokenPair, SessionScope, AccessContext } from './core/sessions.js';
export type { OrgPolicy, OrgPolicyChange, PolicyEnforcement } from './core/org-policies.js';
export type { OrgAccess } from './core/orgs.js';
export type { RolePermissionOptions, PermissionConfig, PermissionSubject } from './core/permissions.js';
export type { OrgRoleList, NewOrgRoleInput, OrgRoleChanges } from './core/org-roles.js';
export type { OrgChoice, OrgInput, SignupInput, Account } from './core/accounts.js';
export type { AuthContext } from './http/auth-context.js';
export type { RequireAuthOptions, Credential } from './http/guard.js';
export * from './realtime/index.js';
export type { RealtimeOptions } from './options.js';
export type { RealtimeCredentials, RealtimePrincipal } from './core/realtime-credentials.js';
export type { ApiKeyPrincipal, NewApiKeyInput } from './core/api-keys.js';
export type { MfaStatus, TotpEnrolment, SecondFactor } from './core/mfa.js';
export type { PasskeyOptions, PasskeyConfig } from './core/passkeys.js';
export type { GoogleOptions, ExternalIssuerOptions, ExternalUser, ExternalClaims, ExternalAlgorithm } from './identity/config.js';
export type { IdentitySignIn, ExternalProfile, GoogleSignInInput, GoogleCodeInput, GoogleIdTokenInput } from './core/identities.js';
export type { IssuedNonce } from './identity/nonce.js';
export type { NewInvitationInput, CreatedInvitation } from './core/invitations.js';
export type { AppSelector, AppSignIn, AppSignInResult } from './core/applications.js';
export type { StepUpSession, StepUpProof } from './core/step-up.js';
export type { VerifiedEmail } from './core/email-verification.js';
export type { ListedSession } from './core/session-list.js';
export type { Deleter } from './core/account-deletion.js';
export type { ClientInfo } from './core/client-info.js';
export type { InstanceIdentity } from './core/instance.js';
export type { SignInResult } from './core/accounts.js';
export { presets, managementEndpoints, under, datarhei, DEFAULT_CORE_VERSION } from './presets/index.js';
export type { Preset, PresetContext, PresetName, DatarheiOptions } from './presets/index.js';
export { endpoint } from './http/endpoint.js';
export type { AnyEndpoint, AuthMode, DocumentedParameter, Endpoint, HandlerInput, HttpMethod, Reply } from './http/endpoint.js';
export type { CookieOptions, PairReply, PairTransport } from './http/cookies.js';
export { problemBody, type ErrorBodyWriter } from './http/problem.js';
export type { PasswordPolicy } from './core/password-policy.js';
export { createSmtpMailer, type SmtpMailer, type SmtpTransportOptions } from './mail/smtp-mailer.js';
export { createLogMailer } from './mail/log-mailer.js';
export { escapeHtml, type MailContext, type MailTemplate, type MailTemplates, type MailTemplateOverrides } from './mail/templates.js';
export type { MailKind, MailData, LinkKind } from './mail/kinds.js';
export type { MailOptions } from './mail/options.js';
export type { MailService } from './mail/service.js';
export type { WebhookOptions } from './webhooks/options.js';
export type { WebhookService, WebhookEndpointChange, WebhookEndpointDisabled, WebhookHooks } from './webhooks/service.js';
export type { MailLimitOptions } from './core/throttle.js';
