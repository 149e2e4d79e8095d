import type { ClientInfo } from './client-info.js';
import { randomUUID } from 'node:crypto';
import { AuthError, StorageConflictError } from '../errors.js';
import type { IdentityRecord, UserRecord } from '../ports.js';
import type { ExternalClaims, ExternalUser } from '../identity/config.js';
import type { IssuedNonce, NonceIssuer } from '../identity/nonce.js';
import type { Accounts, SignInResult } from './accounts.js';
import type { CoreContext } from './context.js';
import { mapConflicts } from './conflicts.js';
import { sha256Hex } from './secrets.js';
import { isValidUsername, USERNAME_RULE } from './usernames.js';

/** Claims of an ID token or access token whose signature, issuer, audience and lifetime were verified. */
export interface VerifiedClaims {
  sub: string;
  [claim: string]: unknown;
}

export type GoogleCodeInput = { code: string; codeVerifier?: string; redirectUri?: string; nonce?: string };
export type GoogleIdTokenInput = { idToken: string; nonce?: string };
export type GoogleSignInInput = GoogleCodeInput | GoogleIdTokenInput;

/** What the core needs from an OpenID provider such as Google (src/identity/google.ts talks to it). */
export interface OidcProviderClient {
  /** Exchanges an authorization code and returns the validated ID token's claims. */
  exchangeCode(input: GoogleCodeInput): Promise<VerifiedClaims>;
  /** Validates an ID token the client already holds and returns its claims. */
  verifyIdToken(idToken: string, nonce?: string): Promise<VerifiedClaims>;
}

/** Verifies access tokens of the configured external issuers (src/identity/external.ts). */
export interface ExternalTokenVerifier {
  /** Throws `invalid_external_token` (or `identity_provider_unavailable`) unless the token is valid. */
  verify(token: string): Promise<ExternalClaims>;
}

export interface ExternalIssuerPolicy {
  allowedSubjects: ReadonlySet<string> | null;
  mapUser: ((claims: ExternalClaims) => ExternalUser | Promise<ExternalUser>) | null;
  linkVerifiedEmails: boolean;
}

export interface IdentityProviders {
  /** `nonces`: issues and checks the nonces a posted ID token must carry (GET /google/nonce). */
  google?: { client: OidcProviderClient; linkVerifiedEmails: boolean; nonces: NonceIssuer } | null;
  external?: { verifier: ExternalTokenVerifier; issuers: ReadonlyMap<string, ExternalIssuerPolicy> } | null;
}

/** Who an external account is, for creating or linking a local user on its first sign-in. */
export interface ExternalProfile {
  email: string;
  /**
   * Whether the provider vouches that the email is the user's. A verified email makes
   * the new account's `emailVerifiedAt`; only then may later identities be linked to it.
   */
  emailVerified: boolean;
  username?: string | null;
  firstName?: string | null;
  lastName?: string | null;
}

export interface IdentitySignIn {
  result: SignInResult;
  /** True while the user belongs to no organization (POST /setup-org makes or joins one). */
  needsOrg: boolean;
  /** True when this sign-in created the user. */
  created: boolean;
}

/** The provider key Google identities are stored under. */
export const GOOGLE_PROVIDER = 'google';

const EMAIL = /^[^\s@]+@[^\s@]+$/;

function normaliseEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const email = value.trim().toLowerCase();
  return email.length <= 254 && EMAIL.test(email) ? email : null;
}

function name(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  // Control characters (NUL above all) have no place in a name and break PostgreSQL text.
  // eslint-disable-next-line no-control-regex
  const trimmed = value.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 100);
  return trimmed === '' ? null : trimmed;
}

/**
 * A provider's (or `mapUser`'s) username under the sign-up rules, or null for none. One
 * that breaks them is refused rather than dropped: where the username is the token
 * subject (datarhei), an account silently named by its email instead would surprise.
 */
function username(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const trimmed = typeof value === 'string' ? value.trim() : '';
  if (!isValidUsername(trimmed)) {
    throw new AuthError('identity_provider_error', `the identity provider's account has a username gatehouse cannot use: a username ${USERNAME_RULE}`, {
      reason: 'invalid_username',
    });
  }
  return trimmed;
}

