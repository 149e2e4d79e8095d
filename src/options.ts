import { createPrivateKey, type KeyObject } from 'node:crypto';
import { createPasswordHasher, type PasswordOptions } from './passwords/password-hasher.js';
import { createJwtTokenIssuer, type JwtIssuerOptions } from './tokens/jwt-issuer.js';
import { resolveTokenCacheMax, type TokenCacheOptions } from './tokens/verified-token-cache.js';
import { toSeconds, type Duration } from './duration.js';
import type { Clock, Logger, PasswordHasher, StorageAdapter, TokenIssuer } from './ports.js';
import type { ThrottleOptions } from './core/throttle.js';
import type { CoreConfig } from './core/context.js';
import type { Services } from './core/index.js';
import type { RealtimeConfig } from './core/realtime-credentials.js';
import type { MfaConfig } from './core/mfa.js';
import { createSecretBox, deriveKey } from './core/secret-box.js';
import type { MailLimitOptions } from './core/throttle.js';
import { resolveMailOptions, type MailOptions } from './mail/options.js';
import type { MailConfig } from './mail/service.js';
import { validatePasswordPolicy, type PasswordPolicy } from './core/password-policy.js';
import { resolvePreset, type Preset, type PresetName } from './presets/index.js';
import { resolveExternalIssuers, resolveGoogle, type ExternalIssuerConfig, type ExternalIssuerOptions, type GoogleConfig, type GoogleOptions } from './identity/config.js';
import { resolveCookieOptions, type CookieConfig, type CookieOptions } from './http/cookies.js';
import { resolvePasskeys, type PasskeyConfig, type PasskeyOptions } from './core/passkeys.js';
import { resolvePurgeOptions, type PurgeOptions, type PurgeSchedulerOptions } from './core/purge-scheduler.js';
import { resolveWebhookOptions, type WebhookConfig, type WebhookOptions } from './webhooks/options.js';
import { resolveAuditOptions, type AuditConfig, type AuditOptions } from './core/audit.js';
import { resolvePermissionOptions, type RolePermissionOptions } from './core/permissions.js';

export interface RealtimeOptions {
  /** The broker's MQTT-over-WebSocket URL, ws:// or wss:// (for AWS IoT: `wss://<endpoint>/mqtt`). */
  url: string;
  /** Default: 'aws-iot' for an amazonaws.com host, 'broker' otherwise. In 'aws-iot' mode the URL carries `x-amz-customauthorizer-name`. */
  mode?: 'aws-iot' | 'broker';
  /** Default: read from an AWS IoT host name, else 'local'. */
  region?: string;
  /** Name of the custom authorizer. Default 'gatehouse-jwt-authorizer'. */
  authorizerName?: string;
  /** First topic level; topics live under `<namespace>/<orgId>/`. Default 'axonpush'. */
  namespace?: string;
  /** Lifetime of realtime credentials. Default '15m'. */
  ttl?: Duration;
  /** `envSlug` when the request names none. Default 'default'. */
  envSlug?: string;
}

export interface TokenLifetimes {
  /** Access token lifetime. Default '15m'. */
  accessTtl?: Duration;
  /** Lifetime of each refresh token; every rotation starts a new one. Default '14d'. */
  refreshTtl?: Duration;
  /** Absolute lifetime of a sign-in session across all rotations. Default '30d'. */
  sessionMaxAge?: Duration;
}

/** Signing options for the default issuer (jsonwebtoken), plus lifetimes. */
export type TokenOptions = JwtIssuerOptions & TokenLifetimes;

/** Signing by the default issuer (`tokens` with a secret or key pair), or by a TokenIssuer of your own. */
export type SigningOptions =
  | {
      /**
       * How tokens are signed and how long they live: `{ secret }` (HS256, at least 32
       * bytes) or `{ algorithm: 'RS256' | 'ES256', privateKey, kid }`.
       */
      tokens: TokenOptions;
      tokenIssuer?: undefined;
    }
  | {
      /** Lifetimes only: signing is the issuer's. */
      tokens?: TokenLifetimes;
      /** A TokenIssuer of your own, replacing the jsonwebtoken default. */
      tokenIssuer: TokenIssuer;
    };

