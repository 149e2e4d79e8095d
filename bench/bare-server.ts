/**
 * The reference of bench/outside.ts: a bare Express 5 process with one route answering
 * JSON like the example's GET /api/hello, and nothing else. It listens on 127.0.0.1,
 * port PORT (0: any), and prints `bare listening on http://127.0.0.1:<port>`.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';

const app = express();
const body = { message: 'hello', userId: '00000000-0000-4000-8000-000000000000', orgId: '00000000-0000-4000-8000-000000000001', role: 'owner' };
app.get('/hello', (_req, res) => {
  res.json(body);
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', (err?: Error) => {
  if (err) throw err;
  console.log(`bare listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
server.keepAliveTimeout = 60_000;

process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
