/**
 * gatehouse-auth/client: a fetch-based client for a gatehouse router, for browsers and
 * Node 20+. It imports nothing from Node or Express, and takes `mqtt` as a parameter.
 *
 * @module gatehouse-auth/client
 */
export { AuthClient, createAuthClient } from './auth-client.js';
export type { AuthClientEvents, AuthClientOptions, AuthState, MfaChallenge, MfaFactor, SignedIn, SignInResult, SignOutReason, Tokens } from './auth-client.js';
export { connectRealtime, RealtimeConnection } from './realtime.js';
export type { ConnectReason, MqttClientLike, MqttConnectOptions, MqttModule, QoS, RealtimeEvents, RealtimeOptions } from './realtime.js';
export { GatehouseError, isGatehouseError } from './errors.js';
export type { FieldProblem } from './errors.js';
export { decodeJwtPayload } from './jwt.js';
export type { AccessClaims } from './jwt.js';
export type * from './types.js';
