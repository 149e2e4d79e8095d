import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { SECRET } from '../helpers/harness.js';

const root = resolve(import.meta.dirname, '../..');

/** Runs `example-app/server.ts` as `npm run example` does until it exits; what it printed to stderr. */
async function runExample(env: Record<string, string>, dir: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=gatehouse-source', 'example-app/server.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', AUTH_SECRET: SECRET, AUTH_DATABASE: join(dir, 'example.sqlite'), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stderr };
}

describe('example app: a busy port', () => {
  let taken: Server;
  let port: number;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-example-ports-'));
    taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    port = (taken.address() as AddressInfo).port;
  });
  after(() => {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('PORT in use: exits 1 with one line naming PORT, no stack trace', async () => {
    const { code, stderr } = await runExample({ PORT: String(port), MQTT_WS_PORT: 'off' }, dir);
    expect(code).to.equal(1);
    expect(stderr.trim().split('\n'), stderr).to.deep.equal([`PORT ${port} is in use (another instance?): set PORT to a free port, or 0 for any`]);
  });

  it('MQTT_WS_PORT in use: exits 1 with one line naming MQTT_WS_PORT', async () => {
    const { code, stderr } = await runExample({ PORT: '0', MQTT_WS_PORT: String(port) }, dir);
    expect(code).to.equal(1);
    expect(stderr.trim().split('\n'), stderr).to.have.length(1);
    expect(stderr).to.match(new RegExp(`^MQTT_WS_PORT ${port} is in use`));
  });
});
