import type { JWTVerifyGetKey } from 'jose';
import type * as OpenIdClient from 'openid-client';
import { AuthError } from '../errors.js';
import type { Clock, Logger } from '../ports.js';
import type { GoogleCodeInput, OidcProviderClient, VerifiedClaims } from '../core/identities.js';
import type { GoogleConfig } from './config.js';
import { fromJoseError, fromOidcError, providerUnavailable, refused } from './errors.js';
import { loadIdentityPackages, type IdentityPackages } from './packages.js';

interface Discovered {
  packages: IdentityPackages;
  config: OpenIdClient.Configuration;
  jwks: JWTVerifyGetKey;
  issuers: string[];
  algorithms: string[];
}

// Google's ID tokens may carry the issuer without its scheme.
const GOOGLE_ISSUER = 'https://accounts.google.com';
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$/;
const CLOCK_TOLERANCE_S = 5;

/**
 * An OpenID Connect relying party for Google (or any issuer with discovery): the
 * provider's metadata is fetched on first use and cached (a failure is retried on the
 * next call); codes are exchanged with openid-client and every ID token, exchanged or
 * posted, is validated with jose against the provider's published keys.
 */
export function createGoogleClient(settings: GoogleConfig, clock: Clock, logger: Logger): OidcProviderClient {
  let discovering: Promise<Discovered> | undefined;

  function discover(packages: IdentityPackages): Promise<Discovered> {
    const { oidc, jose } = packages;
    discovering ??= (async () => {
      const config = await oidc.discovery(settings.issuer, settings.clientId, undefined, oidc.ClientSecretPost(settings.clientSecret), {
        timeout: settings.timeoutSeconds,
        ...(settings.allowInsecureRequests ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      const metadata = config.serverMetadata();
      if (!metadata.jwks_uri || !metadata.token_endpoint) throw new oidc.ClientError('the provider publishes no jwks_uri or token_endpoint');
      const issuers = metadata.issuer === GOOGLE_ISSUER ? [GOOGLE_ISSUER, 'accounts.google.com'] : [metadata.issuer];
      const advertised = (metadata.id_token_signing_alg_values_supported ?? ['RS256']).filter((alg) => ASYMMETRIC.test(alg));
      return {
        packages,
        config,
        jwks: jose.createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: settings.timeoutSeconds * 1000 }),
        issuers,
        algorithms: advertised.length > 0 ? advertised : ['RS256'],
      };
    })().catch((err: unknown) => {
      discovering = undefined;
      throw err;
    });
    return discovering;
  }

  async function provider(): Promise<Discovered> {
    // Outside the try: a package that failed to load is a 500 naming it, not an unavailable provider.
    const packages = await loadIdentityPackages('Google sign-in');
    try {
      return await discover(packages);
    } catch (err) {
      // Unreachable, not OpenID metadata, or another issuer: nothing the client can fix.
      logger.warn('gatehouse: OpenID discovery failed', { issuer: settings.issuer.href, error: err instanceof Error ? err.message : String(err) });
      throw providerUnavailable();
    }
  }

  async function verifyIdToken(idToken: string, nonce?: string): Promise<VerifiedClaims> {
    const { packages, jwks, issuers, algorithms } = await provider();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await packages.jose.jwtVerify(idToken, jwks, {
        issuer: issuers,
        audience: settings.clientId,
        algorithms,
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: new Date(clock.now()),
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (err) {
      throw fromJoseError(packages, err, 'invalid_id_token');
    }
    // With several audiences the token must have been issued to us (OIDC Core 3.1.3.7).
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== settings.clientId) throw refused('invalid_id_token', 'audience');
    if ((nonce !== undefined || payload.nonce !== undefined) && payload.nonce !== nonce) throw refused('invalid_id_token', 'nonce');
    if (typeof payload.sub !== 'string' || payload.sub === '') throw refused('invalid_id_token', 'claims');
    return payload as VerifiedClaims;
  }

  async function exchangeCode(input: GoogleCodeInput): Promise<VerifiedClaims> {
    const redirectUri = input.redirectUri ?? settings.redirectUris[0];
    if (redirectUri === undefined || !settings.redirectUris.includes(redirectUri)) {
      throw new AuthError('invalid_request', 'the request body is invalid', { errors: [{ path: 'redirectUri', message: 'is not one of the configured redirect URIs' }] });
    }
    const { packages, config } = await provider();
    // openid-client reads the code (and the `iss` a provider may require) from the
    // callback URL and sends its origin and path as redirect_uri.
    const callback = new URL(redirectUri);
    callback.searchParams.set('code', input.code);
    callback.searchParams.set('iss', config.serverMetadata().issuer);
    let idToken: string | undefined;
    try {
      const tokens = await packages.oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: input.codeVerifier,
        expectedNonce: input.nonce,
        idTokenExpected: true,
      });
      idToken = tokens.id_token;
    } catch (err) {
      throw fromOidcError(packages, err);
    }
    if (idToken === undefined) throw refused('invalid_id_token', 'malformed', 'the provider returned no ID token');
    // openid-client checked the claims; the same validation as a posted ID token adds the signature.
    return verifyIdToken(idToken, input.nonce);
  }

  return { exchangeCode, verifyIdToken };
}
