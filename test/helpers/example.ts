import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duration } from 'gatehouse-auth';
import { createExampleApp } from '../../example-app/app.js';
import { startBroker } from '../../example-app/broker.js';
import { SECRET } from './harness.js';

export interface RunningExample {
  /** http://127.0.0.1:<port> */
  url: string;
  brokerUrl: string;
  close(): Promise<void>;
}

/**
 * The example app and its MQTT broker as `npm run example` composes them, in this
 * process, on 127.0.0.1 with run-time ports and a temp SQLite file.
 */
export async function startExample(options: { accessTtl?: Duration; realtimeTtl?: Duration; smtpUrl?: string } = {}): Promise<RunningExample> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-example-'));
  const broker = await startBroker({ host: '127.0.0.1', port: 0, secret: SECRET });
  // Without an SMTP server to read them, mails are dropped rather than printed into the test output.
  const quiet = options.smtpUrl === undefined ? { mailer: { send: async () => {} } } : {};
  const { app, auth, storage } = createExampleApp({ databaseFile: join(dir, 'example.sqlite'), secret: SECRET, bcryptCost: 4, realtimeUrl: broker.url, ...quiet, ...options });
  await auth.ready();
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    brokerUrl: broker.url,
    async close() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await auth.close();
      await broker.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