/** Sign-in through other identity providers: Google (code or ID token) and external issuers' access tokens. */
export function createIdentities(ctx: CoreContext, accounts: Accounts, providers: IdentityProviders = {}) {
  const { storage, clock, audit } = ctx;
  const google = providers.google ?? null;
  const external = providers.external ?? null;

  /**
   * Finds the user of an identity, or on its first sign-in creates one (no password)
   * or links an existing account with the same email, when allowed. The identity and
   * a new user are written in one transaction; a link, with its `identity.linked` entry.
   */
  async function resolveUser(
    provider: string,
    subject: string,
    profile: () => Promise<ExternalProfile>,
    options: { linkVerifiedEmails: boolean; requireVerifiedEmail: boolean },
    client: ClientInfo | undefined,
  ): Promise<{ user: UserRecord; created: boolean }> {
    const { linkVerifiedEmails } = options;
    const known = await findUser(provider, subject);
    if (known) return { user: known, created: false };

    const p = await profile();
    const email = normaliseEmail(p.email);
    if (email === null) throw new AuthError('external_email_missing', 'the identity provider gave no usable email for this account');
    const emailVerified = p.emailVerified === true;
    if (!emailVerified && options.requireVerifiedEmail) {
      throw new AuthError('email_not_verified', 'the identity provider has not verified this email address; verify it there first');
    }
    const newUsername = username(p.username);

    // A concurrent first sign-in of the same identity (or email) may win the race;
    // the second attempt then finds what it wrote.
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await audit.transaction(async (tx) => {
          const identity = await tx.identities.findBySubject(provider, subject);
          const linked = identity ? await tx.users.findById(identity.userId) : null;
          if (linked) return { user: linked, created: false };
          const record = (userId: string): IdentityRecord => ({ provider, subject, userId, email, createdAt: clock.now() });

          const existing = await tx.users.findByEmail(email);
          if (existing) {
            if (!linkVerifiedEmails) {
              throw new AuthError('account_exists', 'an account with this email already exists; sign in to it with its password');
            }
            // Both sides must have proven the address: the provider now, and the account
            // when it was made. Otherwise whoever signed up first with someone else's
            // address would share the real owner's account (pre-account takeover).
            if (!emailVerified || existing.emailVerifiedAt === null) {
              throw new AuthError(
                'account_exists',
                'an account with this email already exists, but the address is not verified on both sides (by the provider, and by this server when the account was made), so it is not linked; sign in to it with its password',
                { reason: 'unverified_account' },
              );
            }
            await tx.identities.create(record(existing.id));
            // A new way into an existing account: the owner should be able to see when and from where.
            await audit.record(tx, { client, orgId: null, actor: { type: 'user', id: existing.id }, action: 'identity.linked', data: { provider } });
            return { user: existing, created: false };
          }

          const now = clock.now();
          const user = await tx.users.create({
            id: randomUUID(),
            email,
            username: newUsername,
            firstName: name(p.firstName),
            lastName: name(p.lastName),
            passwordHash: null,
            createdAt: now,
            emailVerifiedAt: emailVerified ? now : null,
          });
          await tx.identities.create(record(user.id));
          return { user, created: true };
        });
      } catch (err) {
        if (attempt === 0 && err instanceof StorageConflictError && (err.field === 'identity' || err.field === 'email')) continue;
        return mapConflicts(() => Promise.reject(err));
      }
    }
  }

  async function findUser(provider: string, subject: string): Promise<UserRecord | null> {
    const identity = await storage.identities.findBySubject(provider, subject);
    return identity ? storage.users.findById(identity.userId) : null;
  }

  async function finish(user: UserRecord, created: boolean, provider: string, client: ClientInfo | undefined): Promise<IdentitySignIn> {
    const result = await accounts.finishSignIn(user, provider, client);
    const needsOrg =
      result.kind === 'tokens' ? result.tokens.scope.orgId === null : (await storage.memberships.listForUser(user.id)).length === 0;
    return { result, needsOrg, created };
  }

  /**
   * Signs in (or up) with an identity that was verified elsewhere: the way to add
   * another provider of your own. First sign-ins create the user from `profile()`:
   * with an unverified email only when `requireVerifiedEmail` is false (then the account
   * is never a target for linking by email).
   */
  async function signInWithIdentity(
    provider: string,
    subject: string,
    profile: () => Promise<ExternalProfile>,
    options: { linkVerifiedEmails?: boolean; requireVerifiedEmail?: boolean } = {},
    client?: ClientInfo,
  ): Promise<IdentitySignIn> {
    const { user, created } = await resolveUser(provider, subject, profile, {
      linkVerifiedEmails: options.linkVerifiedEmails === true,
      requireVerifiedEmail: options.requireVerifiedEmail !== false,
    }, client);
    return finish(user, created, provider, client);
  }

  /** A nonce for a Google sign-in with an ID token: the client has Google put it in the token, then posts both. */
  function issueGoogleNonce(): IssuedNonce {
    if (!google) throw new AuthError('not_found', 'Google sign-in is not configured');
    return google.nonces.issue();
  }

  /**
   * A posted ID token must carry a nonce this server issued, unexpired and unused, so a
   * token obtained for some other sign-in (or another app with the same client id)
   * cannot be replayed here. Spent in storage: of concurrent uses one wins.
   */
  async function spendGoogleNonce(nonce: string | undefined): Promise<void> {
    if (!google) return;
    const expiresAt = nonce === undefined ? null : google.nonces.check(nonce);
    if (nonce === undefined || expiresAt === null) {
      throw new AuthError('invalid_id_token', 'the ID token needs a nonce issued by GET /google/nonce (unexpired), sent in `nonce` and set in the token', { reason: 'nonce' });
    }
    if (!(await storage.usedTokens.consume(sha256Hex(`google-nonce:${nonce}`), expiresAt))) {
      throw new AuthError('invalid_id_token', 'this nonce was used already; get a new one from GET /google/nonce', { reason: 'nonce' });
    }
  }

  /**
   * Google sign-in with an authorization code (exchanged at the token endpoint) or an
   * ID token. Google must vouch for the email (`email_verified`), on every sign-in.
   */
  async function signInWithGoogle(input: GoogleSignInInput, client?: ClientInfo): Promise<IdentitySignIn> {
    if (!google) throw new AuthError('not_found', 'Google sign-in is not configured');
    let claims: VerifiedClaims;
    if ('idToken' in input) {
      // The client compares the token's nonce with the one sent; that one must be ours.
      claims = await google.client.verifyIdToken(input.idToken, input.nonce);
      await spendGoogleNonce(input.nonce);
    } else {
      claims = await google.client.exchangeCode(input);
    }
    if (claims.email_verified !== true) {
      throw new AuthError('email_not_verified', 'Google has not verified the email address of this account');
    }
    const profile = async (): Promise<ExternalProfile> => ({
      email: typeof claims.email === 'string' ? claims.email : '',
      emailVerified: true,
      firstName: typeof claims.given_name === 'string' ? claims.given_name : null,
      lastName: typeof claims.family_name === 'string' ? claims.family_name : null,
    });
    return signInWithIdentity(GOOGLE_PROVIDER, claims.sub, profile, { linkVerifiedEmails: google.linkVerifiedEmails }, client);
  }

  /**
   * Exchanges a valid access token of a configured external issuer (for example Auth0)
   * for a session of ours. The identity is (issuer, sub); its user is created on the
   * first exchange through the issuer's `mapUser`.
   */
  async function exchangeExternalToken(token: string, client?: ClientInfo): Promise<IdentitySignIn> {
    if (!external) throw new AuthError('invalid_external_token', 'no external issuers are configured', { reason: 'unknown_issuer' });
    const claims = await external.verifier.verify(token);
    const policy = external.issuers.get(claims.iss);
    if (!policy) throw new AuthError('invalid_external_token', 'the token’s issuer is not accepted', { reason: 'unknown_issuer' });
    if (policy.allowedSubjects && !policy.allowedSubjects.has(claims.sub)) {
      throw new AuthError('subject_not_allowed', 'this account may not sign in here');
    }
    const profile = async (): Promise<ExternalProfile> => {
      if (policy.mapUser) {
        const mapped = await policy.mapUser(claims);
        if (typeof mapped !== 'object' || mapped === null || typeof mapped.email !== 'string') {
          throw new TypeError(`externalIssuers mapUser for ${claims.iss} must return { email }`);
        }
        // Unverified unless mapUser says so: an address it made up, or copied from an
        // unverified claim, must never be what links this identity to someone's account.
        return { ...mapped, emailVerified: mapped.emailVerified === true };
      }
      if (typeof claims.email !== 'string') {
        throw new AuthError(
          'external_email_missing',
          'the token carries no email claim to create an account from; the server must configure externalIssuers[].mapUser for this issuer',
        );
      }
      return { email: claims.email, emailVerified: claims.email_verified === true };
    };
    // mapUser decides what email an account gets, verified or not; the token's own
    // email claim must be verified to make an account at all.
    return signInWithIdentity(claims.iss, claims.sub, profile, { linkVerifiedEmails: policy.linkVerifiedEmails, requireVerifiedEmail: policy.mapUser === null }, client);
  }

  /** The user's linked identities, oldest first. */
  function listForUser(userId: string): Promise<IdentityRecord[]> {
    return storage.identities.listForUser(userId);
  }

  return {
    signInWithGoogle,
    issueGoogleNonce,
    exchangeExternalToken,
    signInWithIdentity,
    listForUser,
    /** True when Google sign-in is configured. */
    googleEnabled: google !== null,
    /** True when at least one external issuer is configured. */
    externalEnabled: external !== null && external.issuers.size > 0,
  };
}

export type Identities = ReturnType<typeof createIdentities>;
