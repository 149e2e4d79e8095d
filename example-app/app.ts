import express from 'express';
import { AuthError, createAuthRouter, createSmtpMailer, presets, type Duration, type Mailer, type PasswordHasher, type PasswordOptions, type PresetName } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { mountWebhookReceiver } from './webhook-receiver.js';

export interface ExampleAppOptions {
  /** SQLite file for accounts, orgs and sessions; created (with its directory) when missing. */
  databaseFile: string;
  /**
   * A `postgres://` URL; when set it replaces `databaseFile`, and every instance
   * started with the same URL (and secret) serves the same accounts and sessions.
   */
  databaseUrl?: string;
  /** How soon a logout on another instance reaches this one. Default '5s'. */
  revocationPollInterval?: Duration;
  /** HS256 signing secret, at least 32 bytes. */
  secret: string;
  /** bcrypt work factor; default 10. */
  bcryptCost?: number;
  /** Password hashing options or a hasher, replacing `bcryptCost` (the hasher benchmark passes each hasher here). */
  passwords?: PasswordOptions | PasswordHasher;
  /** MQTT-over-WebSocket URL of the realtime broker; without it /auth/iot-credentials is not mounted. */
  realtimeUrl?: string;
  /** Lifetime of realtime credentials; default '15m'. Tests shorten it to watch a rollover. */
  realtimeTtl?: Duration;
  /** Access token lifetime; default '15m'. Tests shorten it to watch refreshes. */
  accessTtl?: Duration;
  /** The wire contract; default 'axonpush' (mounted at /auth). The others are mounted at the root. */
  preset?: PresetName;
  /** Where mail goes, for example 'smtp://127.0.0.1:2525'; without it the log mailer prints each mail and its links. */
  smtpUrl?: string;
  /** Base of the links in mails (the demo page answers /verify-email and /reset-password); default 'http://localhost:3000'. */
  appUrl?: string;
  /** Sender of the mails. */
  mailFrom?: string;
  /** A mailer of your own; wins over `smtpUrl` (the tests pass a silent one). */
  mailer?: Mailer;
}

export const DEFAULT_MAIL_FROM = 'gatehouse example <no-reply@localhost>';

/** The permissions the example's own routes check; an org's custom roles are made of these. */
export const EXAMPLE_PERMISSIONS = ['projects:read', 'projects:write', 'billing:manage'] as const;

/**
 * Passkeys bound to APP_URL's host. WebAuthn refuses IP addresses as RP IDs, so a loopback
 * address becomes `localhost` (the demo is then opened at http://localhost:PORT); any other
 * IP address gets no passkeys rather than a failed start.
 */
