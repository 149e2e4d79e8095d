import { ipOf, type ClientInfo } from './client-info.js';
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { toSeconds, type Duration } from '../duration.js';
import { AuthError, StorageConflictError } from '../errors.js';
import type { PasskeyRecord } from '../ports.js';
import type { Accounts, SignInResult } from './accounts.js';
import type { CoreContext } from './context.js';
import type { Sessions } from './sessions.js';
import { sha256Hex } from './secrets.js';
import { lazyPackage } from './lazy-package.js';

/** The relying party passkeys are bound to (option `passkeys`). */
export interface PasskeyConfig {
  /** The registrable domain the browser binds credentials to, e.g. `example.com` (never an IP address). */
  rpID: string;
  /** Shown by the browser when creating a passkey. */
  rpName: string;
  /** Exact origins (`https://app.example.com`) the ceremonies may come from. */
  origins: string[];
  /** Key the challenges are MACed with (derived from the server key). */
  challengeKey: Buffer;
  /** Lifetime of a challenge, in seconds. */
  challengeTtl: number;
}

/** Option `passkeys`. */
export interface PasskeyOptions {
  /** The site's registrable domain (`example.com`, or `localhost` in development); never an IP address. */
  rpID: string;
  /** Shown by the browser and the password manager when a passkey is made. Default 'gatehouse'. */
  rpName?: string;
  /** The exact origins (`https://app.example.com`, `http://localhost:3000`) the pages using passkeys are served from. */
  origins: string[];
  /** How long a registration or sign-in challenge stays usable. Default '5m'. */
  challengeTtl?: Duration;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/** Checks option `passkeys`; `challengeKey` is derived from the server key. */
export function resolvePasskeys(options: PasskeyOptions, challengeKey: Buffer): PasskeyConfig {
  const rpID = options.rpID;
  if (typeof rpID === 'string' && (IPV4.test(rpID) || rpID.includes(':'))) {
    throw new TypeError(`passkeys.rpID is an IP address (${rpID}): browsers refuse those; use a domain, or localhost in development`);
  }
  if (typeof rpID !== 'string' || !DOMAIN.test(rpID)) throw new TypeError(`passkeys.rpID must be a domain such as example.com or localhost, got ${JSON.stringify(rpID)}`);
  if (!Array.isArray(options.origins) || options.origins.length === 0) throw new TypeError('passkeys.origins must list at least one origin, e.g. https://app.example.com');
  for (const origin of options.origins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = null;
    }
    if (parsed === null || parsed.origin !== origin) throw new TypeError(`passkeys.origins: ${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path or trailing slash)`);
  }
  return {
    rpID,
    rpName: options.rpName ?? 'gatehouse',
    origins: [...options.origins],
    challengeKey,
    challengeTtl: toSeconds(options.challengeTtl ?? '5m', 'passkeys.challengeTtl'),
  };
}

type Purpose = 'register' | 'signin';

const MAC_BYTES = 16;

/** What the browser signed about the ceremony: the challenge and the page's origin. */
function clientData(response: { response: { clientDataJSON: string } }): { challenge: string; origin: string } {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown; origin?: unknown } | null;
    if (typeof data?.challenge === 'string' && typeof data.origin === 'string') return { challenge: data.challenge, origin: data.origin };
  } catch {
    // Falls through to the refusal.
  }
  throw new AuthError('passkey_verification_failed', 'clientDataJSON is not the JSON a browser sends');
}

/** @simplewebauthn/server (about 4 MB of heap with its CBOR and ASN.1 parsers). */
const loadWebAuthn = lazyPackage('passkeys', 'the package @simplewebauthn/server', () => import('@simplewebauthn/server'));

/** What a sign-in with a bad assertion is refused with: these spend a throttle point. */
const REFUSALS: ReadonlySet<string> = new Set(['passkey_unknown', 'passkey_verification_failed', 'passkey_challenge_invalid']);

function verificationError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AuthError('passkey_verification_failed', `the passkey response did not verify: ${message}`);
}

/**
 * Passkeys (WebAuthn) with @simplewebauthn/server. Challenges carry their own expiry,
 * purpose and user under an HMAC, so any instance can check one without a lookup; that
 * each is used once is one conditional write in `usedTokens` (of two presentations,
 * one wins).
 */