export type AuthRouterOptions = SigningOptions & {
  /** Where accounts, orgs and sessions live. `createKnexStorage()` from 'gatehouse-auth/adapters/knex' is the default. */
  storage: StorageAdapter;
  /**
   * How passwords are hashed: bcrypt (`{ cost, implementation, threads }`), argon2id
   * (`{ algorithm: 'argon2id', memoryCost, timeCost, parallelism }`), or a PasswordHasher
   * of your own. Default bcrypt at cost 10: `@node-rs/bcrypt` when installed, else
   * bcryptjs on `os.availableParallelism()` worker threads.
   */
  passwords?: PasswordOptions | PasswordHasher;
  /**
   * Failed sign-in and second-factor throttling; `false` turns it off. Default: 5 per
   * (account, IP) and 50 per IP per 15 minutes, 100 per account per hour from all IPs,
   * 5 second-factor proofs per user per 5 minutes; counted in the storage when it offers `rateLimiterFactory()`
   * (PostgreSQL through the knex adapter), in memory otherwise.
   */
  throttle?: ThrottleOptions | false;
  revocation?: {
    /** How often revocations made by other instances are picked up. Default '5s'. */
    pollInterval?: Duration;
    /** Refuse guarded requests (503) when revocations could not be read for this long. Default '60s'. */
    maxStaleness?: Duration;
  };
  /**
   * The scheduled purge of expired revocations, refresh tokens, single-use and mail tokens
   * and throttle counters: `{ interval, batchSize, enabled, onPurge }`. Instances sharing a
   * store take turns through a lease in it, one per interval. Default every '10m'.
   */
  purge?: PurgeOptions;
  /**
   * The audit log (docs/audit-log.md): `{ retention, onAuditEvent }`. Entries older than
   * `retention` (default '365d') are deleted by the scheduled purge; `onAuditEvent` is told
   * of each event after its action committed.
   */
  audit?: AuditOptions;
  /**
   * The wire contract served: 'axonpush' (default; mount at /auth), 'cognito',
   * 'axonize', 'datarhei' (mount these at the root: their paths are absolute), or a Preset object.
   */
  preset?: PresetName | Preset;
  /** Short-lived MQTT-over-WebSocket credentials (`/iot-credentials`). Off unless set. */
  realtime?: RealtimeOptions;
  /** Google sign-in (`POST /google` with an authorization code or an ID token). Off unless set. */
  google?: GoogleOptions;
  /** Issuers (for example Auth0) whose access tokens `POST /signin` exchanges for a session, sent as `Authorization: Bearer` with no body. */
  externalIssuers?: ExternalIssuerOptions[];
  mfa?: {
    /** Name shown in authenticator apps. Default 'gatehouse'. */
    issuer?: string;
    /** Lifetime of the `mfa_token` a sign-in returns when a second factor is needed. Default '5m'. */
    challengeTtl?: Duration;
    /**
     * Key (at least 32 bytes) TOTP secrets are encrypted with at rest. Default: derived
     * from the signing secret or private key; set it to rotate signing keys freely.
     */
    encryptionKey?: string | Buffer;
  };
  /**
   * Access tokens the guard has verified are kept in memory (by their exact string, until
   * they expire), so later requests with the same token skip the signature check; expiry
   * and revocation are still checked on every request. `{ max }` bounds the entries
   * (default 10,000, least recently used out first; the same bound for the realtime
   * tokens `auth.realtimeAuthorizer()` keeps); `{ max: 0 }` turns it off.
   */
  tokenCache?: TokenCacheOptions;
  apiKeys?: {
    /** How long a verified key is served from memory before storage is read again (role changes, removed creators). Default '60s'. */
    cacheTtl?: Duration;
    /** Require `X-Tenant-Id` next to `X-API-Key`. Default true. */
    requireTenantId?: boolean;
    /** Lifetime of the account key a preset hands out at sign-in (cognito's `apiKey`). Default: `tokens.refreshTtl`. */
    accountKeyTtl?: Duration;
  };
  /**
   * Rules for new passwords, over the preset's: composition (`minLength`, `uppercase`,
   * …), the bundled common-password list (`commonPasswords`, default true) and an
   * `isBreached(password)` hook for a breach check such as Have I Been Pwned.
   */
  passwordPolicy?: PasswordPolicy;
  /**
   * Step-up for sensitive changes (TOTP setup/enable, API key creation, making someone
   * owner): the sign-in behind the access token must be at most `maxAge` old, else
   * 403 `reauthentication_required` (POST /reauthenticate renews it). Default '5m'.
   */
  stepUp?: { maxAge?: Duration };
  /**
   * Email verification: 'off' sends no verification mail at sign-up; 'optional' (default)
   * sends one; 'required' also refuses sign-in (403 `email_not_verified`) until the address
   * is verified, and such a refused sign-in with the right password mails a fresh link.
   */
  emailVerification?: 'off' | 'optional' | 'required';
  rotation?: {
    /**
     * How long after a refresh token's rotation presenting it again (a retry, a second
     * tab) gets the same new refresh token (and an access token of the same session)
     * instead of revoking the session as reused. Default '10s';
     * 0 is strict: any second presentation revokes. Keep it to a retry's length: a stolen
     * token replayed within it is taken for a retry (see docs/tokens-and-sessions.md).
     */
    reuseGrace?: Duration | 0;
  };
  /** Lifetimes of the single-use tokens sent by mail. Defaults: verifyEmail '24h', resetPassword '30m', changeEmail '1h'. */
  mailTokens?: { verifyEmailTtl?: Duration; resetPasswordTtl?: Duration; changeEmailTtl?: Duration };
  invitations?: {
    /** Default lifetime of an invitation. Default '7d'. */
    ttl?: Duration;
    /** Longest lifetime a caller may ask for. Default '30d'. */
    maxTtl?: Duration;
  };
  /**
   * Mail (verification, password reset, email change, invitations): the mailer
   * (`createSmtpMailer(url)`; default: the log mailer, for development), sender, product
   * name, link base and URL templates, templates, send limits and the outbox worker.
   */
  mail?: MailOptions;
  /**
   * Refresh tokens in an HttpOnly cookie for browser apps (default preset only): a request
   * with `X-Auth-Transport: cookie` gets the refresh token as a cookie instead of in the
   * body, and /refresh and /logout read it from there. `true` for the defaults, or
   * `{ name, sameSite, allowedOrigins }`. Off unless set.
   */
  cookies?: boolean | CookieOptions;
  /**
   * Passkeys (WebAuthn): `rpID` (the site's domain, never an IP address), `rpName` and the
   * exact `origins` the browser ceremonies come from. Off unless set.
   */
  passkeys?: PasskeyOptions;
  /**
   * Webhooks of organizations (docs/webhooks.md): URL rules (`allowInsecureLoopback`,
   * `blockPrivateAddresses`, both following `NODE_ENV=production` by default), the retry
   * schedule, the failure limit that disables an endpoint, the timeout and the worker.
   */
  webhooks?: WebhookOptions;
  /**
   * The host's permission vocabulary (docs/permissions.md): names such as
   * `'projects:read'`, which `rolePermissions` maps built-in roles to, org owners build
   * custom roles from, and `requireAuth({ permissions })` checks. Default none.
   */
  permissions?: string[];
  /** What the built-in roles grant from `permissions`: `'*'` or a list. Default owner and admin '*', member none. */
  rolePermissions?: RolePermissionOptions;
  /** Replace or wrap core services (business rules) without forking: receives the defaults, returns the ones to use. */
  overrideServices?: (defaults: Services) => Services;
  /** Logs warnings and unexpected errors; never receives passwords or tokens. Default: console. */
  logger?: Logger;
  clock?: Clock;
};

