import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { presets, type Duration, type PresetName } from 'gatehouse-auth';
import { createExampleApp } from './app.js';
import { mountDemoPage } from './demo-page.js';
import { startBroker } from './broker.js';
import { ensureDemoAccount } from './demo-account.js';

const here = import.meta.dirname;
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
const databaseFile = resolve(here, process.env.AUTH_DATABASE ?? 'data/gatehouse.sqlite');
// PostgreSQL when set: start more instances with the same DATABASE_URL and AUTH_SECRET.
const databaseUrl = process.env.DATABASE_URL || undefined;
const bcryptCost = process.env.BCRYPT_COST ? Number(process.env.BCRYPT_COST) : undefined;
// 'off' runs no broker (and no /auth/iot-credentials); 0 picks a free port.
const mqttSetting = process.env.MQTT_WS_PORT ?? '8083';
const revocationPollInterval = process.env.REVOCATION_POLL_INTERVAL as Duration | undefined;
const preset = (process.env.PRESET ?? 'axonpush') as PresetName;
// Mail: through SMTP when SMTP_URL is set, else printed to the console (log mailer).
const smtpUrl = process.env.SMTP_URL || undefined;
const mailFrom = process.env.MAIL_FROM || undefined;
if (!(preset in presets)) {
  console.error(`PRESET must be one of ${Object.keys(presets).join(', ')} (got ${preset})`);
  process.exit(1);
}

/** AUTH_SECRET, or (for the demo only) a random secret kept in example-app/data/secret. */
function loadSecret(): string {
  if (process.env.AUTH_SECRET) return process.env.AUTH_SECRET;
  const file = resolve(here, 'data/secret');
  try {
    const secret = readFileSync(file, 'utf8').trim();
    console.log(`AUTH_SECRET is not set: using the secret kept in ${file}`);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(48).toString('base64');
  mkdirSync(resolve(here, 'data'), { recursive: true });
  try {
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another instance started at the same moment and wrote it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadSecret();
    throw err;
  }
  console.log(`AUTH_SECRET is not set: generated a secret and saved it to ${file} (mode 600)`);
  return secret;
}

/** The database URL without its password, for the log. */
function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/**
 * The HTTP port is bound first, so that with PORT=0 the links in mails (APP_URL's
 * default) name the port actually used. Requests get 503 until the app is ready.
 */
let handler: RequestListener | null = null;
const server = createServer((req, res) => {
  if (handler) return handler(req, res);
  res.writeHead(503, { 'retry-after': '1' }).end('starting');
});
await new Promise<void>((listening) => {
  server.once('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') throw err;
    console.error(`PORT ${port} is in use (another instance?): set PORT to a free port, or 0 for any`);
    process.exit(1);
  });
  server.listen(port, host, listening);
});
const { port: bound } = server.address() as AddressInfo;
const listeningUrl = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
// A wildcard address is no place to send a browser: links then name localhost.
const appUrl = process.env.APP_URL || (host === '0.0.0.0' || host === '::' ? `http://localhost:${bound}` : listeningUrl);

const secret = loadSecret();
const broker = mqttSetting === 'off' ? null : await startBroker({ host, port: Number(mqttSetting), secret }).catch((err: NodeJS.ErrnoException) => {
  if (err.code !== 'EADDRINUSE') throw err;
  console.error(`MQTT_WS_PORT ${mqttSetting} is in use (another instance?): set MQTT_WS_PORT to a free port, 0 for any, or off`);
  process.exit(1);
});
if (broker) console.log(`MQTT broker (MQTT 5 and 3.1.1 over WebSocket) listening on ${broker.url}`);
console.log(databaseUrl ? `storage: PostgreSQL at ${redacted(databaseUrl)}` : `storage: SQLite at ${databaseFile}`);
const { app, auth, storage } = createExampleApp({ databaseFile, databaseUrl, revocationPollInterval, secret, bcryptCost, realtimeUrl: broker?.url, preset, smtpUrl, mailFrom, appUrl });
console.log(smtpUrl ? `mail: SMTP at ${redacted(smtpUrl)}, links to ${appUrl}` : `mail: printed here (set SMTP_URL to send it), links to ${appUrl}`);
// From here on the broker refuses revoked credentials and drops their live connections.
broker?.useAuthorizer(auth.realtimeAuthorizer());
// The web page (it speaks the default contract) at / and Swagger UI at /docs; bundled now, so a broken page fails the start.
if (preset === 'axonpush') await mountDemoPage(app);

// Migrate and load revocations before accepting traffic, so a bad database fails here.
await auth.ready();
console.log(`preset: ${preset}`);

// datarhei has no sign-up route and axonize signs in per application: DEMO_* makes an account (and DEMO_APP_URL an application) to log in with.
if (process.env.DEMO_EMAIL && process.env.DEMO_PASSWORD) {
  const demo = { email: process.env.DEMO_EMAIL, username: process.env.DEMO_USERNAME, password: process.env.DEMO_PASSWORD, appUrl: process.env.DEMO_APP_URL };
  const { appId } = await ensureDemoAccount(auth, storage, demo);
  console.log(`demo account ${demo.email}${demo.username ? ` (username ${demo.username})` : ''} is ready`);
  if (appId) console.log(`demo application ${demo.appUrl}: appId ${appId}`);
}

handler = app;
console.log(`gatehouse example listening on ${listeningUrl}`);

async function shutdown(signal: string): Promise<void> {
  console.log(`${signal}: shutting down`);
  await new Promise((done) => server.close(done));
  await auth.close();
  await broker?.close();
  await storage.close();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void shutdown(signal));
}
