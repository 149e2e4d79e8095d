import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createExampleApp } from './app.js';
import { startBroker } from './broker.js';

const here = import.meta.dirname;
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
const databaseFile = resolve(here, process.env.AUTH_DATABASE ?? 'data/gatehouse.sqlite');
const bcryptCost = process.env.BCRYPT_COST ? Number(process.env.BCRYPT_COST) : undefined;
const mqttPort = Number(process.env.MQTT_WS_PORT ?? 8083);

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
  writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  console.log(`AUTH_SECRET is not set: generated a secret and saved it to ${file} (mode 600)`);
  return secret;
}

const secret = loadSecret();
const broker = await startBroker({ host, port: mqttPort, secret });
console.log(`MQTT broker (MQTT 3.1.1 over WebSocket) listening on ${broker.url}`);
const { app, auth, storage } = createExampleApp({ databaseFile, secret, bcryptCost, realtimeUrl: broker.url });

// Migrate and load revocations before accepting traffic, so a bad database fails here.
await auth.ready();

const server = app.listen(port, host, (err?: Error) => {
  if (err) throw err;
  const { port: bound } = server.address() as AddressInfo;
  console.log(`gatehouse example listening on http://${host}:${bound}`);
});

async function shutdown(signal: string): Promise<void> {
  console.log(`${signal}: shutting down`);
  await new Promise((done) => server.close(done));
  auth.close();
  await broker.close();
  await storage.close();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void shutdown(signal));
}
