import type { IdentityProviders } from '../core/identities.js';
import type { Clock, Logger } from '../ports.js';
import type { ExternalIssuerConfig, GoogleConfig } from './config.js';
import { createExternalTokenVerifier } from './external.js';
import { createGoogleClient } from './google.js';
import { createNonceIssuer } from './nonce.js';

/** How long a nonce from GET /google/nonce is accepted: the time a person takes to pick an account at Google. */
const NONCE_TTL_S = 10 * 60;

/** The network side of Google sign-in and external-token exchange, from the resolved options. */
export function createIdentityProviders(
  options: { google: GoogleConfig | null; externalIssuers: ExternalIssuerConfig[] },
  clock: Clock,
  logger: Logger,
): IdentityProviders {
  const { google, externalIssuers } = options;
  return {
    google:
      google === null
        ? null
        : { client: createGoogleClient(google, clock, logger), linkVerifiedEmails: google.linkVerifiedEmails, nonces: createNonceIssuer(google.nonceKey, clock, NONCE_TTL_S) },
    external:
      externalIssuers.length === 0
        ? null
        : {
            verifier: createExternalTokenVerifier(externalIssuers, clock),
            issuers: new Map(externalIssuers.map((i) => [i.issuer, { allowedSubjects: i.allowedSubjects, mapUser: i.mapUser, linkVerifiedEmails: i.linkVerifiedEmails }])),
          },
  };
}
