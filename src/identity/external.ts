import type { JWTVerifyGetKey, ProtectedHeaderParameters } from 'jose';
import type { Clock } from '../ports.js';
import type { ExternalTokenVerifier } from '../core/identities.js';
import type { ExternalClaims, ExternalIssuerConfig } from './config.js';
import { fromJoseError, refused } from './errors.js';
import { loadIdentityPackages } from './packages.js';

const CLOCK_TOLERANCE_S = 5;

/**
 * Verifies access tokens of the configured issuers with jose. The issuer is read from
 * the unverified token only to pick one of the configured issuers: a token naming any
 * other is refused before any request, so no URL taken from a token is ever fetched.
 * Each issuer's key set is fetched on first use and cached by jose (refetched at most
 * every 30 s when a token names an unknown key).
 */
export function createExternalTokenVerifier(issuers: ExternalIssuerConfig[], clock: Clock): ExternalTokenVerifier {
  // Built with the packages, on the first token.
  let byIssuer: Map<string, { config: ExternalIssuerConfig; jwks: JWTVerifyGetKey }> | undefined;

  async function verify(token: string): Promise<ExternalClaims> {
    const packages = await loadIdentityPackages('external token exchange');
    const { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } = packages.jose;
    byIssuer ??= new Map(issuers.map((config) => [config.issuer, { config, jwks: createRemoteJWKSet(config.jwksUri, { timeoutDuration: 5000 }) }]));
    let unverifiedIssuer: unknown;
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
      unverifiedIssuer = decodeJwt(token).iss;
    } catch {
      throw refused('invalid_external_token', 'malformed');
    }
    const entry = typeof unverifiedIssuer === 'string' ? byIssuer.get(unverifiedIssuer) : undefined;
    if (!entry) throw refused('invalid_external_token', 'unknown_issuer');
    const { config, jwks } = entry;
    // Checked before the key set is fetched: `none`, HS256 and the like never cost a request.
    if (typeof header.alg !== 'string' || !(config.algorithms as string[]).includes(header.alg)) throw refused('invalid_external_token', 'algorithm');
    if (typeof header.kid !== 'string' || header.kid === '') throw refused('invalid_external_token', 'unknown_kid', 'the token names no signing key (kid)');

    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms,
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(clock.now()),
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (err) {
      throw fromJoseError(packages, err, 'invalid_external_token');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw refused('invalid_external_token', 'claims', 'the token has no subject');
    return payload as ExternalClaims;
  }

  return { verify };
}
