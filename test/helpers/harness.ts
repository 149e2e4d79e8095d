import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { expect } from 'chai';
import request from 'supertest';
import { createAuthRouter, type AuthRouter, type AuthRouterOptions } from 'gatehouse-auth';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';

export const SECRET = 'test-secret-that-is-long-enough-0123456789';

export interface Harness {
  app: express.Express;
  auth: AuthRouter;
  storage: KnexStorage;
  dir: string;
  close(): Promise<void>;
}

/**
 * A host app on a real SQLite file in a fresh temp directory, with the router at
 * /auth and guarded host routes, as a user of the package would build it.
 * `options.storage` replaces the SQLite file (PostgreSQL, for instance); the
 * harness closes it with the rest.
 */
export async function startHarness(overrides: Partial<AuthRouterOptions> = {}, options: { storage?: KnexStorage } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const storage = options.storage ?? createKnexStorage({ filename: join(dir, 'auth.sqlite') });
  const auth = createAuthRouter({
    storage,
    tokens: { secret: SECRET },
    passwords: { cost: 4 },
    logger: { warn: () => {}, error: () => {} },
    ...overrides,
  } as AuthRouterOptions);
  const app = express();
  app.use('/auth', auth);
  app.get('/api/hello', auth.requireAuth(), (req, res) => {
    res.json({ userId: req.auth?.userId, orgId: req.auth?.orgId, role: req.auth?.role, via: req.auth?.via });
  });
  app.get('/api/admin', auth.requireAuth({ roles: ['owner', 'admin'] }), (_req, res) => {
    res.json({ ok: true });
  });
  await auth.ready();
  return {
    app,
    auth,
    storage,
    dir,
    async close() {
      await auth.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Tables only background jobs touch (mail delivery, the purge lease): their queries can land inside any window. */
const BACKGROUND_TABLES = /\b\w*(mail_outbox|job_leases|webhook_deliveries|webhook_endpoints)\b/;

/**
 * Records the SQL the router sends while `fn` runs, leaving out the background jobs'
 * queries, which may run at any moment. Returns the statements, so a failed "no query"
 * assertion shows which ones ran.
 */
export async function queriesDuring(storage: KnexStorage, fn: () => Promise<unknown>, filter: (sql: string) => boolean = () => true): Promise<string[]> {
  const seen: string[] = [];
  const record = (q: { sql: string }) => {
    if (!BACKGROUND_TABLES.test(q.sql) && filter(q.sql)) seen.push(q.sql);
  };
  storage.knex.on('query', record);
  try {
    await fn();
  } finally {
    storage.knex.off('query', record);
  }
  return seen;
}

/** A second router ("instance") on the harness's storage, as another process of the same app would have. The caller closes its `auth`. */
export async function secondInstance(h: Harness): Promise<{ app: express.Express; auth: AuthRouter }> {
  const auth = createAuthRouter({ storage: h.storage, tokens: { secret: SECRET }, passwords: { cost: 4 }, logger: { warn: () => {}, error: () => {} } });
  const app = express();
  app.use('/auth', auth);
  app.get('/api/hello', auth.requireAuth(), (_req, res) => void res.json({ ok: true }));
  await auth.ready();
  return { app, auth };
}

let counter = 0;
/** A unique suffix per call, for emails and slugs. */
export function unique(): string {
  counter += 1;
  return `${Date.now().toString(36)}${counter}`;
}

export const PASSWORD = 'correct horse battery';

export interface SignedUp {
  email: string;
  userId: string;
  orgId: string;
  access: string;
  refresh: string;
}

/** Signs up a user with a new org and signs in. */
export async function signupWithOrg(app: express.Express, overrides: Record<string, unknown> = {}): Promise<SignedUp> {
  const id = unique();
  const email = `user-${id}@example.com`;
  const res = await request(app)
    .post('/auth/signup')
    .send({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: `Org ${id}`, slug: `org-${id}` }, ...overrides });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  const tokens = await signin(app, email);
  return { email, userId: res.body.id, orgId: res.body.organizationId, ...tokens };
}

export async function signin(app: express.Express, email: string, password = PASSWORD): Promise<{ access: string; refresh: string }> {
  const res = await request(app).post('/auth/signin').send({ email, password });
  if (res.status !== 200) throw new Error(`signin failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { access: res.body.access_token, refresh: res.body.refresh_token };
}

/** Invites into the org as `inviter` and signs up a new user with the code. */
export async function addMember(app: express.Express, inviter: SignedUp, role: 'member' | 'admin' | 'owner' = 'member'): Promise<SignedUp> {
  const inv = await request(app).post(`/auth/orgs/${inviter.orgId}/invitations`).set('Authorization', `Bearer ${inviter.access}`).send({ role });
  if (inv.status !== 201) throw new Error(`invite failed: ${inv.status} ${JSON.stringify(inv.body)}`);
  const email = `member-${unique()}@example.com`;
  const res = await request(app).post('/auth/signup').send({ email, password: PASSWORD, action: 'join', invitationCode: inv.body.code });
  if (res.status !== 201) throw new Error(`join failed: ${res.status} ${JSON.stringify(res.body)}`);
  const tokens = await signin(app, email);
  return { email, userId: res.body.id, orgId: res.body.organizationId, ...tokens };
}

/** Decodes a JWT payload without verifying it, to look at claims in assertions. */
export function claimsOf(token: string): Record<string, unknown> {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Asserts a problem+json error with its status, stable code and (for identity errors) `reason`. */
export function expectProblem(res: request.Response, status: number, code: string, reason?: string): void {
  expect(res.status, res.text).to.equal(status);
  expect(res.type).to.equal('application/problem+json');
  expect(res.body.code).to.equal(code);
  if (reason !== undefined) expect(res.body.reason).to.equal(reason);
}

/** The harness's app on a real listening socket, so parallel requests share one server. */
export async function listen(h: Harness): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = h.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