export interface ResolvedOptions {
  storage: StorageAdapter;
  tokens: TokenIssuer;
  passwords: PasswordHasher;
  /** Ends the worker threads of the hasher made from `PasswordOptions`; a hasher passed in is the caller's to close. */
  closePasswords: () => Promise<void>;
  throttle: ThrottleOptions | false;
  pollIntervalMs: number;
  maxStalenessMs: number;
  config: CoreConfig;
  realtime: RealtimeConfig | null;
  google: GoogleConfig | null;
  externalIssuers: ExternalIssuerConfig[];
  mfa: MfaConfig;
  requireTenantId: boolean;
  /** Bound of the guard's cache of verified access tokens; 0: off. */
  tokenCacheMax: number;
  preset: Preset;
  clock: Clock;
  logger: Logger;
  overrideServices: ((defaults: Services) => Services) | undefined;
  mail: MailConfig;
  mailLimits: MailLimitOptions | false;
  /** Null when refresh cookies are off. */
  cookies: CookieConfig | null;
  passkeys: PasskeyConfig | null;
  webhooks: WebhookConfig;
  /** Null when the scheduled purge is off. */
  purge: PurgeSchedulerOptions | null;
  audit: AuditConfig;
}

const consoleLogger: Logger = {
  // eslint-disable-next-line no-console -- the log mailer's output in development: not a warning
  info: (message, fields) => console.info(message, fields ?? ''),
  warn: (message, fields) => console.warn(message, fields ?? ''),
  error: (message, fields) => console.error(message, fields ?? ''),
};

