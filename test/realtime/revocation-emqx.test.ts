import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { createAuthRouter, createEmqxHttpHandlers, emqxKickOut, type AuthRouter, type AuthRouterOptions, type EmqxHttpHandlers } from 'gatehouse-auth';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import express from 'express';
import { SECRET, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** A stand-in for EMQX's REST API: records each call, answers 204 (404 for clients it was told are gone). */
async function startEmqxStandIn(): Promise<{ url: string; calls: Recorded[]; gone: Set<string>; close(): Promise<void> }> {
  const calls: Recorded[] = [];
  const gone = new Set<string>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    calls.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const clientId = decodeURIComponent((req.url ?? '').replace('/api/v5/clients/', ''));
    res.writeHead(gone.has(clientId) ? 404 : 204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    gone,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function eventually(predicate: () => boolean, withinMs: number, what: string): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * The EMQX binding with the router's revocation view: revoked credentials are denied by
 * /authn and /authz, and the clients they connected are kicked through EMQX's REST API
 * (`DELETE /api/v5/clients/{clientid}`), here played by a local HTTP server that records
 * the calls. A second router on the same SQLite file kicks after its poll.
 */
describe('EMQX hooks: revocation kicks the client out', function () {
  this.timeout(20_000);
  const options: Partial<AuthRouterOptions> = {
    realtime: { url: 'wss://emqx.example.test:8084/mqtt', ttl: '10m' },
    revocation: { pollInterval: '1s', maxStaleness: '30s' },
  };
  let h: Harness;
  let emqx: Awaited<ReturnType<typeof startEmqxStandIn>>;
  let hooks: EmqxHttpHandlers;
  let storageB: KnexStorage;
  let authB: AuthRouter;
  let hooksB: EmqxHttpHandlers;
  let appB: express.Express;
  let owner: SignedUp;
  const basic = `Basic ${Buffer.from('gatehouse-key:gatehouse-secret').toString('base64')}`;

  before(async () => {
    emqx = await startEmqxStandIn();
    h = await startHarness(options);
    const kickOut = emqxKickOut({ url: emqx.url, apiKey: 'gatehouse-key', apiSecret: 'gatehouse-secret' });
    hooks = createEmqxHttpHandlers(h.auth.realtimeAuthorizer(), { kickOut });
    h.app.use('/mqtt', hooks);

    storageB = createKnexStorage({ filename: join(h.dir, 'auth.sqlite') });
    authB = createAuthRouter({ storage: storageB, tokens: { secret: SECRET }, passwords: { cost: 4 }, logger: { warn: () => {}, error: () => {} }, ...options } as AuthRouterOptions);
    await authB.ready();
    hooksB = createEmqxHttpHandlers(authB.realtimeAuthorizer(), { kickOut });
    appB = express().use('/auth', authB).use('/mqtt', hooksB);

    owner = await signupWithOrg(h.app);
  });

  after(async () => {
    hooks?.close();
    hooksB?.close();
    await authB?.close();
    await storageB?.close();
    await h?.close();
    await emqx?.close();
  });

  async function credentials(access: string): Promise<{ clientId: string; authToken: string; topicPrefix: string }> {
    const res = await request(h.app).get('/auth/iot-credentials').set(bearer(access));
    expect(res.status, res.text).to.equal(200);
    return res.body;
  }

  const authn = (app: express.Express, c: { clientId: string; authToken: string }) =>
    request(app).post('/mqtt/authn').send({ clientid: c.clientId, username: c.authToken, password: '' });

  it('logout: the client is kicked via DELETE /api/v5/clients/{clientid}, then denied', async () => {
    const session = await request(h.app).post('/auth/signin').send({ email: owner.email, password: 'correct horse battery' });
    const access = session.body.access_token as string;
    const creds = await credentials(access);
    const bystander = await credentials(owner.access);
    expect((await authn(h.app, creds)).body.result).to.equal('allow');
    expect((await authn(h.app, bystander)).body.result).to.equal('allow');
    emqx.calls.length = 0;

    expect((await request(h.app).post('/auth/logout').set(bearer(access))).status).to.equal(204);
    await eventually(() => emqx.calls.length > 0, 1_000, 'the kick-out call');
    expect(emqx.calls).to.deep.equal([{ method: 'DELETE', url: `/api/v5/clients/${encodeURIComponent(creds.clientId)}`, authorization: basic }]);

    expect((await authn(h.app, creds)).body).to.deep.equal({ result: 'deny', is_superuser: false });
    const authz = await request(h.app)
      .post('/mqtt/authz')
      .send({ clientid: creds.clientId, username: creds.authToken, topic: `${creds.topicPrefix}/default/x`, action: 'publish' });
    expect(authz.body).to.deep.equal({ result: 'deny' });
    expect((await authn(h.app, bystander)).body.result).to.equal('allow');
  });

  it('the other instance kicks its clients within its poll interval; a client already gone (404) is fine', async () => {
    const session = await request(h.app).post('/auth/signin').send({ email: owner.email, password: 'correct horse battery' });
    const access = session.body.access_token as string;
    const creds = await credentials(access);
    expect((await authn(appB, creds)).body.result).to.equal('allow');
    emqx.gone.add(creds.clientId);
    emqx.calls.length = 0;

    expect((await request(h.app).post('/auth/logout').set(bearer(access))).status).to.equal(204);
    await eventually(() => emqx.calls.length > 0, 2_500, 'the other instance to kick the client');
    expect(emqx.calls.map((c) => c.url)).to.deep.equal([`/api/v5/clients/${encodeURIComponent(creds.clientId)}`]);
    expect((await authn(appB, creds)).body.result).to.equal('deny');
  });

  it('emqxKickOut rejects on an unexpected answer and refuses a non-http URL', async () => {
    const failing = createServer((_req, res) => res.writeHead(401).end());
    failing.listen(0, '127.0.0.1');
    await once(failing, 'listening');
    try {
      const kick = emqxKickOut({ url: `http://127.0.0.1:${(failing.address() as AddressInfo).port}`, apiKey: 'k', apiSecret: 's' });
      const err = await kick('client-1').then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).to.match(/401/);
    } finally {
      await new Promise((resolve) => failing.close(resolve));
    }
    expect(() => emqxKickOut({ url: 'ftp://emqx', apiKey: 'k', apiSecret: 's' })).to.throw(TypeError);
  });
});
