import type { ClientInfo } from './client-info.js';
import { randomInt } from 'node:crypto';
import { AuthError } from '../errors.js';
import { lazyPackage } from './lazy-package.js';
import type { Repositories, TokenClaims, UserRecord } from '../ports.js';
import type { ApiKeys } from './api-keys.js';
import type { CoreContext } from './context.js';
import type { SecretBox } from './secret-box.js';
import { sha256Hex } from './secrets.js';
import type { Sessions, TokenPair } from './sessions.js';
import { rehashIfNeeded } from './password-rehash.js';

export interface MfaConfig {
  /** Shown in authenticator apps next to the account. */
  issuer: string;
  /** Lifetime of the `mfa_token` handed out by a sign-in that needs a second factor (s). */
  challengeTtl: number;
  box: SecretBox;
}

export interface TotpEnrolment {
  secret: string;
  otpauthUrl: string;
  qrCodeDataUrl: string;
}

export interface MfaStatus {
  totp: 'off' | 'pending' | 'on';
  recoveryCodesLeft: number;
}

/** A second factor: a TOTP code or a one-time recovery code. */
export type SecondFactor = { code: string } | { recoveryCode: string };

/** How the audit log names a second factor. */
export function recordedFactor(factor: SecondFactor): 'totp' | 'recovery_code' {
  return 'code' in factor ? 'totp' : 'recovery_code';
}

const RECOVERY_CODES = 10;
// Crockford-style alphabet: no 0/O or 1/I/L to misread when typing a code from paper.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
// 16 characters of 31 are ~79 bits: beyond offline guessing, so an unsalted SHA-256
// at rest is enough. Codes made before (10 characters, ~50 bits) keep working.
const RECOVERY_GROUPS = 4;
const RECOVERY_GROUP_LENGTH = 4;
const STEP_SECONDS = 30;

/** otplib (about 0.8 MB of heap with its hash and base32 plugins). */
const loadOtplib = lazyPackage('TOTP', 'the package otplib', () => import('otplib'));

/** Loads otplib when the proof is a TOTP code; recovery codes and passwords need none. */
async function loadFor(proof: SecondFactor | { password: string }): Promise<void> {
  if ('code' in proof) await loadOtplib();
}