function resolveEmailVerification(value: unknown): CoreConfig['emailVerification'] {
  if (value === undefined) return 'optional';
  if (value === 'off' || value === 'optional' || value === 'required') return value;
  throw new TypeError(`options.emailVerification must be 'off', 'optional' or 'required', not ${JSON.stringify(value)}`);
}

function isHasher(value: unknown): value is PasswordHasher {
  return typeof value === 'object' && value !== null && typeof (value as PasswordHasher).verify === 'function';
}

/** Validates options and fills in defaults. Throws a TypeError that says what to set. */
export function resolveOptions(options: AuthRouterOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('createAuthRouter(options): options are required');
  const { storage } = options;
  if (!storage || typeof storage.transaction !== 'function' || !storage.users) {
    throw new TypeError("options.storage is required: for example createKnexStorage({ filename: 'auth.sqlite' }) from 'gatehouse-auth/adapters/knex'");
  }
  if (!options.tokenIssuer && (!options.tokens || typeof options.tokens !== 'object')) {
    throw new TypeError('options.tokens is required: at least { secret } with 32 or more random bytes');
  }
  const clock = options.clock ?? { now: () => Date.now() };
  const logger = options.logger ?? consoleLogger;
  const mail = resolveMailOptions(options.mail, logger, () => clock.now());
  const ownHasher = isHasher(options.passwords) ? undefined : createPasswordHasher(options.passwords ?? {}, logger);
  const preset = resolvePreset(options.preset);
  const signing = options.tokens as JwtIssuerOptions;
  const tokens =
    options.tokenIssuer ??
    createJwtTokenIssuer({
      ...signing,
      issuer: signing.issuer ?? preset.tokens?.issuer,
      audience: signing.audience !== undefined ? signing.audience : preset.tokens?.audience,
      clock,
    });
  const serverKey = serverKeyMaterial(options);
  const lifetimes: TokenLifetimes = { accessTtl: preset.tokens?.accessTtl, refreshTtl: preset.tokens?.refreshTtl, ...withoutUndefined(options.tokens ?? {}) };

  const accessTtl = toSeconds(lifetimes.accessTtl ?? '15m', 'tokens.accessTtl');
  const refreshTtl = toSeconds(lifetimes.refreshTtl ?? '14d', 'tokens.refreshTtl');
  const sessionMaxAge = toSeconds(lifetimes.sessionMaxAge ?? '30d', 'tokens.sessionMaxAge');
  if (refreshTtl <= accessTtl) throw new TypeError(`tokens.refreshTtl (${refreshTtl} s) must be longer than tokens.accessTtl (${accessTtl} s)`);
  if (sessionMaxAge < refreshTtl) throw new TypeError(`tokens.sessionMaxAge (${sessionMaxAge} s) must be at least tokens.refreshTtl (${refreshTtl} s)`);

  const reuseGrace = options.rotation?.reuseGrace === 0 ? 0 : toSeconds(options.rotation?.reuseGrace ?? '10s', 'rotation.reuseGrace');
  if (reuseGrace >= refreshTtl) throw new TypeError(`rotation.reuseGrace (${reuseGrace} s) must be shorter than tokens.refreshTtl (${refreshTtl} s)`);

  const invitationTtl = toSeconds(options.invitations?.ttl ?? '7d', 'invitations.ttl');
  const invitationMaxTtl = toSeconds(options.invitations?.maxTtl ?? '30d', 'invitations.maxTtl');
  if (invitationTtl > invitationMaxTtl) throw new TypeError('invitations.ttl must not exceed invitations.maxTtl');

  const pollIntervalMs = toSeconds(options.revocation?.pollInterval ?? '5s', 'revocation.pollInterval') * 1000;
  const maxStalenessMs = toSeconds(options.revocation?.maxStaleness ?? '60s', 'revocation.maxStaleness') * 1000;
  if (maxStalenessMs <= pollIntervalMs) throw new TypeError('revocation.maxStaleness must be longer than revocation.pollInterval');

  return {
    storage,
    tokens,
    passwords: ownHasher ?? (options.passwords as PasswordHasher),
    closePasswords: async () => ownHasher?.close(),
    // Counts live in the store when it can hold them, so instances sharing it share the limits.
    throttle: options.throttle === false ? false : { ...options.throttle, createLimiter: options.throttle?.createLimiter ?? storage.rateLimiterFactory?.() },
    pollIntervalMs,
    maxStalenessMs,
    config: {
      accessTtl,
      refreshTtl,
      sessionMaxAge,
      invitationTtl,
      invitationMaxTtl,
      apiKeyCacheTtl: toSeconds(options.apiKeys?.cacheTtl ?? '60s', 'apiKeys.cacheTtl'),
      claims: preset.tokens?.claims ?? 'scoped',
      subject: preset.tokens?.subject ?? 'id',
      passwordPolicy: validatePasswordPolicy(
        options.passwordPolicy === undefined ? preset.passwordPolicy : { ...preset.passwordPolicy, ...options.passwordPolicy },
        'passwordPolicy',
      ),
      accountKeySecret: deriveKey(serverKey, 'account-api-key'),
      stepUpMaxAge: toSeconds(options.stepUp?.maxAge ?? '5m', 'stepUp.maxAge'),
      accountKeyTtl: options.apiKeys?.accountKeyTtl === undefined ? refreshTtl : toSeconds(options.apiKeys.accountKeyTtl, 'apiKeys.accountKeyTtl'),
      emailVerification: resolveEmailVerification(options.emailVerification),
      mailTokenTtl: {
        verify_email: toSeconds(options.mailTokens?.verifyEmailTtl ?? '24h', 'mailTokens.verifyEmailTtl'),
        reset_password: toSeconds(options.mailTokens?.resetPasswordTtl ?? '30m', 'mailTokens.resetPasswordTtl'),
        change_email: toSeconds(options.mailTokens?.changeEmailTtl ?? '1h', 'mailTokens.changeEmailTtl'),
      },
      refreshReuseGrace: reuseGrace,
      successorBox: createSecretBox(serverKey, 'refresh-successor'),
      permissions: resolvePermissionOptions(options.permissions, options.rolePermissions, pollIntervalMs),
    },
    realtime: options.realtime === undefined ? null : resolveRealtime(options.realtime),
    google: options.google === undefined ? null : resolveGoogle(options.google, deriveKey(serverKey, 'google-nonce')),
    externalIssuers: resolveExternalIssuers(options.externalIssuers ?? []),
    mfa: {
      issuer: options.mfa?.issuer ?? 'gatehouse',
      challengeTtl: toSeconds(options.mfa?.challengeTtl ?? '5m', 'mfa.challengeTtl'),
      box: createSecretBox(serverKey, 'totp-secret'),
    },
    requireTenantId: options.apiKeys?.requireTenantId ?? preset.apiKeyNeedsTenant ?? true,
    tokenCacheMax: resolveTokenCacheMax(options.tokenCache, 'tokenCache'),
    preset,
    clock,
    logger,
    overrideServices: options.overrideServices,
    mail: mail.config,
    mailLimits: mail.limits,
    cookies: resolveCookieOptions(options.cookies, preset.name, preset.servesCookies === true),
    passkeys: options.passkeys === undefined ? null : resolvePasskeys(options.passkeys, deriveKey(serverKey, 'passkey-challenge')),
    webhooks: resolveWebhookOptions(options.webhooks, createSecretBox(serverKey, 'webhook-secret')),
    purge: resolvePurgeOptions(options.purge),
    audit: resolveAuditOptions(options.audit),
  };
}

