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
  /**
   * Builds the limiter for a rule; defaults to rate-limiter-flexible's memory store.
   * Pass a factory returning another store (for example RateLimiterPostgres) to share
   * counts across instances.
   */
  createLimiter?: (rule: Required<ThrottleRule> & { keyPrefix: string }) => RateLimiterAbstract;
}

const defaults = {
  perAccount: { points: 5, duration: 15 * 60 },
  perIp: { points: 50, duration: 15 * 60 },
};

/** Counts failed sign-ins per account and per IP; a key that ran out of points gets 429. */
export class SigninThrottle {
  private readonly account: RateLimiterAbstract | null;
  private readonly ip: RateLimiterAbstract | null;

  constructor(options: ThrottleOptions | false) {
    if (options === false) {
      this.account = null;
      this.ip = null;
      return;
    }
    const create = options.createLimiter ?? ((rule) => new RateLimiterMemory(rule));
    const build = (rule: ThrottleRule, keyPrefix: string) =>
      create({ ...rule, blockDuration: rule.blockDuration ?? rule.duration, keyPrefix });
    this.account = build(options.perAccount ?? defaults.perAccount, 'gatehouse_signin_account');
    this.ip = build(options.perIp ?? defaults.perIp, 'gatehouse_signin_ip');
  }

  /** Throws `too_many_attempts` when either key is out of points. */
  async check(accountKey: string, ip: string | undefined): Promise<void> {
    const checks: Array<[RateLimiterAbstract | null, string | undefined]> = [
      [this.account, accountKey],
      [this.ip, ip],
    ];
    for (const [limiter, key] of checks) {
      if (!limiter || key === undefined) continue;
      const res = await limiter.get(key);
      if (res && res.remainingPoints <= 0) throw tooMany(res.msBeforeNext);
    }
  }

  async failed(accountKey: string, ip: string | undefined): Promise<void> {
    await Promise.all([consume(this.account, accountKey), consume(this.ip, ip)]);
  }

  async succeeded(accountKey: string): Promise<void> {
    await this.account?.delete(accountKey);
  }
}

async function consume(limiter: RateLimiterAbstract | null, key: string | undefined): Promise<void> {
  if (!limiter || key === undefined) return;
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
