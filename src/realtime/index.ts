/** Realtime (MQTT) auth: token → session, topic rules, and adapters for aedes, EMQX and AWS IoT. */

export { isAllowedFilter, isAllowedTopic, isValidPrefix, MAX_TOPIC_BYTES } from './topics.js';
export { createRealtimeAuthorizer, isRealtimeAuthError, RealtimeAuthError, revocationKeysOf, revokes } from './authorizer.js';
export type {
  MqttPassword,
  RealtimeAuthErrorCode,
  RealtimeAuthorizer,
  RealtimeAuthorizerOptions,
  RealtimeRevocationSource,
  RealtimeSession,
} from './authorizer.js';
export { trackLiveSessions } from './live-sessions.js';
export type { LiveSessions } from './live-sessions.js';
export { createRevocationWatcher } from './revocation-watcher.js';
export type { RevocationWatcher, RevocationWatcherOptions } from './revocation-watcher.js';
export { attachAuthorizer } from './aedes.js';
export type {
  AedesClientLike,
  AedesLike,
  AedesPublishLike,
  AedesSubscriptionLike,
  AttachAuthorizerOptions,
  AttachedAuthorizer,
  ConnackReturnCode,
} from './aedes.js';
export { createAwsIotAuthorizerHandler, toPrincipalId } from './aws-iot.js';
export type {
  AwsIotAuthorizerAllow,
  AwsIotAuthorizerDeny,
  AwsIotAuthorizerEvent,
  AwsIotAuthorizerHandler,
  AwsIotAuthorizerOptions,
  AwsIotAuthorizerResult,
} from './aws-iot.js';
export { createEmqxHttpHandlers, emqxKickOut } from './emqx-http.js';
export type { EmqxAuthnResponse, EmqxAuthzResponse, EmqxHttpHandlers, EmqxHttpOptions, EmqxKickOutOptions } from './emqx-http.js';
