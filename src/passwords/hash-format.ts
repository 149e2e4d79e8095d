/**
 * Reads which algorithm and parameters a stored hash was made with, from its text
 * alone: `needsRehash` is synchronous and must work before (or without) the optional
 * native packages being loaded.
 */

export type HashFormat =
  | { algorithm: 'bcrypt'; cost: number }
  | { algorithm: 'argon2'; variant: 'argon2id' | 'argon2i' | 'argon2d'; version: number; memoryCost: number; timeCost: number; parallelism: number }
  | { algorithm: 'unknown' };

// $2a$, $2b$ and $2y$ are the same algorithm for UTF-8 input; $2x$ marks the old
// crypt_blowfish bug and is left to `unknown` (it fails verification, never matches).
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const ARGON2 = /^\$(argon2id|argon2i|argon2d)\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

export function hashFormat(hash: string): HashFormat {
  const bcrypt = BCRYPT.exec(hash);
  if (bcrypt) return { algorithm: 'bcrypt', cost: Number(bcrypt[1]) };
  const argon2 = ARGON2.exec(hash);
  if (argon2) {
    return {
      algorithm: 'argon2',
      variant: argon2[1] as 'argon2id' | 'argon2i' | 'argon2d',
      version: Number(argon2[2]),
      memoryCost: Number(argon2[3]),
      timeCost: Number(argon2[4]),
      parallelism: Number(argon2[5]),
    };
  }
  return { algorithm: 'unknown' };
}
