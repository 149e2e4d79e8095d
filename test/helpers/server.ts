import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { createAuthRouter, type AuthRouter, type AuthRouterOptions } from 'gatehouse-auth';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { SECRET } from './harness.js';

export interface PresetServer {
  baseUrl: string;
  auth: AuthRouter;
  storage: KnexStorage;
  app: express.Express;
  close(): Promise<void>;
}

/**
 * A host app with the router mounted at its root (as the non-default presets are),
 * a guarded route of its own under `guardedPath`, listening on 127.0.0.1.
 */
export async function startPresetServer(options: Partial<AuthRouterOptions> & { guardedPath?: string } = {}): Promise<PresetServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-preset-'));
  const storage = createKnexStorage({ filename: join(dir, 'auth.sqlite') });
  const { guardedPath = '/api/v3/widgets', ...rest } = options;
  const auth = createAuthRouter({
    storage,
    tokens: { secret: SECRET },
    passwords: { cost: 4 },
    logger: { warn: () => {}, error: () => {} },
    ...rest,
  } as AuthRouterOptions);
  const app = express();
  app.use(auth);
  app.get(guardedPath, auth.requireAuth(), (req, res) => {
    res.json({ userId: req.auth?.userId, orgId: req.auth?.orgId, via: req.auth?.via, appId: req.auth?.appId ?? null });
  });
  await auth.ready();
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    auth,
    storage,
    app,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await auth.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** fetch + JSON, returning status, headers and parsed body. */
export async function call(baseUrl: string, path: string, init: { method?: string; headers?: Record<string, string>; json?: unknown; body?: string } = {}) {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  let body = init.body;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const res = await fetch(`${baseUrl}${path}`, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed as Record<string, unknown> & { [k: string]: unknown } };
}