export function createPasskeys(ctx: CoreContext, deps: { accounts: Accounts; sessions: Sessions }, config: PasskeyConfig) {
  const { storage, clock } = ctx;
  const { accounts } = deps;
  const mac = (payload: string) => createHmac('sha256', config.challengeKey).update(payload).digest().subarray(0, MAC_BYTES);

  /** The ceremony's challenge, once its origin is one of ours: a stable code for a page elsewhere (a phishing site, a forgotten front end). */
  function challengeFrom(response: { response: { clientDataJSON: string } }): string {
    const { challenge, origin } = clientData(response);
    if (!config.origins.includes(origin)) {
      throw new AuthError('passkey_origin_mismatch', `the passkey ceremony came from ${origin}, which is not among passkeys.origins`);
    }
    return challenge;
  }

  function issueChallenge(purpose: Purpose, userId: string | null): string {
    const expiry = Math.floor((clock.now() + config.challengeTtl * 1000) / 1000).toString(36);
    // The user id as base64url: a '.' in an id of some other scheme could not break the format.
    const user = userId === null ? '-' : Buffer.from(userId, 'utf8').toString('base64url');
    const payload = `${purpose}.${user}.${randomBytes(18).toString('base64url')}.${expiry}`;
    return `${payload}.${mac(payload).toString('base64url')}`;
  }

  /**
   * Checks the challenge the browser signed (base64url of our UTF-8 challenge) and uses
   * it up. Returns the user it was issued to (null: anyone) and the expected value.
   */
  async function takeChallenge(signed: string, purpose: Purpose): Promise<{ userId: string | null; expected: string }> {
    const invalid = () => new AuthError('passkey_challenge_invalid', 'the challenge is unknown, expired or used: ask for new options and try again');
    const challenge = Buffer.from(signed, 'base64url').toString('utf8');
    const parts = challenge.split('.');
    if (parts.length !== 5) throw invalid();
    const [kind = '', user = '', random = '', expiry = '', signature = ''] = parts;
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== MAC_BYTES || !timingSafeEqual(given, mac(`${kind}.${user}.${random}.${expiry}`))) throw invalid();
    const expiresAt = Number.parseInt(expiry, 36) * 1000;
    if (kind !== purpose || !Number.isFinite(expiresAt) || expiresAt <= clock.now()) throw invalid();
    if (!(await storage.usedTokens.consume(sha256Hex(`passkey:${challenge}`), expiresAt))) throw invalid();
    return { userId: user === '-' ? null : Buffer.from(user, 'base64url').toString('utf8'), expected: signed };
  }

  async function registrationOptions(userId: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const user = await storage.users.findById(userId);
    if (!user) throw new AuthError('invalid_token', 'the account no longer exists');
    const existing = await storage.passkeys.listForUser(userId);
    const { generateRegistrationOptions } = await loadWebAuthn();
    return generateRegistrationOptions({
      rpName: config.rpName,
      rpID: config.rpID,
      userName: user.username ?? user.email,
      userDisplayName: user.email,
      userID: Buffer.from(user.id, 'utf8'),
      challenge: issueChallenge('register', user.id),
      timeout: config.challengeTtl * 1000,
      attestationType: 'none',
      // One passkey per authenticator: the browser refuses to make a second on one it holds.
      excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports as AuthenticatorTransport[] })),
      // Discoverable, so sign-in works without typing the email first.
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    });
  }

  async function verifyRegistration(userId: string, response: RegistrationResponseJSON, name: string | null, client?: ClientInfo): Promise<PasskeyRecord> {
    // Loaded before the challenge is used up, so a failed load leaves it usable.
    const { verifyRegistrationResponse } = await loadWebAuthn();
    const { userId: issuedTo, expected } = await takeChallenge(challengeFrom(response), 'register');
    if (issuedTo !== userId) throw new AuthError('passkey_challenge_invalid', 'this challenge was issued to another account');
    let info;
    try {
      const result = await verifyRegistrationResponse({
        response,
        expectedChallenge: expected,
        expectedOrigin: config.origins,
        expectedRPID: config.rpID,
        requireUserVerification: false,
      });
      if (!result.verified) throw new AuthError('passkey_verification_failed', 'the passkey registration did not verify');
      info = result.registrationInfo;
    } catch (err) {
      throw verificationError(err);
    }
    const record: PasskeyRecord = {
      id: randomUUID(),
      userId,
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: info.credential.transports ?? response.response.transports ?? [],
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      name,
      createdAt: clock.now(),
      lastUsedAt: null,
    };
    try {
      await ctx.audit.transaction(async (tx) => {
        await tx.passkeys.insert(record);
        await ctx.audit.record(tx, { client, orgId: null, actor: { type: 'user', id: userId }, action: 'passkey.registered', target: { type: 'passkey', id: record.id }, data: { name, deviceType: record.deviceType, backedUp: record.backedUp } });
      });
    } catch (err) {
      if (err instanceof StorageConflictError) throw new AuthError('passkey_exists', 'this passkey is registered already');
      throw err;
    }
    return record;
  }

  async function authenticationOptions(email?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    // With an email, the user's passkeys are offered; an unknown email gets the same
    // empty list as no email at all, so the answer does not tell who has an account.
    const user = email === undefined ? null : await storage.users.findByEmail(email.trim().toLowerCase());
    const passkeys = user ? await storage.passkeys.listForUser(user.id) : [];
    const { generateAuthenticationOptions } = await loadWebAuthn();
    return generateAuthenticationOptions({
      rpID: config.rpID,
      challenge: issueChallenge('signin', null),
      timeout: config.challengeTtl * 1000,
      userVerification: 'preferred',
      allowCredentials: passkeys.map((p) => ({ id: p.credentialId, transports: p.transports as AuthenticatorTransport[] })),
    });
  }

  /**
   * A sign-in with a passkey. With user verification (PIN or biometrics on the device)
   * it is two factors in one and skips TOTP; without, TOTP still follows when it is on.
   */
  /**
   * Signs in with an assertion. As a password sign-in does, a failed one spends a point of
   * the client's per-IP throttle (shared with password attempts), reserved before the
   * challenge is taken and the signature checked; a successful one gives it back.
   */
  async function signIn(response: AuthenticationResponseJSON, client?: ClientInfo): Promise<SignInResult> {
    await loadWebAuthn();
    let refusal: AuthError | undefined;
    const passkey = await ctx.throttle.attempt({ ip: ipOf(client) }, async () => {
      try {
        return await verifiedPasskey(response);
      } catch (err) {
        // A refusal of the assertion spends the point; anything else (storage) gives it back.
        if (!(err instanceof AuthError) || !REFUSALS.has(err.code)) throw err;
        refusal = err;
        return null;
      }
    });
    if (!passkey) throw refusal as AuthError;
    const user = await storage.users.findById(passkey.userId);
    if (!user) throw new AuthError('passkey_unknown', 'the account of this passkey no longer exists');
    if (!passkey.userVerified) return accounts.finishSignIn(user, 'passkey', client);
    // With user verification the passkey is both factors: no MFA step.
    await accounts.assertMaySignIn(user);
    return accounts.signedIn(user, 'passkey', client);
  }

  /** The passkey of a valid assertion (its challenge taken, its use recorded); throws the refusal otherwise. */
  async function verifiedPasskey(response: AuthenticationResponseJSON): Promise<{ userId: string; userVerified: boolean }> {
    const { verifyAuthenticationResponse } = await loadWebAuthn();
    const { expected } = await takeChallenge(challengeFrom(response), 'signin');
    const passkey = await storage.passkeys.findByCredentialId(response.id);
    if (!passkey) throw new AuthError('passkey_unknown', 'this passkey is not registered here (it may have been removed)');
    const handle = response.response.userHandle;
    if (handle !== undefined && Buffer.from(handle, 'base64url').toString('utf8') !== passkey.userId) {
      throw new AuthError('passkey_unknown', 'this passkey belongs to another account');
    }
    let info;
    try {
      const result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: expected,
        expectedOrigin: config.origins,
        expectedRPID: config.rpID,
        credential: {
          id: passkey.credentialId,
          publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')),
          counter: passkey.counter,
          transports: passkey.transports as AuthenticatorTransport[],
        },
        requireUserVerification: false,
      });
      if (!result.verified) throw new AuthError('passkey_verification_failed', 'the passkey signature did not verify');
      info = result.authenticationInfo;
    } catch (err) {
      throw verificationError(err);
    }
    const used = await storage.passkeys.recordUse(passkey.id, { previousCounter: passkey.counter, counter: info.newCounter, backedUp: info.credentialBackedUp, at: clock.now() });
    if (!used) throw new AuthError('passkey_verification_failed', 'the passkey was used concurrently: its signature counter moved; try again');
    return { userId: passkey.userId, userVerified: info.userVerified };
  }

  async function list(userId: string): Promise<PasskeyRecord[]> {
    return storage.passkeys.listForUser(userId);
  }

  async function remove(userId: string, id: string, client?: ClientInfo): Promise<void> {
    await ctx.audit.transaction(async (tx) => {
      if (!(await tx.passkeys.delete(userId, id))) throw new AuthError('passkey_not_found', 'you have no passkey with this id');
      await ctx.audit.record(tx, { client, orgId: null, actor: { type: 'user', id: userId }, action: 'passkey.removed', target: { type: 'passkey', id }, data: {} });
    });
  }

  return { registrationOptions, verifyRegistration, authenticationOptions, signIn, list, remove, config };
}

export type Passkeys = ReturnType<typeof createPasskeys>;
