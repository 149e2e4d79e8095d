import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { CoreContext } from './context.js';

/** Where realtime clients connect, resolved from the `realtime` option. */
export interface RealtimeConfig {
  /** ws:// or wss:// URL of the broker's MQTT-over-WebSocket endpoint. */
  url: URL;
  /** 'aws-iot': AWS IoT Core with a custom authorizer; 'broker': any broker with gatehouse's authorizer. */
  mode: 'aws-iot' | 'broker';
  region: string;
  authorizerName: string;
  namespace: string;
  ttl: number;
  defaultEnvSlug: string;
}

/** The credentials of the AxonPush wire contract, field for field. */
export interface RealtimeCredentials {
  endpoint: string;
  presignedWssUrl: string;
  expiresAt: string;
  topicPrefix: string;
  envSlug: string;
  topicTemplate: string;
  clientId: string;
  region: string;
  authorizerName: string;
  authToken: string;
}

export interface RealtimePrincipal {
  userId: string;
  orgId: string | null;
  /** Set when the caller authenticated with an API key. */
  apiKeyId?: string;
  /** The session (refresh family) of the access token the caller authenticated with. */
  sessionId?: string;
  /** The `jti` of that access token. */
  accessTokenId?: string;
  /** Epoch ms when the caller's credential ends for good (an API key's expiry): the realtime token ends by then too. */
  notAfter?: number;
}

/**
 * What can end the credentials, as claims the broker's authorizer checks against the
 * revocation list: `sid` (the session: logout, removal from the org, MFA changes),
 * `ati` (the access token itself, for tokens without a session) and `kid` (the API key).
 * Set on `claims` by assignment (see the issuer's sign: a spread-built object is slower to serialize).
 */
function addRevocableBy(claims: Record<string, unknown>, principal: RealtimePrincipal): void {
  if (principal.apiKeyId !== undefined) {
    claims.kid = principal.apiKeyId;
    return;
  }
  if (principal.sessionId !== undefined) claims.sid = principal.sessionId;
  if (principal.accessTokenId !== undefined) claims.ati = principal.accessTokenId;
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as Partial<PromiseLike<T>>).then === 'function';
}

export function createRealtimeCredentials(ctx: CoreContext, config: RealtimeConfig) {
  const presignedWssUrl =
    config.mode === 'aws-iot'
      ? `${config.url.href}${config.url.search ? '&' : '?'}x-amz-customauthorizer-name=${encodeURIComponent(config.authorizerName)}`
      : config.url.href;
  const endpoint = config.url.host;

  /**
   * Short-lived credentials bound to one org's topic prefix and one MQTT client id.
   * The token has its own use ('realtime'), so it is refused as an access token.
   */
  async function issue(principal: RealtimePrincipal, envSlug = config.defaultEnvSlug): Promise<RealtimeCredentials> {
    if (principal.orgId === null) throw new AuthError('org_required', 'realtime credentials need an organization: create or join one first');
    const topicPrefix = `${config.namespace}/${principal.orgId}`;
    const owner = principal.apiKeyId === undefined ? `u-${principal.userId.slice(0, 8)}` : `k-${principal.apiKeyId.slice(0, 8)}`;
    const clientId = `${owner}-${randomUUID()}`;
    const claims: Record<string, unknown> = { org: principal.orgId, tp: topicPrefix, cid: clientId };
    addRevocableBy(claims, principal);
    const pending = ctx.tokens.sign({
      usefor: 'realtime',
      sub: principal.userId,
      ttl: principal.notAfter === undefined ? config.ttl : Math.max(1, Math.min(config.ttl, Math.floor((principal.notAfter - ctx.clock.now()) / 1000))),
      claims,
    });
    // The default issuer signs synchronously: no await (a microtask and a resumption) for it.
    const signed = isPromiseLike(pending) ? await pending : pending;
    return {
      endpoint,
      presignedWssUrl,
      expiresAt: new Date(signed.exp * 1000).toISOString(),
      topicPrefix,
      envSlug,
      topicTemplate: `${topicPrefix}/{envSlug}/{appId}/{channelId}/{eventType}/{agentId}`,
      clientId,
      region: config.region,
      authorizerName: config.authorizerName,
      authToken: signed.token,
    };
  }

  return { issue };
}

export type RealtimeCredentialsService = ReturnType<typeof createRealtimeCredentials>;