/** Key material for secrets the server derives or encrypts (TOTP seeds, account API keys). */
function serverKeyMaterial(options: AuthRouterOptions): Buffer {
  const explicit = options.mfa?.encryptionKey;
  if (explicit !== undefined) {
    const bytes = Buffer.isBuffer(explicit) ? explicit : Buffer.from(explicit, 'utf8');
    if (bytes.length < 32) throw new TypeError(`mfa.encryptionKey is ${bytes.length} bytes; it must be at least 32 bytes`);
    return bytes;
  }
  const signing = options.tokens as Partial<JwtIssuerOptions & { secret: string | Buffer; privateKey: string | KeyObject }> | undefined;
  if (!options.tokenIssuer && signing?.secret !== undefined) return Buffer.isBuffer(signing.secret) ? signing.secret : Buffer.from(signing.secret, 'utf8');
  if (!options.tokenIssuer && signing?.privateKey !== undefined) {
    const key = typeof signing.privateKey === 'string' ? createPrivateKey(signing.privateKey) : signing.privateKey;
    return key.export({ format: 'der', type: 'pkcs8' });
  }
  throw new TypeError('mfa.encryptionKey is required with a custom tokenIssuer: 32 or more random bytes to encrypt TOTP secrets with');
}

const TOPIC_LEVEL = /^[^/+#$][^/+#]*$/;
const ENV_SLUG = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

function resolveRealtime(options: RealtimeOptions): RealtimeConfig {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new TypeError(`realtime.url must be a ws:// or wss:// URL (got ${JSON.stringify(options.url)})`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new TypeError(`realtime.url must use ws:// or wss:// (got ${url.protocol})`);
  const aws = /\.iot\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname);
  const namespace = options.namespace ?? 'axonpush';
  if (!TOPIC_LEVEL.test(namespace) || namespace.includes('\0')) throw new TypeError('realtime.namespace must be one MQTT topic level: no "/", "+", "#", leading "$" or empty');
  const envSlug = options.envSlug ?? 'default';
  if (!ENV_SLUG.test(envSlug)) throw new TypeError('realtime.envSlug must be 1-64 letters, digits, "_" or "-"');
  return {
    url,
    mode: options.mode ?? (url.hostname.endsWith('.amazonaws.com') ? 'aws-iot' : 'broker'),
    region: options.region ?? aws?.[1] ?? 'local',
    authorizerName: options.authorizerName ?? 'gatehouse-jwt-authorizer',
    namespace,
    ttl: toSeconds(options.ttl ?? '15m', 'realtime.ttl'),
    defaultEnvSlug: envSlug,
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
