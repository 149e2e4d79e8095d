import { createCipheriv, createDecipheriv, hkdfSync, randomFillSync } from 'node:crypto';

/** Encrypts secrets that must be read back (TOTP seeds), so a copy of the database alone does not reveal them. */
export interface SecretBox {
  /**
   * With `context` (for example the id of the row the result is stored in), the result
   * opens only with that same context: a sealed value copied to another row is refused.
   */
  seal(plaintext: string, context?: string): string;
  open(sealed: string, context?: string): string;
}

// v1: no context; v2: `context` is the cipher's additional authenticated data.
const PLAIN = 'v1';
const BOUND = 'v2';

const IV_BYTES = 12;
// Random IVs drawn 256 at a time: each call for random bytes costs about as much as a
// whole seal (a system call here), and every refresh rotation seals its successor.
// Each IV is still 96 fresh random bits, used once.
let ivPool = Buffer.alloc(0);
let ivOffset = 0;
function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomFillSync(Buffer.allocUnsafe(IV_BYTES * 256));
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

/** A 32-byte key for one purpose, derived (HKDF-SHA256) from the server's key material. */
export function deriveKey(keyMaterial: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', keyMaterial, 'gatehouse', purpose, 32));
}

/** AES-256-GCM with a key derived (HKDF-SHA256) from `keyMaterial` for this one purpose. */
export function createSecretBox(keyMaterial: Buffer, purpose: string): SecretBox {
  const key = deriveKey(keyMaterial, purpose);
  return {
    seal(plaintext, context) {
      const iv = nextIv();
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      if (context !== undefined) cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = cipher.update(plaintext, 'utf8');
      // GCM is a stream mode: final() adds no bytes (it computes the tag), so usually no concat.
      const rest = cipher.final();
      const sealedBody = rest.length === 0 ? body : Buffer.concat([body, rest]);
      return `${context === undefined ? PLAIN : BOUND}.${iv.toString('base64url')}.${sealedBody.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
    },
    open(sealed, context) {
      const [version, iv, body, tag] = sealed.split('.');
      if (!iv || !body || !tag) throw new Error('unreadable sealed secret');
      // A value sealed with a context opens only with it; one sealed without, only without.
      if (version !== (context === undefined ? PLAIN : BOUND)) throw new Error('unreadable sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
