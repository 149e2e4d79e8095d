import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AuthError } from '../errors.js';

export interface ThrottleRule {
  /** Failed attempts allowed within `duration`. */
  points: number;
  /** Window in seconds. */
  duration: number;
  /** Seconds a key stays blocked once it ran out of points. Default: `duration`. */
  blockDuration?: number;
}

export interface ThrottleOptions {
  /** Failed sign-ins per account (email). Default 5 per 15 minutes. */
  perAccount?: ThrottleRule;
  /** Failed sign-ins per client IP. Default 50 per 15 minutes. */
  perIp?: ThrottleRule;
  /** Wrong second-factor codes per user. Default 5 per 5 minutes. */
  perMfaUser?: ThrottleRule;
  /**
   * Builds the limiter for a rule; defaults to rate-limiter-flexible's memory store.
   * Pass a factory returning another store (for example RateLimiterPostgres) to share
   * counts across instances.
   */
  createLimiter?: (rule: Required<ThrottleRule> & { keyPrefix: string }) => RateLimiterAbstract;
}

/** What is counted: an account's sign-ins, an IP's sign-ins, a user's second-factor codes. */
export type ThrottleKind = 'account' | 'ip' | 'mfa';
export type ThrottleKeys = Partial<Record<ThrottleKind, string | undefined>>;

const defaults: Record<ThrottleKind, ThrottleRule> = {
  account: { points: 5, duration: 15 * 60 },
  ip: { points: 50, duration: 15 * 60 },
  mfa: { points: 5, duration: 5 * 60 },
};

/** Counts failures per key; a key that ran out of points gets 429 until its block ends. */
export class Throttle {
  private readonly limiters: Record<ThrottleKind, RateLimiterAbstract> | null;

  constructor(options: ThrottleOptions | false) {
    if (options === false) {
      this.limiters = null;
      return;
    }
    const create = options.createLimiter ?? ((rule) => new RateLimiterMemory(rule));
    const build = (rule: ThrottleRule, kind: ThrottleKind) =>
      create({ ...rule, blockDuration: rule.blockDuration ?? rule.duration, keyPrefix: `gatehouse_${kind}` });
    this.limiters = {
      account: build(options.perAccount ?? defaults.account, 'account'),
      ip: build(options.perIp ?? defaults.ip, 'ip'),
      mfa: build(options.perMfaUser ?? defaults.mfa, 'mfa'),
    };
  }

  /** Throws `too_many_attempts` when any of the keys is out of points. */
  async check(keys: ThrottleKeys): Promise<void> {
    for (const [limiter, key] of this.pairs(keys)) {
      const res = await limiter.get(key);
      if (res && res.remainingPoints <= 0) throw tooMany(res.msBeforeNext);
    }
  }

  async failed(keys: ThrottleKeys): Promise<void> {
    await Promise.all(this.pairs(keys).map(([limiter, key]) => consume(limiter, key)));
  }

  async reset(kind: ThrottleKind, key: string): Promise<void> {
    await this.limiters?.[kind].delete(key);
  }

  private pairs(keys: ThrottleKeys): Array<[RateLimiterAbstract, string]> {
    const limiters = this.limiters;
    if (!limiters) return [];
    return (Object.entries(keys) as Array<[ThrottleKind, string | undefined]>)
      .filter((entry): entry is [ThrottleKind, string] => entry[1] !== undefined)
      .map(([kind, key]) => [limiters[kind], key]);
  }
}

async function consume(limiter: RateLimiterAbstract, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (err) {
    // Running out of points rejects with a RateLimiterRes; the next check() reports it.
    if (err instanceof Error) throw err;
  }
}

function tooMany(msBeforeNext: number): AuthError {
  const retryAfter = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new AuthError('too_many_attempts', `too many failed attempts; try again in ${retryAfter} s`, { retryAfter });
}
