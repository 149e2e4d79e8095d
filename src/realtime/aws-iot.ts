/**
 * An AWS IoT Core custom authorizer Lambda on top of a RealtimeAuthorizer.
 *
 * AWS IoT routes each MQTT CONNECT that names the authorizer (the AxonPush
 * `presignedWssUrl` carries `?x-amz-customauthorizer-name=...`) to the Lambda,
 * which answers with IAM policies scoped to the token's topic prefix. AWS then
 * enforces those policies on every PUBLISH/SUBSCRIBE/RECEIVE itself; the Lambda
 * is not asked again until `refreshAfterInSeconds`.
 *
 * Configure the authorizer with signing disabled: the JWT in the MQTT username
 * is the signed credential, verified here.
 *
 * Revocation: AWS has no call that ends a custom-authorizer connection, and
 * `disconnectAfterInSeconds` (the token's remaining life) cannot be below 300 s,
 * so a connection lasts at least five minutes whatever is revoked meanwhile. A
 * refresh re-runs the authorizer, and a deny then drops the connection; but a
 * Lambda is frozen between invocations and cannot keep a polled revocation list,
 * so credentials are honoured here until they expire: keep `realtime.ttl` short.
 */

import { createHash } from 'node:crypto';
import type { Clock, Logger } from '../ports.js';
import { isRealtimeAuthError, type RealtimeAuthorizer, type RealtimeSession } from './authorizer.js';

/**
 * The event AWS IoT passes to the Lambda (fields irrelevant to a connection are
 * omitted by AWS):
 *
 * ```json
 * { "token": "…", "signatureVerified": false, "protocols": ["tls", "mqtt"],
 *   "protocolData": {
 *     "tls": { "serverName": "abc123-ats.iot.us-east-1.amazonaws.com" },
 *     "http": { "headers": { … }, "queryString": "?x-amz-customauthorizer-name=…" },
 *     "mqtt": { "username": "<realtime JWT>", "password": "<base64, empty>", "clientId": "u-abc123-…" } },
 *   "connectionMetadata": { "id": "e56f08c3-…" } }
 * ```
 */
export interface AwsIotAuthorizerEvent {
  token?: string;
  signatureVerified?: boolean;
  protocols?: string[];
  protocolData?: {
    tls?: { serverName?: string };
    http?: { headers?: Record<string, string>; queryString?: string };
    mqtt?: {
      username?: string;
      /** Base64 of the CONNECT password bytes. */
      password?: string;
      /** Present only when the device sent one. */
      clientId?: string;
    };
  };
  connectionMetadata?: { id?: string };
}

/**
 * An allow answer. AWS requires `principalId` to match `[a-zA-Z0-9]{1,128}`, and
 * both durations to lie in [300, 86400] seconds; `policyDocuments` holds IAM
 * policy documents as JSON strings.
 *
 * ```json
 * { "isAuthenticated": true, "principalId": "uabc123",
 *   "disconnectAfterInSeconds": 3600, "refreshAfterInSeconds": 300,
 *   "policyDocuments": ["{\"Version\":\"2012-10-17\",\"Statement\":[…]}"] }
 * ```
 */
export interface AwsIotAuthorizerAllow {
  isAuthenticated: true;
  principalId: string;
  disconnectAfterInSeconds: number;
  refreshAfterInSeconds: number;
  policyDocuments: string[];
}

/** A deny answer: AWS refuses the CONNECT (or, on a refresh, drops the connection). */
export interface AwsIotAuthorizerDeny {
  isAuthenticated: false;
}

export type AwsIotAuthorizerResult = AwsIotAuthorizerAllow | AwsIotAuthorizerDeny;

export type AwsIotAuthorizerHandler = (event: AwsIotAuthorizerEvent) => Promise<AwsIotAuthorizerResult>;

export interface AwsIotAuthorizerOptions {
  region: string;
  accountId: string;
  /** ARN partition. Default: derived from `region` (`aws-cn`, `aws-us-gov`, else `aws`). */
  partition?: string;
  /**
   * How often AWS re-runs the authorizer on a live connection (clamped to
   * [300, 86400]). A refresh with an expired token disconnects the client.
   * Default 300, AWS' minimum.
   */
  refreshAfterSeconds?: number;
  clock?: Clock;
  /** Told about unexpected errors (never about tokens or routine denials). */
  logger?: Pick<Logger, 'error'>;
}

