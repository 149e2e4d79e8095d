import type { RealtimeCredentialsService, RealtimePrincipal } from '../../core/realtime-credentials.js';
import { endpoint } from '../endpoint.js';
import * as s from '../schemas.js';
import * as r from '../responses.js';

/** Short-lived MQTT-over-WebSocket credentials, by Bearer token or API key. */
export function realtimeEndpoints(realtime: RealtimeCredentialsService) {
  return [
    endpoint({
      method: ['get', 'post'],
      path: '/iot-credentials',
      summary: "Credentials for the realtime broker, scoped to the organization's topic prefix",
      auth: 'any',
      // An application's own front end connects to the broker with its token.
      appTokens: true,
      responses: { 200: r.realtimeCredentials },
      query: s.realtimeQuery,
      async handler({ auth, query }) {
        // What can revoke the caller's credential goes into the realtime token, so the broker ends it too.
        // An access token's session goes on by refresh, but an API key's expiry is final.
        // Built by assignment: spreads cost more on this hot route.
        const principal: RealtimePrincipal = { userId: auth.userId, orgId: auth.orgId };
        if (auth.apiKeyId) {
          principal.apiKeyId = auth.apiKeyId;
          if (Number.isFinite(auth.expiresAt)) principal.notAfter = auth.expiresAt;
        } else {
          principal.accessTokenId = auth.tokenId;
          if (auth.sessionId) principal.sessionId = auth.sessionId;
        }
        return { status: 200, body: await realtime.issue(principal, query.envSlug) };
      },
    }),
  ];
}
