import type { PasswordPolicy } from './password-policy.js';
import type { Clock, Logger, PasswordHasher, StorageAdapter, TokenIssuer } from '../ports.js';
import type { RevocationCache } from './revocation-cache.js';
import type { SecretBox } from './secret-box.js';
import type { Throttle } from './throttle.js';
import type { AuditLog } from './audit.js';
import type { PermissionConfig } from './permissions.js';

/** Lifetimes and limits, resolved from the options (all in seconds). */
export interface CoreConfig {
  accessTtl: number;
  refreshTtl: number;
  /** Absolute lifetime of a refresh family: rotation never extends a session past it. */
  sessionMaxAge: number;
  invitationTtl: number;
  invitationMaxTtl: number;
  /** How long a verified API key is trusted from memory before it is read again. */
  apiKeyCacheTtl: number;
  /** 'scoped': access tokens carry `org`, `role` and `sid`; 'minimal': only the registered claims. */
  claims: 'scoped' | 'minimal';
  /** What `sub` holds: the user id, or the username (for wire contracts that name users that way). */
  subject: 'id' | 'username';
  passwordPolicy: PasswordPolicy | undefined;
  /** HMAC key account API keys are derived with, so they can be shown again without being stored. */
  accountKeySecret: Buffer;
  /** How old (s) the sign-in behind a token may be for routes that need a fresh one (step-up). */
  stepUpMaxAge: number;
  /** Lifetime of an account API key (the key some presets hand out at sign-in). */
  accountKeyTtl: number;
  /** 'off': no verification mail; 'optional': mailed at sign-up; 'required': and sign-in waits for it. */
  emailVerification: 'off' | 'optional' | 'required';
  /** Lifetimes of the tokens sent by mail, by kind. */
  mailTokenTtl: Record<'verify_email' | 'reset_password' | 'change_email', number>;
  /** How long (s) after a refresh token's rotation presenting it again returns the same successor; 0: strict. */
  refreshReuseGrace: number;
  /** Seals the successor pair stored with a consumed refresh token. */
  successorBox: SecretBox;
  /** The host's permission vocabulary and what the built-in roles grant (`permissions`, `rolePermissions`). */
  permissions: PermissionConfig;
}

/** What every core service is given. Nothing in here knows about HTTP. */
export interface CoreContext {
  storage: StorageAdapter;
  tokens: TokenIssuer;
  passwords: PasswordHasher;
  clock: Clock;
  logger: Logger;
  throttle: Throttle;
  revocations: RevocationCache;
  /** The audit log: `ctx.audit.record(tx, …)` inside the action's transaction. */
  audit: AuditLog;
  config: CoreConfig;
}