function newRecoveryCode(): string {
  const group = () => Array.from({ length: RECOVERY_GROUP_LENGTH }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
  return Array.from({ length: RECOVERY_GROUPS }, group).join('-');
}

/** Recovery codes are typed by hand: case, spaces and dashes do not matter. */
function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

/**
 * What a challenge issued after a password says of that password: a prefix of the SHA-256
 * of its stored hash. It tells nothing of the password (the salted hash it comes from is
 * not in it), but a change or reset makes another.
 */
function passwordStamp(passwordHash: string): string {
  return sha256Hex(passwordHash).slice(0, 32);
}

/** The first factor a challenge token names (`amr`, set by the sign-in that issued it); undefined when it names none. */
export function firstFactorOf(claims: TokenClaims): string | undefined {
  return typeof claims.amr === 'string' ? claims.amr : undefined;
}

export function createMfa(ctx: CoreContext, sessions: Sessions, config: MfaConfig, apiKeys: Pick<ApiKeys, 'revokeAccountKeys'>) {
  const { storage, clock, tokens, throttle, passwords, audit } = ctx;

  async function status(userId: string): Promise<MfaStatus> {
    const totp = await storage.mfa.findTotp(userId);
    if (!totp) return { totp: 'off', recoveryCodesLeft: 0 };
    if (totp.enabledAt === null) return { totp: 'pending', recoveryCodesLeft: 0 };
    return { totp: 'on', recoveryCodesLeft: await storage.mfa.countUnusedRecoveryCodes(userId) };
  }

  async function isEnabled(userId: string): Promise<boolean> {
    return (await storage.mfa.findTotp(userId))?.enabledAt != null;
  }

  /** Starts enrolment: a new secret, pending until `enable` confirms a code from it. */
  async function setup(user: UserRecord): Promise<TotpEnrolment> {
    const { generateSecret, generateURI } = await loadOtplib();
    // Loaded on first enrolment rather than at start, like otplib, and before the pending
    // secret is saved.
    const { default: QRCode } = await import('qrcode');
    const secret = generateSecret();
    if (!(await storage.mfa.savePendingTotp(user.id, config.box.seal(secret), clock.now()))) {
      throw new AuthError('mfa_already_enabled', 'TOTP is already on; disable it first to enrol a new device');
    }
    const otpauthUrl = generateURI({ issuer: config.issuer, label: user.email, secret });
    return { secret, otpauthUrl, qrCodeDataUrl: await QRCode.toDataURL(otpauthUrl) };
  }

  /**
   * Checks a code against the user's secret within one step of drift, then spends its
   * time step in one conditional write, so a code (or an older one) never works twice.
   */
  async function acceptCode(userId: string, code: string, ciphertext: string, repos: Repositories = storage): Promise<boolean> {
    // Already loaded by the caller (loadFor) before anything was spent.
    const { verify } = await loadOtplib();
    const result = await verify({
      secret: config.box.open(ciphertext),
      token: code,
      epoch: Math.floor(clock.now() / 1000),
      epochTolerance: STEP_SECONDS,
    });
    if (!result.valid || !('timeStep' in result)) return false;
    return repos.mfa.consumeTotpStep(userId, result.timeStep);
  }

  /** Confirms enrolment with a code; returns recovery codes, shown this once. Other sessions are signed out. */
  async function enable(userId: string, code: string, currentSessionId: string | undefined, client?: ClientInfo): Promise<string[]> {
    const totp = await storage.mfa.findTotp(userId);
    if (!totp) throw new AuthError('mfa_setup_required', 'call /mfa/totp/setup first');
    if (totp.enabledAt !== null) throw new AuthError('mfa_already_enabled', 'TOTP is already on');
    await loadOtplib();
    await guarded(userId, async () => acceptCode(userId, code, totp.secretCiphertext), 'mfa_confirmation_failed');
    const recoveryCodes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    await audit.transaction(async (tx) => {
      if (!(await tx.mfa.enableTotp(userId, clock.now()))) throw new AuthError('mfa_already_enabled', 'TOTP is already on');
      await tx.mfa.replaceRecoveryCodes(userId, recoveryCodes.map((c) => sha256Hex(normalizeRecoveryCode(c))), clock.now());
      await audit.record(tx, { client, orgId: null, actor: { type: 'user', id: userId }, action: 'mfa.enabled', data: { method: 'totp' } });
    });
    await sessions.revokeUserSessions(userId, currentSessionId === undefined ? {} : { exceptFamilyId: currentSessionId });
    await apiKeys.revokeAccountKeys(userId);
    return recoveryCodes;
  }

  /** Turns TOTP off after a code, a recovery code or the password. Other sessions are signed out. */
  async function disable(user: UserRecord, proof: SecondFactor | { password: string }, currentSessionId: string | undefined, client?: ClientInfo): Promise<void> {
    const totp = await storage.mfa.findTotp(user.id);
    if (!totp || totp.enabledAt === null) throw new AuthError('mfa_not_enabled', 'TOTP is not on');
    await loadFor(proof);
    await guarded(user.id, async () => {
      if ('password' in proof) return user.passwordHash !== null && passwords.verify(proof.password, user.passwordHash);
      return checkFactor(user.id, proof, totp.secretCiphertext);
    });
    if ('password' in proof) await rehashIfNeeded(ctx, user, proof.password);
    await audit.transaction(async (tx) => {
      await tx.mfa.deleteTotp(user.id);
      const proved = 'password' in proof ? 'password' : 'code' in proof ? 'totp' : 'recovery_code';
      await audit.record(tx, { client, orgId: null, actor: { type: 'user', id: user.id }, action: 'mfa.disabled', data: { method: 'totp', proof: proved } });
    });
    await sessions.revokeUserSessions(user.id, currentSessionId === undefined ? {} : { exceptFamilyId: currentSessionId });
    await apiKeys.revokeAccountKeys(user.id);
  }

  async function checkFactor(userId: string, factor: SecondFactor, ciphertext: string, repos: Repositories = storage): Promise<boolean> {
    if ('code' in factor) return acceptCode(userId, factor.code, ciphertext, repos);
    return repos.mfa.consumeRecoveryCode(userId, sha256Hex(normalizeRecoveryCode(factor.recoveryCode)), clock.now());
  }

  /**
   * Runs a second-factor check under the per-user throttle. The point is taken
   * before the check and given back when it passes, so concurrent wrong codes are
   * bounded by the limit; a failed check keeps it spent and throws.
   */
  async function guarded(userId: string, check: () => Promise<boolean>, code: 'invalid_mfa_code' | 'mfa_confirmation_failed' = 'invalid_mfa_code'): Promise<void> {
    if (!(await throttle.attempt({ mfa: userId }, check))) {
      throw new AuthError(code, code === 'invalid_mfa_code' ? 'the code is wrong, expired or already used' : 'the code does not match the new secret; check the device clock and try again');
    }
  }

  /**
   * The short-lived token a sign-in hands out instead of a session when MFA is on. After a
   * password, `passwordHash` (the hash it was checked against) puts the password's stamp in
   * it, so a password changed or reset before the second step refuses the challenge.
   */
  async function challenge(userId: string, claims: Record<string, unknown> = {}, passwordHash?: string | null): Promise<string> {
    const stamped = passwordHash ? { ...claims, pws: passwordStamp(passwordHash) } : claims;
    return (await tokens.sign({ usefor: 'mfa', sub: userId, ttl: config.challengeTtl, claims: stamped })).token;
  }

  /** Whether the password a challenge was issued after is still the account's (true for a challenge without one). */
  async function challengeHolds(claims: TokenClaims): Promise<boolean> {
    if (typeof claims.pws !== 'string') return true;
    const user = await storage.users.findById(claims.sub);
    return user?.passwordHash != null && passwordStamp(user.passwordHash) === claims.pws;
  }

  /**
   * Checks the challenge token and the second factor; returns the challenge's claims
   * (who, and any sign-in context). The token is single use: spending the factor
   * and marking the token used happen in one transaction, so of two verifies with
   * one token exactly one passes, and the loser's code is not spent (`token_used`).
   */
  async function passChallenge(mfaToken: string, factor: SecondFactor, client?: ClientInfo): Promise<TokenClaims> {
    const claims = tokens.verify(mfaToken, 'mfa');
    // Before anything is spent: the code stays usable for a new sign-in.
    if (!(await challengeHolds(claims))) throw new AuthError('invalid_token', 'the password changed after this sign-in began; sign in again');
    const totp = await storage.mfa.findTotp(claims.sub);
    if (!totp || totp.enabledAt === null) throw new AuthError('mfa_not_enabled', 'TOTP is not on for this account; sign in again');
    await loadFor(factor);
    try {
      await guarded(claims.sub, () =>
        storage.transaction(async (tx) => {
          if (!(await checkFactor(claims.sub, factor, totp.secretCiphertext, tx))) return false;
          if (!(await tx.usedTokens.consume(sha256Hex(claims.jti), claims.exp * 1000))) {
            throw new AuthError('token_used', 'this mfa_token was used already; sign in again');
          }
          return true;
        }),
      );
    } catch (err) {
      if (err instanceof AuthError && err.code === 'invalid_mfa_code') await auditFailedFactor(claims.sub, factor, client);
      throw err;
    }
    return claims;
  }

  /**
   * A wrong second factor after a right password (the challenge proves it), recorded in the
   * org a session would have been scoped to: someone may hold the password. Nothing is
   * said about the code. A failed write is logged; the answer stays the refusal.
   */
  async function auditFailedFactor(userId: string, factor: SecondFactor, client: ClientInfo | undefined): Promise<void> {
    try {
      const [first] = await storage.memberships.listForUser(userId);
      await audit.record(storage, { client, orgId: first?.orgId ?? null, actor: { type: 'user', id: userId }, action: 'signin.failed', data: { method: recordedFactor(factor) } });
    } catch (err) {
      ctx.logger.error('gatehouse: could not record a failed second factor', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Second step of a sign-in: the challenge token plus a TOTP or recovery code → a session. */
  async function verifyChallenge(mfaToken: string, factor: SecondFactor, client?: ClientInfo): Promise<TokenPair> {
    const claims = await passChallenge(mfaToken, factor, client);
    // A password change between the check above and the session's store is caught after it.
    return sessions.signIn(claims.sub, firstFactorOf(claims), recordedFactor(factor), client, () => challengeHolds(claims));
  }

  return { status, isEnabled, setup, enable, disable, challenge, challengeHolds, passChallenge, verifyChallenge };
}

export type Mfa = ReturnType<typeof createMfa>;
