/** Realtime (MQTT) auth: token → session, topic rules, and adapters for aedes, EMQX and AWS IoT. */

export { isAllowedFilter, isAllowedTopic, isValidPrefix, MAX_TOPIC_BYTES } from './topics.js';
export { createRealtimeAuthorizer, isRealtimeAuthError, RealtimeAuthError } from './authorizer.js';
export type { MqttPassword, RealtimeAuthErrorCode, RealtimeAuthorizer, RealtimeAuthorizerOptions, RealtimeSession } from './authorizer.js';
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
export { createEmqxHttpHandlers } from './emqx-http.js';
export type { EmqxAuthnResponse, EmqxAuthzResponse, EmqxHttpOptions } from './emqx-http.js';
