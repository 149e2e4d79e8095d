import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** Encrypts secrets that must be read back (TOTP seeds), so a copy of the database alone does not reveal them. */
export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

const VERSION = 'v1';

/** A 32-byte key for one purpose, derived (HKDF-SHA256) from the server's key material. */
export function deriveKey(keyMaterial: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', keyMaterial, 'gatehouse', purpose, 32));
}

/** AES-256-GCM with a key derived (HKDF-SHA256) from `keyMaterial` for this one purpose. */
export function createSecretBox(keyMaterial: Buffer, purpose: string): SecretBox {
  const key = deriveKey(keyMaterial, purpose);
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, iv, body, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
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
