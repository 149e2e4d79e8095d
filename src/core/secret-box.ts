import { createCipheriv, createDecipheriv, hkdfSync, randomFillSync } from 'node:crypto';

/** Encrypts secrets that must be read back (TOTP seeds), so a copy of the database alone does not reveal them. */
export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

const VERSION = 'v1';

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
    seal(plaintext) {
      const iv = nextIv();
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = cipher.update(plaintext, 'utf8');
      // GCM is a stream mode: final() adds no bytes (it computes the tag), so usually no concat.
      const rest = cipher.final();
      const sealedBody = rest.length === 0 ? body : Buffer.concat([body, rest]);
      return `${VERSION}.${iv.toString('base64url')}.${sealedBody.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
    },
    open(sealed) {
      const [version, iv, body, tag] = sealed.split('.');
      if (version !== VERSION || !iv || !body || !tag) throw new Error('unreadable sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