export function demoPasskeys(appUrl: string): { passkeys?: { rpID: string; rpName: string; origins: string[] } } {
  const url = new URL(appUrl);
  if (['127.0.0.1', '[::1]', '0.0.0.0', '[::]'].includes(url.hostname)) url.hostname = 'localhost';
  if (/^[\d.]+$|^\[/.test(url.hostname)) return {};
  return { passkeys: { rpID: url.hostname, rpName: 'gatehouse example', origins: [url.origin] } };
}

/** A host app with gatehouse mounted at /auth and two guarded routes of its own. */
export function createExampleApp(options: ExampleAppOptions) {
  const { databaseFile, databaseUrl, revocationPollInterval, secret, bcryptCost, realtimeUrl, realtimeTtl, accessTtl, preset = 'axonpush' } = options;
  const storage = createKnexStorage(databaseUrl ?? databaseFile);
  const insecureLoopback = process.env.NODE_ENV !== 'production';
  const auth = createAuthRouter({
    storage,
    preset,
    emailVerification: 'optional',
    mail: {
      ...(options.mailer ? { mailer: options.mailer } : options.smtpUrl ? { mailer: createSmtpMailer(options.smtpUrl) } : {}),
      from: options.mailFrom ?? DEFAULT_MAIL_FROM,
      productName: 'gatehouse example',
      ...(options.appUrl ? { appUrl: options.appUrl } : {}),
    },
    tokens: { secret, ...(accessTtl ? { accessTtl } : {}) },
    passwords: options.passwords ?? { cost: bcryptCost },
    // The demo page keeps the refresh token in an HttpOnly cookie (X-Auth-Transport: cookie); body-token clients still work.
    ...(preset === 'axonpush' ? { cookies: true } : {}),
    // Passkeys work when the demo is opened at http://localhost:PORT (see demoPasskeys).
    ...(preset === 'axonpush' ? demoPasskeys(options.appUrl ?? 'http://localhost:3000') : {}),
    ...(revocationPollInterval ? { revocation: { pollInterval: revocationPollInterval } } : {}),
    ...(realtimeUrl ? { realtime: { url: realtimeUrl, ...(realtimeTtl ? { ttl: realtimeTtl } : {}) } } : {}),
    // The demo page's built-in receiver (/demo/webhook-receiver) is plain http on this machine: allowed outside production only.
    webhooks: { allowInsecureLoopback: insecureLoopback },
    // The host's permissions (docs/permissions.md): owners hold every one, admins the project ones,
    // members only reading; an org's owners give members more with a custom role.
    permissions: [...EXAMPLE_PERMISSIONS],
    rolePermissions: { admin: ['projects:read', 'projects:write'], member: ['projects:read'] },
  });

  const app = express();
  // The default contract lives under /auth; the others name absolute paths (/auth/login, /api/login …).
  if (preset === 'axonpush') app.use('/auth', auth);
  else app.use(auth);

  // datarhei's clients call guarded routes under /api/v3/. This stand-in for Core serves one:
  // the process list, empty since the example runs no FFmpeg. Anything else is a 404 in
  // Core's error shape, so a client sees the route is missing rather than a made-up answer.
  if (preset === 'datarhei') {
    app.get('/api/v3/process', auth.requireAuth(), (_req, res) => void res.json([]));
    app.use('/api/v3', auth.requireAuth(), (req, res) => {
      const path = req.originalUrl.split('?')[0];
      const { contentType, body } = presets.datarhei.errorBody!(new AuthError('not_found', `${req.method} ${path} is not served by this example`));
      res.status(404).type(contentType).send(JSON.stringify(body));
    });
  }

  // The demo page owns `/` (example-app/demo-page.ts); this JSON index lives at /api (datarhei's own /api comes first).
  app.get('/api', (_req, res) => {
    res.json({
      name: 'gatehouse example',
      pages: { 'GET /': 'the demo page', 'GET /docs': 'API reference (Swagger UI)', 'GET /auth/openapi.json': 'OpenAPI 3.1 document of the mounted routes' },
      routes: {
        'POST /auth/signup': 'create an account and an organization (or join one with an invitation code)',
        'POST /auth/signin': 'email + password -> { access_token, refresh_token }',
        'POST /auth/refresh': 'refresh_token -> a new pair',
        'POST /auth/logout': 'Bearer; ends the session',
        'GET /auth/me': 'Bearer or API key; the signed-in user',
        'POST /auth/api-keys': 'Bearer (owner/admin); create an API key for the org',
        'GET /auth/iot-credentials': 'Bearer, or X-API-Key + X-Tenant-Id; realtime (MQTT over WebSocket) credentials',
        'POST /auth/mfa/totp/setup': 'Bearer; start TOTP enrolment',
        'POST /auth/password/forgot': 'email -> 202; a reset link is mailed when the address has an account',
        'POST /auth/password/reset': 'token (from the link) + password -> 204; every session ends',
        'POST /auth/email/verify': 'token (from the link) -> the address is verified',
        'GET /auth/sessions': 'Bearer; the signed-in user’s sessions (DELETE /auth/sessions/:id ends one)',
        'GET /api/hello': 'Bearer or API key; any signed-in user',
        'GET /api/admin': 'Bearer or API key; owners and admins only',
        'GET /api/projects': 'Bearer or API key; needs the permission projects:read (every role has it)',
        'POST /api/projects': 'Bearer or API key; needs projects:write (owners, admins, members with a custom role holding it)',
        'GET /auth/orgs/:orgId/roles': 'Bearer; the org’s built-in and custom roles and every permission',
      },
    });
  });

  if (preset === 'axonpush' && insecureLoopback) mountWebhookReceiver(app, auth.requireAuth({ accept: ['jwt'], roles: ['owner', 'admin'] }));

  app.get('/api/hello', auth.requireAuth(), (req, res) => {
    const { userId, orgId, role } = req.auth!;
    res.json({ message: 'hello', userId, orgId, role });
  });

  app.get('/api/admin', auth.requireAuth({ roles: ['owner', 'admin'] }), (req, res) => {
    const { userId, orgId, role } = req.auth!;
    res.json({ message: 'hello, admin', userId, orgId, role });
  });

  // Guarded by permission rather than role: 403 permission_denied names the missing one.
  app.get('/api/projects', auth.requireAuth({ permissions: ['projects:read'] }), (req, res) => {
    const { userId, orgId, role, permissions } = req.auth!;
    res.json({ message: 'the projects (read)', userId, orgId, role, permissions });
  });

  app.post('/api/projects', auth.requireAuth({ permissions: ['projects:write'] }), (req, res) => {
    const { userId, orgId, role, permissions } = req.auth!;
    res.status(201).json({ message: 'project created (write)', userId, orgId, role, permissions });
  });

  return { app, auth, storage };
}
