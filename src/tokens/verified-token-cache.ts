import { LRUCache } from 'lru-cache';

/** How many verified tokens are kept in memory (`tokenCache` option). */
export interface TokenCacheOptions {
  /**
   * Most tokens kept; the least recently used goes first. Default 10,000: about 10 MB
   * when full (the token string and its claims, about 1 KB each). 0 turns the cache
   * off, so every request verifies the signature again.
   */
  max?: number;
}

export const DEFAULT_TOKEN_CACHE_MAX = 10_000;

/** Validates `tokenCache` (at `path` in the options) and returns its bound. */
export function resolveTokenCacheMax(options: TokenCacheOptions | undefined, path: string): number {
  if (options === undefined) return DEFAULT_TOKEN_CACHE_MAX;
  if (typeof options !== 'object' || options === null) throw new TypeError(`${path} must be an object such as { max: 10000 }`);
  const { max = DEFAULT_TOKEN_CACHE_MAX } = options;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 0) {
    throw new TypeError(`${path}.max must be a whole number of tokens, 0 or more (0 turns the cache off); got ${String(max)}`);
  }
  return max;
}

/** What the cache needs of an entry: when the token expires, in epoch ms. */
export interface ExpiringEntry {
  readonly expiresAt: number;
}

/**
 * How many of a token's last characters find its entry. For a JWS that is part of the
 * signature, which no two tokens share in practice; hashing these rather than the whole
 * token (500 characters and more) makes a lookup several times cheaper.
 */
const KEY_CHARS = 32;

/** A cached token: the exact string verified, and what its verification established. */
interface Slot<V> {
  readonly token: string;
  readonly value: V;
}

/**
 * Tokens that passed full verification (signature, algorithm, issuer, audience, type),
 * so verification runs once per token rather than once per request. An entry is found
 * by the token's last characters and served only to the exact string that was verified
 * (compared in full); two tokens ending alike would share a place, the later one
 * replacing the earlier, which is then verified again. Only what does not change over a
 * token's life is cached: callers still check revocation on every hit, and expiry too,
 * because `get` serves an entry only while it is unexpired at the `now` it is given (the
 * configured clock). Nothing that failed verification is ever stored: a string that was
 * never verified is always a miss, whatever it resembles. Bounded by `max` entries,
 * least recently used out first.
 */
export class VerifiedTokenCache<V extends ExpiringEntry> {
  private readonly lru: LRUCache<string, Slot<V>> | undefined;

  constructor(max: number = DEFAULT_TOKEN_CACHE_MAX) {
    // lru-cache's own TTL is left off: expiry is judged by the caller's clock, and the
    // bound on entries is what bounds memory (an expired entry is dropped when met).
    this.lru = max > 0 ? new LRUCache<string, Slot<V>>({ max }) : undefined;
  }

  /** The entry of exactly this token while it is unexpired at `now` (epoch ms); undefined otherwise. */
  get(token: string, now: number): V | undefined {
    const lru = this.lru;
    if (lru === undefined) return undefined;
    const key = keyOf(token);
    const slot = lru.get(key);
    if (slot === undefined || slot.token !== token) return undefined;
    if (slot.value.expiresAt <= now) {
      lru.delete(key);
      return undefined;
    }
    return slot.value;
  }

  /** Stores what a full verification of `token` established. Call only after it passed. */
  set(token: string, value: V): void {
    this.lru?.set(keyOf(token), { token, value });
  }

  /** Forgets every token: for when what verified them (keys, issuer) changes. */
  clear(): void {
    this.lru?.clear();
  }

  /** Entries held now (expired ones included until they are met or evicted). */
  get size(): number {
    return this.lru?.size ?? 0;
  }

  /** The bound on entries; 0 when the cache is off. */
  get max(): number {
    return this.lru?.max ?? 0;
  }
}

function keyOf(token: string): string {
  return token.length > KEY_CHARS ? token.slice(-KEY_CHARS) : token;
}
