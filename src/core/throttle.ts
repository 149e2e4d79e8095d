import { isIPv6 } from 'node:net';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { AuthError } from '../errors.js';
import { RateLimiterMemory, RateLimiterRes } from './rate-limiters.js';
import { sha256Hex } from './secrets.js';

export interface ThrottleRule {
  /** Failed attempts allowed within `duration`. */
  points: number;
  /** Window in seconds. */
  duration: number;
  /**
   * Seconds a key stays blocked once it ran out of points, counted from that moment.
   * Default 0: blocked until its window ends. With 0, an attempt refused for want of a
   * point costs none (only attempts that were checked count); with a block, every
   * refused attempt counts too.
   */
  blockDuration?: number;
}

export interface ThrottleOptions {
  /**
   * Failed sign-ins per account from one client IP: the limit that stops a
   * password-guessing client. Default 5 per 15 minutes.
   */
  perAccountIp?: ThrottleRule;
  /**
   * Failed sign-ins per account from all IPs together: a ceiling well above one
   * client's share, so guessing from many addresses stays bounded while a stranger
   * from one address cannot lock the owner out. Default 100 per hour. (Before
   * `perAccountIp` existed this was the only per-account limit, 5 per 15 minutes;
   * `{ points: 5, duration: 900 }` brings that back, lockout included.)
   */
  perAccount?: ThrottleRule;
  /** Failed sign-ins per client IP, across accounts. Default 50 per 15 minutes. */
  perIp?: ThrottleRule;
  /** Wrong second-factor codes (and wrong passwords to turn TOTP off) per user. Default 5 per 5 minutes. */
  perMfaUser?: ThrottleRule;
  /**
   * Builds the limiter for a rule; defaults to rate-limiter-flexible's memory store.
   * Pass a factory returning another store (for example RateLimiterPostgres) to share
   * counts across instances. Its `consume` must be atomic: it is what bounds
   * concurrent attempts.
   */
  createLimiter?: (rule: Required<ThrottleRule> & { keyPrefix: string }) => RateLimiterAbstract;
}

/** Mails asked for (`mail.limits`): every request spends a point, success or not. */
export interface MailLimitOptions {
  /** Mails per account (user id, or the address asked for when there is no account). Default 5 per hour. */
  perAccount?: ThrottleRule;
  /** Mails per client IP, across accounts. Default 20 per hour. */
  perIp?: ThrottleRule;
}

/**
 * What is counted: sign-ins per (account, IP), per account, per IP, a user's
 * second-factor codes, and mails asked for per account and per IP.
 */
export type ThrottleKind = 'accountIp' | 'account' | 'ip' | 'mfa' | 'mailAccount' | 'mailIp';
export type ThrottleKeys = Partial<Record<ThrottleKind, string | undefined>>;

const throttleDefaults: Readonly<Record<ThrottleKind, ThrottleRule>> = {
  accountIp: { points: 5, duration: 15 * 60 },
  account: { points: 100, duration: 60 * 60 },
  ip: { points: 50, duration: 15 * 60 },
  mfa: { points: 5, duration: 5 * 60 },
  mailAccount: { points: 5, duration: 60 * 60 },
  mailIp: { points: 20, duration: 60 * 60 },
};

/**
 * Reserved in this order, and the first key out of points stops the rest: a client
 * blocked on its own (account, IP) pair never spends the account's shared ceiling,
 * so one address cannot use it up for everyone.
 */
const ORDER: readonly ThrottleKind[] = ['accountIp', 'ip', 'account', 'mfa', 'mailIp', 'mailAccount'];

// Keys land in a varchar(255) column next to their prefix; longer ones (a 254-char
// email plus an IPv6 address) are hashed.
const MAX_RAW_KEY = 160;

/** The key for an account's sign-ins from one client address. */
export function accountIpKey(account: string, ip: string | undefined): string {
  return `${ip === undefined ? 'unknown' : addressKey(ip)} ${account}`;
}

/**
 * The unit a client address is counted in: an IPv4 address as it is (also when it comes
 * IPv4-mapped, `::ffff:192.0.2.1`), an IPv6 address by its /64. A single host is usually
 * given a whole /64, so counting each of its 2^64 addresses apart would make per-address
 * limits free to dodge.
 */
export function addressKey(ip: string): string {
  const bare = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1]!;
  if (!isIPv6(bare)) return ip;
  const [head = '', tail] = bare.split('::');
  const left = head ? head.split(':') : [];
  // Groups elided by `::` (a trailing dotted quad counts for two): only their number matters here.
  const right = tail ? tail.split(':') : [];
  const written = left.length + right.length + (bare.includes('.') ? 1 : 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - written).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Reserve-then-verify: every attempt takes a point from each of its keys *before*
 * the expensive check (bcrypt, a TOTP code), so N concurrent attempts can never
 * all be evaluated; a key out of points gets 429 until its block ends. An attempt
 * that passes gives its points back, so a right answer never costs one.
 */
export class Throttle {
  private readonly limiters: Partial<Record<ThrottleKind, RateLimiterAbstract>> | null;

