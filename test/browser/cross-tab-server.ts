/**
 * The example app with a 4 s access token, behind a middleware that records every
 * POST /auth/refresh (the cookie it presented and the answer's status), served at
 * GET /__refreshes. Run as its own process by cross-tab.browser.ts: the demo page's
 * bundler needs a real ESM loader (import.meta.resolve), which mocha's does not give.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createExampleApp } from '../../example-app/app.js';
import { mountDemoPage } from '../../example-app/demo-page.js';

const databaseFile = process.env.AUTH_DATABASE;
if (!databaseFile) throw new Error('AUTH_DATABASE is required');
const refreshes: { at: number; cookie: string; status: number }[] = [];

const { app, auth } = createExampleApp({
  databaseFile,
  secret: randomBytes(48).toString('base64'),
  bcryptCost: 4,
  accessTtl: `${Number(process.env.ACCESS_TTL_S ?? 4)}s`,
  mailer: { send: async () => {} },
});
await mountDemoPage(app);
await auth.ready();

const outer = express();
outer.get('/__refreshes', (_req, res) => void res.json(refreshes));
outer.use((req, res, next) => {
  if (req.method === 'POST' && req.path === '/auth/refresh') {
    const cookie = /(?:^|;\s*)gatehouse_refresh=([^;]*)/.exec(req.headers.cookie ?? '')?.[1] ?? '';
    res.on('finish', () => refreshes.push({ at: Date.now(), cookie, status: res.statusCode }));
  }
  next();
});
outer.use(app);
const server = outer.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.close();
  void auth.close().finally(() => process.exit(0));
});
