import { AuthError } from '../errors.js';
import type { LinkKind, MailData, MailKind } from '../mail/kinds.js';
import type { MailTokenKind, MailTokenRecord, Repositories } from '../ports.js';
import type { CoreContext } from './context.js';
import { randomSecret, sha256Hex } from './secrets.js';

/** What the account flows need from the mail service (`services.mail`). */
export interface MailSender {
  /** Renders the mail and writes it to the outbox on `tx`, so it is sent only if the transaction commits. */
  queue<K extends MailKind>(tx: Repositories, kind: K, to: string, data: MailData[K]): Promise<void>;
  link(kind: LinkKind, token: string): string;
  /** Throws 429 `too_many_attempts` when the account or IP has been sent too much mail. */
  assertCanSend(keys: { account?: string; ip?: string }): Promise<void>;
}

/** A token as just issued: the only time it exists in clear. */
export interface IssuedMailToken {
  token: string;
  link: string;
  expiresAt: number;
}

const TOKEN_FIELD = { errors: [{ path: 'token', message: 'cannot be used' }] };

/**
 * Tokens for links in mails: 256 random bits, stored as SHA-256, single use through one
 * conditional write. Issuing one kills the user's earlier tokens of that kind, so only
 * the newest link works.
 */
export function createMailTokens(ctx: CoreContext, mail: MailSender) {
  const { clock, config } = ctx;

  async function issue(tx: Repositories, kind: MailTokenKind, userId: string, email: string): Promise<IssuedMailToken> {
    const now = clock.now();
    const token = randomSecret(32);
    const expiresAt = now + config.mailTokenTtl[kind] * 1000;
    await tx.mailTokens.revokeForUser(userId, kind, now);
    await tx.mailTokens.insert({ idHash: sha256Hex(token), kind, userId, email, expiresAt, createdAt: now });
    return { token, link: mail.link(kind, token), expiresAt };
  }

  /**
   * Uses the token on `tx` (the caller's change rolls the use back if it fails). Throws
   * `invalid_token` (unknown, another kind's, superseded), `token_expired` or `token_used`.
   */
  async function consume(tx: Repositories, token: string, kinds: readonly MailTokenKind[]): Promise<MailTokenRecord> {
    const idHash = sha256Hex(token);
    const now = clock.now();
    const record = await tx.mailTokens.consume(idHash, now);
    if (record && kinds.includes(record.kind)) return record;
    if (record) throw new AuthError('invalid_token', 'this token is not for this request', TOKEN_FIELD);
    const found = await tx.mailTokens.find(idHash);
    if (!found || !kinds.includes(found.kind)) throw new AuthError('invalid_token', 'the token is not valid', TOKEN_FIELD);
    if (found.usedAt !== null) throw new AuthError('token_used', 'the token has already been used', TOKEN_FIELD);
    if (found.revokedAt !== null) throw new AuthError('invalid_token', 'a newer link was sent since: use the latest one', TOKEN_FIELD);
    throw new AuthError('token_expired', 'the token has expired: ask for a new one', TOKEN_FIELD);
  }

  return { issue, consume };
}

export type MailTokens = ReturnType<typeof createMailTokens>;
