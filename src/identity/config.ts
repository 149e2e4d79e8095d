/**
 * Options for signing in through other identity providers (Google, any OIDC issuer
 * such as Auth0), and their validation at startup.
 */

import type { JWTPayload } from 'jose';
import { toSeconds, type Duration } from '../duration.js';

export interface GoogleOptions {
  /** OAuth client id; ID tokens must name it as their audience. */
  clientId: string;
  clientSecret: string;
  /**
   * The redirect URI the client used in the authorization request, exactly as
   * registered with Google (absolute, no query or fragment).
   */
  redirectUri: string;
  /** Further redirect URIs a client may name in the body's `redirectUri` (for example a mobile app's). */
  additionalRedirectUris?: string[];
  /** The issuer, whose `/.well-known/openid-configuration` is read on first use. Default 'https://accounts.google.com'. */
  issuer?: string;
  /**
   * Link a first Google sign-in to the existing account with the same email, when Google
   * vouches for it (`email_verified: true`) and the account's email was verified by
   * gatehouse too (it was made from a verified external identity). A password sign-up's
   * email is unverified, so it is never linked (409 `account_exists`): whoever signed up
   * first with an address must not keep access to the account of its real owner.
   * Default false: such a sign-in is refused with 409 `account_exists`.
   */
  linkVerifiedEmails?: boolean;
  /** Allow an http:// issuer. For tests against a local provider only. */
  allowInsecureRequests?: boolean;
  /** How long a request to the provider (discovery, token endpoint) may take. Default '10s'. */
  timeout?: Duration;
}

/** The account an external token stands for, as `mapUser` describes it. */
export interface ExternalUser {
  email: string;
  /**
   * Whether the issuer vouches for the email. Default false: an account made from a
   * `mapUser` result without `emailVerified: true` gets an unverified email, and nothing
   * is ever linked to or from it by email. Set it only for an address the issuer really
   * verified. (The default mapping uses the token's `email_verified` claim and refuses
   * an unverified email.)
   */
  emailVerified?: boolean;
  /** The sign-up rules apply (1-64 letters, digits, `.`, `_`, `-`); anything else refuses the sign-in (502). */
  username?: string | null;
  firstName?: string | null;
  lastName?: string | null;
}

/** Claims of a verified external token. */
export type ExternalClaims = JWTPayload & { sub: string; iss: string };

export type ExternalAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

const ASYMMETRIC: readonly ExternalAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface ExternalIssuerOptions {
  /** The `iss` of its tokens, compared exactly (Auth0: 'https://<tenant>.auth0.com/', with the slash). */
  issuer: string;
  /** Accepted `aud` value(s): your API's identifier at the issuer. */
  audience: string | string[];
  /** Where its signing keys are. Default `<issuer>/.well-known/jwks.json` (Auth0's layout). */
  jwksUri?: string;
  /** When set, only these subjects (`sub`) may sign in; others get 403 `subject_not_allowed`. */
  allowedSubjects?: string[];
  /**
   * Describes the account to create on a subject's first exchange (later exchanges find
   * it by issuer and subject). Default: the token's `email` claim, which must be verified
   * (`email_verified: true`); access tokens often carry no email, so provide this then.
   * Throw an AuthError to refuse.
   */
  mapUser?: (claims: ExternalClaims) => ExternalUser | Promise<ExternalUser>;
  /** Accepted signing algorithms. Default ['RS256']. Symmetric algorithms are never accepted. */
  algorithms?: ExternalAlgorithm[];
  /**
   * Link a first exchange to an existing account with the same email, when the issuer
   * vouches for it and the account's email was verified here too (never a password
   * sign-up's). Default false: 409 `account_exists`.
   */
  linkVerifiedEmails?: boolean;
  /** Allow http:// issuer and JWKS URLs. For tests only. */
  allowInsecureRequests?: boolean;
}

export interface GoogleConfig {
  clientId: string;
  clientSecret: string;
  /** The first is the default; a client may name any of them. */
  redirectUris: string[];
  issuer: URL;
  linkVerifiedEmails: boolean;
  allowInsecureRequests: boolean;
  timeoutSeconds: number;
  /** HMAC key of the nonces GET /google/nonce hands out (derived from the server key). */
  nonceKey: Buffer;
}

export interface ExternalIssuerConfig {
  issuer: string;
  audience: string[];
  jwksUri: URL;
  allowedSubjects: ReadonlySet<string> | null;
  mapUser: ((claims: ExternalClaims) => ExternalUser | Promise<ExternalUser>) | null;
  algorithms: ExternalAlgorithm[];
  linkVerifiedEmails: boolean;
}

function nonEmptyString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new TypeError(`${option} must be a non-empty string`);
  return value;
}

