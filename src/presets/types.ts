import type { Services } from '../core/index.js';
import type { PasswordPolicy } from '../core/password-policy.js';
import type { Duration } from '../duration.js';
import type { PairTransport } from '../http/cookies.js';
import type { AnyEndpoint } from '../http/endpoint.js';
import type { ErrorBodyWriter } from '../http/problem.js';

/** What a preset's endpoints are built from. */
export interface PresetContext {
  services: Services;
  /** Whether optional features are configured, so a preset mounts only what works. */
  features: { google: boolean; realtime: boolean; externalIssuers: boolean; passkeys: boolean };
  /** How routes answer with a pair: in the body, or with the refresh token in a cookie (the `cookies` option, for presets with `servesCookies`). */
  cookies?: PairTransport;
}

/**
 * A wire contract: the paths, field names, response bodies, error bodies and token
 * settings one client ecosystem expects, over the same core rules. Pass one of the
 * built-in names, or an object of this type, as the `preset` option.
 */
export interface Preset {
  name: string;
  /** Token defaults this contract implies; explicit `tokens` options still win. */
  tokens?: {
    accessTtl?: Duration;
    refreshTtl?: Duration;
    /** `iss` of every token. Default 'gatehouse'. */
    issuer?: string;
    /** `aud` of every token, or null for none. Default 'gatehouse'. */
    audience?: string | null;
    /** 'scoped' (default): access tokens carry org, role and sid; 'minimal': only the registered claims. */
    claims?: 'scoped' | 'minimal';
    /** What `sub` holds. Default 'id'. */
    subject?: 'id' | 'username';
  };
  /** Composition rules for new passwords. */
  passwordPolicy?: PasswordPolicy;
  /** Whether `X-API-Key` needs `X-Tenant-Id` next to it. Default true. */
  apiKeyNeedsTenant?: boolean;
  /** How errors are written. Default RFC 9457 problem+json. */
  errorBody?: ErrorBodyWriter;
  /**
   * Answer `404 not_found` for any other path under the mount point. Only for presets
   * mounted under a prefix of their own (the default one, at /auth); a preset mounted
   * at the root must leave unknown paths to the host app.
   */
  ownsMountPath?: boolean;
  /**
   * Its refresh and logout routes read the refresh cookie (`ctx.cookies`), so the `cookies`
   * option may be set. Without it, `cookies` is refused at startup.
   */
  servesCookies?: boolean;
  /** The routes this contract serves, relative to where the router is mounted. */
  endpoints(ctx: PresetContext): AnyEndpoint[];
}
