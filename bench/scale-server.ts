/**
 * The router the scale bench (bench/scale.ts) measures: `serve()` mounts it on Express in
 * the calling process (the churn run), and run as a child process (`startScaleServer`)
 * it serves one seeded store on its own heap. The p99 of a sub-millisecond request is
 * set by the few garbage-collection pauses among a thousand: in one process with the
 * seeding, the other store's server and the measuring client, every request of either
 * store waits on the young-generation collections of all of them, and which store's
 * requests happen to take them decided its p99.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import express from 'express';
import { createAuthRouter, type AuthRouter, type AuthRouterOptions } from '../src/index.js';
import { createKnexStorage, type KnexStorage } from '../adapters/knex/index.js';
import { stopChild } from './process.js';

/** Where a store lives: enough for another process to open it. */
export type StoreConfig = { client: 'pg'; url: string } | { client: 'sqlite'; filename: string };

/** The storage every part of the scale bench opens (seeding, serving, startup), alike in every process. */
export function openStore(config: StoreConfig): KnexStorage {
  return config.client === 'pg'
    ? createKnexStorage({ client: 'pg', connection: { connectionString: config.url }, pool: { min: 0, max: 10 } })
    : createKnexStorage({ filename: config.filename });
}

/** Low on purpose: bcrypt at cost 10 would hide the database's share of a sign-in. Every store uses it. */
export const BCRYPT_COST = 4;

/** `auth.close()`, bounded: a stalled close must not hang the bench. */
export async function closeWithin(auth: AuthRouter, ms = 5000, progress: (message: string) => void = () => {}): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((done) => {
    timer = setTimeout(() => {
      progress(`router close did not finish within ${ms} ms; going on`);
      done();
    }, ms);
  });
  await Promise.race([auth.close(), late]);
  clearTimeout(timer);
}

export interface Running {
  url: string;
  close(): Promise<void>;
}

/** The router on `storage` at /auth, plus a Bearer-guarded GET /api/hello, listening on a free port of 127.0.0.1. */
export async function serve(storage: KnexStorage, secret: string, overrides: Partial<AuthRouterOptions> = {}): Promise<Running & { auth: AuthRouter }> {
  const auth = createAuthRouter({
    storage,
    tokens: { secret },
    passwords: { cost: BCRYPT_COST },
    logger: { warn: () => {}, error: () => {} },
    mail: { worker: { autoStart: false } },
    purge: { enabled: false },
    ...overrides,
  } as AuthRouterOptions);
  const app = express();
  app.use('/auth', auth);
  app.get('/api/hello', auth.requireAuth(), (_req, res) => void res.json({ ok: true }));
  await auth.ready();
  const server = await new Promise<Server>((done) => {
    const s = app.listen(0, '127.0.0.1', () => done(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    auth,
    async close() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await closeWithin(auth);
    },
  };
}

/** Serves `store` from a child process running this file (with the parent's tsx loader); resolves once it listens. */
export async function startScaleServer(store: StoreConfig, secret: string, timeoutMs = 60_000): Promise<Running> {
  const child: ChildProcess = fork(import.meta.filename, [], {
    env: { ...process.env, SCALE_STORE: JSON.stringify(store), SCALE_SECRET: secret },
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`scale server did not listen within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => fail(new Error(`scale server exited (${code}) before listening`)));
    child.on('message', (message: { type: string; url?: string }) => {
      if (message.type !== 'listening' || !message.url) return;
      clearTimeout(timer);
      done(message.url);
    });
  }).catch(async (err: unknown) => {
    await stopChild(child);
    throw err;
  });
  return { url, close: () => stopChild(child) };
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const store = JSON.parse(process.env.SCALE_STORE ?? 'null') as StoreConfig | null;
  const secret = process.env.SCALE_SECRET;
  if (!store || !secret || !process.send) throw new Error('bench/scale-server.ts is started by bench/scale.ts');
  const storage = openStore(store);
  const running = await serve(storage, secret);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.close();
    await storage.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  // Ends with the parent, even when the parent dies without asking.
  process.on('disconnect', () => void stop());
  process.send({ type: 'listening', url: running.url });
}
