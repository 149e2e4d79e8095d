import { createHash, randomBytes } from 'node:crypto';

/** Hex SHA-256: how single-use secrets (refresh token ids, invitation codes) are kept at rest. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A random, URL-safe secret of `bytes` bytes of entropy, with an optional readable prefix. */
export function randomSecret(bytes: number, prefix = ''): string {
  return prefix + randomBytes(bytes).toString('base64url');
}