function url(value: unknown, option: string, allowInsecure: boolean): URL {
  let parsed: URL;
  try {
    parsed = new URL(nonEmptyString(value, option));
  } catch (err) {
    if (err instanceof TypeError && err.message.startsWith(option)) throw err;
    throw new TypeError(`${option} must be an absolute URL (got ${JSON.stringify(value)})`);
  }
  if (parsed.protocol !== 'https:' && !(allowInsecure && parsed.protocol === 'http:')) {
    throw new TypeError(`${option} must be an https:// URL (got ${JSON.stringify(value)}); http:// needs allowInsecureRequests, for tests only`);
  }
  return parsed;
}

function redirectUri(value: unknown, option: string): string {
  let parsed: URL;
  try {
    parsed = new URL(nonEmptyString(value, option));
  } catch (err) {
    if (err instanceof TypeError && err.message.startsWith(option)) throw err;
    throw new TypeError(`${option} must be an absolute URL (got ${JSON.stringify(value)})`);
  }
  if (parsed.search !== '' || parsed.hash !== '') throw new TypeError(`${option} must have no query or fragment (got ${JSON.stringify(value)})`);
  // The token endpoint compares redirect URIs as strings; openid-client sends the normalised form.
  if (parsed.href !== value) throw new TypeError(`${option} must be written in its normalised form ${JSON.stringify(parsed.href)} (got ${JSON.stringify(value)})`);
  return parsed.href;
}

export function resolveGoogle(options: GoogleOptions, nonceKey: Buffer): GoogleConfig {
  if (typeof options !== 'object' || options === null) throw new TypeError('google must be an object: { clientId, clientSecret, redirectUri }');
  const allowInsecureRequests = options.allowInsecureRequests === true;
  const extra = options.additionalRedirectUris ?? [];
  if (!Array.isArray(extra)) throw new TypeError('google.additionalRedirectUris must be an array of URLs');
  return {
    clientId: nonEmptyString(options.clientId, 'google.clientId'),
    clientSecret: nonEmptyString(options.clientSecret, 'google.clientSecret'),
    redirectUris: [
      redirectUri(options.redirectUri, 'google.redirectUri'),
      ...extra.map((uri, i) => redirectUri(uri, `google.additionalRedirectUris[${i}]`)),
    ],
    issuer: url(options.issuer ?? 'https://accounts.google.com', 'google.issuer', allowInsecureRequests),
    linkVerifiedEmails: options.linkVerifiedEmails === true,
    allowInsecureRequests,
    timeoutSeconds: toSeconds(options.timeout ?? '10s', 'google.timeout'),
    nonceKey,
  };
}

export function resolveExternalIssuers(options: ExternalIssuerOptions[]): ExternalIssuerConfig[] {
  if (!Array.isArray(options)) throw new TypeError('externalIssuers must be an array of { issuer, audience }');
  const seen = new Set<string>();
  return options.map((o, i) => {
    const at = `externalIssuers[${i}]`;
    if (typeof o !== 'object' || o === null) throw new TypeError(`${at} must be an object: { issuer, audience }`);
    const insecure = o.allowInsecureRequests === true;
    const issuerUrl = url(o.issuer, `${at}.issuer`, insecure);
    const issuer = o.issuer;
    if (seen.has(issuer)) throw new TypeError(`${at}.issuer ${JSON.stringify(issuer)} is configured twice`);
    seen.add(issuer);
    const audience = Array.isArray(o.audience) ? o.audience : [o.audience];
    if (audience.length === 0) throw new TypeError(`${at}.audience must name at least one audience`);
    audience.forEach((aud, j) => nonEmptyString(aud, `${at}.audience[${j}]`));
    const algorithms = o.algorithms ?? ['RS256'];
    if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((alg) => !ASYMMETRIC.includes(alg))) {
      throw new TypeError(`${at}.algorithms must be a non-empty list of ${ASYMMETRIC.join(', ')}`);
    }
    if (o.allowedSubjects !== undefined && (!Array.isArray(o.allowedSubjects) || o.allowedSubjects.some((s) => typeof s !== 'string'))) {
      throw new TypeError(`${at}.allowedSubjects must be an array of strings`);
    }
    if (o.mapUser !== undefined && typeof o.mapUser !== 'function') throw new TypeError(`${at}.mapUser must be a function`);
    const base = issuerUrl.href.endsWith('/') ? issuerUrl.href : `${issuerUrl.href}/`;
    return {
      issuer,
      audience,
      jwksUri: o.jwksUri === undefined ? new URL('.well-known/jwks.json', base) : url(o.jwksUri, `${at}.jwksUri`, insecure),
      allowedSubjects: o.allowedSubjects === undefined ? null : new Set(o.allowedSubjects),
      mapUser: o.mapUser ?? null,
      algorithms: [...algorithms],
      linkVerifiedEmails: o.linkVerifiedEmails === true,
    };
  });
}
