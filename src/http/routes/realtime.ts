import type { RealtimeCredentialsService } from '../../core/realtime-credentials.js';
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
        const principal = { userId: auth.userId, orgId: auth.orgId, ...(auth.apiKeyId ? { apiKeyId: auth.apiKeyId } : {}) };
        return { status: 200, body: await realtime.issue(principal, query.envSlug) };
      },
    }),
  ];
}
