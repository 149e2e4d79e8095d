import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../ports.js';

/** A nonce the server issued for one Google sign-in with an ID token, and when it stops being accepted. */
export interface IssuedNonce {
  nonce: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface NonceIssuer {
  issue(): IssuedNonce;
  /** The expiry (epoch ms) of a nonce this server issued and that has not expired, or null. */
  check(nonce: string): number | null;
}

const MAC_BYTES = 16;

/**
 * Nonces for the posted-ID-token path: `<random>.<expiry>.<mac>`, the mac an HMAC of
 * the rest under a key derived from the server's, so any instance can check a nonce
 * without storage. That a nonce is used once is the caller's part (storage.usedTokens).
 */
export function createNonceIssuer(key: Buffer, clock: Clock, ttlSeconds: number): NonceIssuer {
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest().subarray(0, MAC_BYTES);

  function issue(): IssuedNonce {
    const expiresAt = clock.now() + ttlSeconds * 1000;
    const payload = `${randomBytes(18).toString('base64url')}.${Math.floor(expiresAt / 1000).toString(36)}`;
    return { nonce: `${payload}.${mac(payload).toString('base64url')}`, expiresAt: Math.floor(expiresAt / 1000) * 1000 };
  }

  function check(nonce: string): number | null {
    const parts = nonce.split('.');
    if (parts.length !== 3) return null;
    const [random = '', expiry = '', signature = ''] = parts;
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== MAC_BYTES || !timingSafeEqual(given, mac(`${random}.${expiry}`))) return null;
    const expiresAt = Number.parseInt(expiry, 36) * 1000;
    return Number.isFinite(expiresAt) && expiresAt > clock.now() ? expiresAt : null;
  }

  return { issue, check };
}