  /**
   * `mail` limits are independent of `options`: `throttle: false` leaves them on; they
   * use `options.createLimiter` when given (else `createLimiter`, else memory).
   */
  constructor(options: ThrottleOptions | false, mail: MailLimitOptions | false = false, createLimiter?: ThrottleOptions['createLimiter']) {
    const create = (options === false ? undefined : options.createLimiter) ?? createLimiter ?? ((rule) => new RateLimiterMemory(rule));
    const build = (rule: ThrottleRule, kind: ThrottleKind) =>
      create({ ...rule, blockDuration: rule.blockDuration ?? 0, keyPrefix: `gatehouse_${kind}` });
    const signIn =
      options === false
        ? {}
        : {
            accountIp: build(options.perAccountIp ?? throttleDefaults.accountIp, 'accountIp'),
            account: build(options.perAccount ?? throttleDefaults.account, 'account'),
            ip: build(options.perIp ?? throttleDefaults.ip, 'ip'),
            mfa: build(options.perMfaUser ?? throttleDefaults.mfa, 'mfa'),
          };
    const mails =
      mail === false
        ? {}
        : {
            mailAccount: build(mail.perAccount ?? throttleDefaults.mailAccount, 'mailAccount'),
            mailIp: build(mail.perIp ?? throttleDefaults.mailIp, 'mailIp'),
          };
    this.limiters = options === false && mail === false ? null : { ...signIn, ...mails };
  }

  /**
   * Spends a point on every key and keeps it (sending mail costs whether or not it
   * helps). Throws `too_many_attempts` when a key is out of points, spending nothing.
   */
  async spend(keys: ThrottleKeys, what = 'requests'): Promise<void> {
    try {
      await this.reserve(keys);
    } catch (err) {
      if (err instanceof AuthError && err.code === 'too_many_attempts') {
        const retryAfter = (err.details as { retryAfter: number }).retryAfter;
        throw new AuthError('too_many_attempts', `too many ${what}; try again in ${retryAfter} s`, { retryAfter });
      }
      throw err;
    }
  }

  /**
   * Reserves a point on every key, runs `check`, and returns its result. A truthy
   * result gives the points back; a falsy one leaves them spent. When `check`
   * throws, nothing was decided about the guess, so the points go back too.
   * Throws `too_many_attempts` (without running `check`) when a key is out of points.
   */
  async attempt<T>(keys: ThrottleKeys, check: () => Promise<T>): Promise<T> {
    const reserved = await this.reserve(keys);
    let result: T;
    try {
      result = await check();
    } catch (err) {
      await this.giveBack(reserved);
      throw err;
    }
    if (result) await this.giveBack(reserved);
    return result;
  }

  private async reserve(keys: ThrottleKeys): Promise<Array<[RateLimiterAbstract, string]>> {
    const reserved: Array<[RateLimiterAbstract, string]> = [];
    for (const pair of this.pairs(keys)) {
      const [limiter, key] = pair;
      try {
        await limiter.consume(key);
      } catch (err) {
        // Out of points rejects with the limiter's result; anything else is a storage failure.
        if (!(err instanceof RateLimiterRes)) {
          await this.giveBack(reserved);
          throw err;
        }
        // The refused consume still counted. Without a block (whose store write sets the
        // count rather than adding to it, so racing rewards could lose points) it is
        // given back: an attempt that checked nothing must not keep the key blocked
        // once the attempts that were checked give theirs back.
        await this.giveBack(limiter.blockDuration > 0 ? reserved : [...reserved, pair]);
        throw tooMany(err.msBeforeNext);
      }
      reserved.push(pair);
    }
    return reserved;
  }

  /**
   * Best effort: when the store fails now, the point stays spent (failing closed)
   * rather than turning a passed check, or the caller's own error, into a 503.
   */
  private async giveBack(reserved: Array<[RateLimiterAbstract, string]>): Promise<void> {
    await Promise.all(
      reserved.map(async ([limiter, key]) => {
        try {
          const res = await limiter.reward(key);
          // The window ended between consume and reward, so the reward opened a new
          // window below zero, i.e. with an extra point: start it afresh instead.
          if (res.consumedPoints < 0) await limiter.delete(key);
        } catch {
          // Left spent: see above.
        }
      }),
    );
  }

  private pairs(keys: ThrottleKeys): Array<[RateLimiterAbstract, string]> {
    const limiters = this.limiters;
    if (!limiters) return [];
    return ORDER.flatMap((kind): Array<[RateLimiterAbstract, string]> => {
      let key = keys[kind];
      const limiter = limiters[kind];
      if (key === undefined || limiter === undefined) return [];
      if (kind === 'ip' || kind === 'mailIp') key = addressKey(key);
      return [[limiter, key.length > MAX_RAW_KEY ? `sha256:${sha256Hex(key)}` : key]];
    });
  }
}

function tooMany(msBeforeNext: number): AuthError {
  const retryAfter = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new AuthError('too_many_attempts', `too many failed attempts; try again in ${retryAfter} s`, { retryAfter });
}
