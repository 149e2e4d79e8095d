import express from 'express';
import { createAuthRouter } from 'gatehouse';
import { createKnexStorage } from 'gatehouse/adapters/knex';

export interface ExampleAppOptions {
  /** SQLite file for accounts, orgs and sessions; created (with its directory) when missing. */
  databaseFile: string;
  /** HS256 signing secret, at least 32 bytes. */
  secret: string;
  /** bcrypt work factor; default 10. */
  bcryptCost?: number;
  /** MQTT-over-WebSocket URL of the realtime broker; without it /auth/iot-credentials is not mounted. */
  realtimeUrl?: string;
}

/** A host app with gatehouse mounted at /auth and two guarded routes of its own. */
export function createExampleApp({ databaseFile, secret, bcryptCost, realtimeUrl }: ExampleAppOptions) {
  const storage = createKnexStorage(databaseFile);
  const auth = createAuthRouter({
    storage,
    tokens: { secret },
    passwords: { cost: bcryptCost },
    ...(realtimeUrl ? { realtime: { url: realtimeUrl } } : {}),
  });

  const app = express();
  app.use('/auth', auth);

  app.get('/', (_req, res) => {
    res.json({
      name: 'gatehouse example',
      routes: {
        'POST /auth/signup': 'create an account and an organization (or join one with an invitation code)',
        'POST /auth/signin': 'email + password -> { access_token, refresh_token }',
        'POST /auth/refresh': 'refresh_token -> a new pair',
        'POST /auth/logout': 'Bearer; ends the session',
        'GET /auth/me': 'Bearer or API key; the signed-in user',
        'POST /auth/api-keys': 'Bearer (owner/admin); create an API key for the org',
        'GET /auth/iot-credentials': 'Bearer, or X-API-Key + X-Tenant-Id; realtime (MQTT over WebSocket) credentials',
        'POST /auth/mfa/totp/setup': 'Bearer; start TOTP enrolment',
        'GET /api/hello': 'Bearer or API key; any signed-in user',
        'GET /api/admin': 'Bearer or API key; owners and admins only',
      },
    });
  });

  app.get('/api/hello', auth.requireAuth(), (req, res) => {
    const { userId, orgId, role } = req.auth!;
    res.json({ message: 'hello', userId, orgId, role });
  });

  app.get('/api/admin', auth.requireAuth({ roles: ['owner', 'admin'] }), (req, res) => {
    const { userId, orgId, role } = req.auth!;
    res.json({ message: 'hello, admin', userId, orgId, role });
  });

  return { app, auth, storage };
}