/** AWS' bounds for both durations in the authorizer response. */
const MIN_SECONDS = 300;
const MAX_SECONDS = 86_400;

const clampSeconds = (seconds: number) => Math.min(MAX_SECONDS, Math.max(MIN_SECONDS, Math.floor(seconds)));

/**
 * `*` and `?` are wildcards inside IAM resource ARNs and `${…}` is a policy
 * variable: a client id or prefix holding them would widen the policy.
 */
const IAM_SPECIAL = /[*?${}]/;

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * AWS only accepts `[a-zA-Z0-9]{1,128}`. An id that already fits is used as is;
 * otherwise its alphanumerics are kept for readability in logs and a hash of the
 * whole id is appended, so that `u-1` and `u1` stay distinct principals.
 */
export function toPrincipalId(userId: string): string {
  if (/^[a-zA-Z0-9]{1,128}$/.test(userId)) return userId;
  const readable = userId.replace(/[^a-zA-Z0-9]/g, '').slice(0, 95);
  return `${readable}h${createHash('sha256').update(userId, 'utf8').digest('hex').slice(0, 32)}`;
}

/**
 * AWS IoT may append a query to the username (`?x-amz-customauthorizer-name=…`
 * when the authorizer is named there, `?SDK=…&Version=…` from the AWS SDKs). A
 * JWT never contains `?`, so everything from the first one is not the token.
 */
function tokenFromUsername(username: string | undefined): string | undefined {
  if (username === undefined) return undefined;
  const query = username.indexOf('?');
  return query < 0 ? username : username.slice(0, query);
}

function buildPolicy(arnBase: string, session: RealtimeSession): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `${arnBase}:client/${session.clientId}` },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: `${arnBase}:topic/${session.topicPrefix}/*` },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${arnBase}:topicfilter/${session.topicPrefix}/*` },
    ],
  });
}

export function createAwsIotAuthorizerHandler(authorizer: RealtimeAuthorizer, options: AwsIotAuthorizerOptions): AwsIotAuthorizerHandler {
  const { region, accountId } = options;
  if (!/^[a-z0-9-]+$/.test(region)) throw new TypeError(`aws-iot: region must look like "us-east-1" (got ${JSON.stringify(region)})`);
  if (!/^\d{12}$/.test(accountId)) throw new TypeError('aws-iot: accountId must be the 12-digit AWS account id');
  const arnBase = `arn:${options.partition ?? partitionOf(region)}:iot:${region}:${accountId}`;
  const refreshAfterInSeconds = clampSeconds(options.refreshAfterSeconds ?? MIN_SECONDS);
  const clock = options.clock ?? { now: () => Date.now() };
  const deny: AwsIotAuthorizerDeny = { isAuthenticated: false };

  return async (event) => {
    try {
      const mqtt = event?.protocolData?.mqtt;
      if (mqtt === undefined) return deny;
      // Zero password bytes encode to '' in base64, so any non-empty string is a
      // non-empty password (decoding first would let invalid base64 pass as empty).
      const session = authorizer.authenticate(mqtt.clientId, tokenFromUsername(mqtt.username), mqtt.password);
      if (IAM_SPECIAL.test(session.clientId) || IAM_SPECIAL.test(session.topicPrefix)) return deny;

      // AWS cannot disconnect sooner than 300 s after connect; a shorter-lived token
      // is cut off at the first refresh instead (see `refreshAfterSeconds`).
      return {
        isAuthenticated: true,
        principalId: toPrincipalId(session.userId),
        disconnectAfterInSeconds: clampSeconds((session.expiresAt - clock.now()) / 1000),
        refreshAfterInSeconds,
        policyDocuments: [buildPolicy(arnBase, session)],
      };
    } catch (err) {
      if (!isRealtimeAuthError(err)) {
        options.logger?.error('gatehouse: AWS IoT authorizer failed unexpectedly', { error: err instanceof Error ? err.message : String(err) });
      }
      return deny;
    }
  };
}
