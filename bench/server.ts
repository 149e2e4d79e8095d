/**
 * The server under test, run by bench/run.ts in a child process (IPC channel), as
 * plain JavaScript on the built package (run.ts transpiles this file and
 * example-app/app.ts into dist/.bench/): the example app (gatehouse at /auth on
 * SQLite in WAL mode, bcrypt cost 10, guarded GET /api/hello) plus, for the
 * benchmark only:
 *   GET /bench/bare      a bare Express 5 route answering the same kind of JSON: the reference;
 *   GET /bench/sessions  mints refresh tokens for the seeded user through auth.services
 *                        (no bcrypt), so the refresh scenario gets one family per connection.
 * Configured by environment: BENCH_DATABASE, AUTH_SECRET, BCRYPT_COST, and BENCH_HASHER
 * ('js' | 'native' | 'argon2id'; unset: the router's default hasher), used by bench/hashers.ts.
 */
import type { AddressInfo } from 'node:net';
import { createPasswordHasher, type PasswordOptions } from 'gatehouse-auth';
import { createExampleApp } from '../example-app/app.js';

const databaseFile = process.env.BENCH_DATABASE;
const secret = process.env.AUTH_SECRET;
if (!databaseFile || !secret || !process.send) throw new Error('bench/server.ts is started by bench/run.ts');
const send = (message: unknown) => process.send?.(message);

const bcryptCost = Number(process.env.BCRYPT_COST ?? 10);
const hasherChoices: Record<string, PasswordOptions> = {
  js: { cost: bcryptCost, implementation: 'js' },
  native: { cost: bcryptCost, implementation: 'native' },
  argon2id: { algorithm: 'argon2id' },
};
const hasherName = process.env.BENCH_HASHER;
if (hasherName && !hasherChoices[hasherName]) throw new Error(`BENCH_HASHER must be one of ${Object.keys(hasherChoices).join(', ')}`);
const hasher = hasherName ? createPasswordHasher(hasherChoices[hasherName]) : undefined;

const { app, auth, storage } = createExampleApp({
  databaseFile,
  secret,
  bcryptCost,
  ...(hasher ? { passwords: hasher } : {}),
  // Credentials name the broker; the benchmark never connects to it.
  realtimeUrl: 'ws://127.0.0.1:8083/mqtt',
  // The sign-up mails of the seeded accounts would only fill the output.
  mailer: { send: async () => {} },
});

const bareBody = { message: 'hello', userId: '00000000-0000-4000-8000-000000000000', orgId: '00000000-0000-4000-8000-000000000001', role: 'owner' };
app.get('/bench/bare', (_req, res) => {
  res.json(bareBody);
});

app.get('/bench/sessions', async (req, res) => {
  const userId = String(req.query.user);
  const count = Math.min(Number(req.query.count ?? 1), 1000);
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push((await auth.services.sessions.start(userId)).refreshToken);
  res.json({ refresh_tokens: tokens });
});

await auth.ready();
const server = app.listen(0, '127.0.0.1', (err?: Error) => {
  if (err) throw err;
  send({ type: 'listening', port: (server.address() as AddressInfo).port, hasher: hasher && { algorithm: hasher.algorithm, implementation: hasher.implementation } });
});
server.keepAliveTimeout = 60_000;

const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (message: { type: string }) => {
  if (message.type === 'memory') {
    // A full collection first, so repeated readings compare live memory, not garbage.
    gc?.();
    send({ type: 'memory', usage: process.memoryUsage() });
  }
});

async function shutdown(): Promise<void> {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
  await auth.close();
  await hasher?.close();
  await storage.close();
  process.exit(0);
}
// Ends with the parent, even when the parent dies without asking.
process.once('disconnect', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
