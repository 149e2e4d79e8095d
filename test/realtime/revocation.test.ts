import { join } from 'node:path';
import express from 'express';
import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import request from 'supertest';
import { createAuthRouter, createJwtTokenIssuer, createRealtimeAuthorizer, createRevocationWatcher, type AuthRouter, type AuthRouterOptions } from 'gatehouse-auth';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { startBroker } from '../../example-app/broker.js';
import { addMember, claimsOf, SECRET, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { endOf } from './aedes-broker.js';

interface Credentials {
  presignedWssUrl: string;
  clientId: string;
  authToken: string;
  topicPrefix: string;
  expiresAt: string;
}

type Broker = Awaited<ReturnType<typeof startBroker>>;

/** One poll interval (1 s here) plus slack for the broker to close the socket. */
const POLL_BOUND_MS = 2_500;

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * Revocation reaching the broker: real aedes brokers over WebSocket with the router's
 * authorizer (`auth.realtimeAuthorizer()`), real MQTT clients, credentials from the
 * HTTP route. A revoked session, API key or membership closes the live connections it
 * opened and its credentials are refused on the next CONNECT, on this instance at once
 * and on a second instance (another router on the same SQLite file) after its poll.
 */
describe('realtime revocation: revoked credentials leave the broker', function () {
  this.timeout(30_000);
  const options: Partial<AuthRouterOptions> = {
    // Realtime credentials outlive everything the tests wait for: only a revocation ends them.
    realtime: { url: 'ws://placeholder.invalid/mqtt', ttl: '10m' },
    revocation: { pollInterval: '1s', maxStaleness: '30s' },
    // Shorter than the credentials: a revocation must still hold after the key cache entry it covers.
    apiKeys: { cacheTtl: '1s' },
  };
  let h: Harness;
  let broker: Broker;
  // The second instance: its own router on the same database file, its own broker.
  let storageB: KnexStorage;
  let authB: AuthRouter;
  let brokerB: Broker;
  let owner: SignedUp;
  const clients: MqttClient[] = [];

  before(async () => {
    broker = await startBroker({ host: '127.0.0.1', port: 0, secret: SECRET });
    h = await startHarness({ ...options, realtime: { url: broker.url, ttl: '10m' } });
    broker.useAuthorizer(h.auth.realtimeAuthorizer());

    brokerB = await startBroker({ host: '127.0.0.1', port: 0, secret: SECRET });
    storageB = createKnexStorage({ filename: join(h.dir, 'auth.sqlite') });
    authB = createAuthRouter({
      storage: storageB,
      tokens: { secret: SECRET },
      passwords: { cost: 4 },
      logger: { warn: () => {}, error: () => {} },
      ...options,
      realtime: { url: brokerB.url, ttl: '10m' },
    } as AuthRouterOptions);
    await authB.ready();
    brokerB.useAuthorizer(authB.realtimeAuthorizer());

    owner = await signupWithOrg(h.app);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker?.close();
    await brokerB?.close();
    await authB?.close();
    await storageB?.close();
    await h?.close();
  });

  async function createKey(user: SignedUp): Promise<{ id: string; key: string }> {
    const res = await request(h.app).post('/auth/api-keys').set(bearer(user.access)).send({ name: 'device' });
    expect(res.status, res.text).to.equal(201);
    return { id: res.body.id, key: res.body.key };
  }

  async function credentialsByKey(key: string, orgId: string): Promise<Credentials> {
    const res = await request(h.app).get('/auth/iot-credentials').set('X-API-Key', key).set('X-Tenant-Id', orgId);
    expect(res.status, res.text).to.equal(200);
    return res.body;
  }

  async function credentialsByBearer(access: string): Promise<Credentials> {
    const res = await request(h.app).post('/auth/iot-credentials').set(bearer(access));
    expect(res.status, res.text).to.equal(200);
    return res.body;
  }

  async function connect(creds: Credentials, url = creds.presignedWssUrl, protocolVersion: 4 | 5 = 4): Promise<MqttClient> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion,
      ...(protocolVersion === 5 ? { wsOptions: { protocol: 'mqttv5.0' } } : {}),
      clientId: creds.clientId,
      username: creds.authToken,
      password: '',
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
    clients.push(client);
    return client;
  }

  /** The CONNACK code of a refused CONNECT (fails the test if it connects). */
  async function refusal(creds: Credentials, url?: string, protocolVersion: 4 | 5 = 4): Promise<number | undefined> {
    const outcome = await connect(creds, url, protocolVersion).then(
      () => 'connected' as const,
      (err: { code?: number }) => err.code,
    );
    expect(outcome, 'the old credentials connected again').to.not.equal('connected');
    return outcome as number | undefined;
  }

  /** Resolves with the ms it took the broker to close the client; fails after `withinMs`. */
  function closedWithin(client: MqttClient, withinMs: number): Promise<number> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      if (!client.connected) return resolve(0);
      const timer = setTimeout(() => reject(new Error(`still connected after ${withinMs} ms`)), withinMs);
      client.once('close', () => {
        clearTimeout(timer);
        resolve(Date.now() - started);
      });
    });
  }

  /** Still connected and served: a subscription under its prefix is granted. */
  async function expectServed(client: MqttClient, creds: Credentials): Promise<void> {
    expect(client.connected).to.equal(true);
    const granted = await client.subscribeAsync(`${creds.topicPrefix}/#`, { qos: 1 });
    expect(granted[0]?.qos).to.equal(1);
  }

  it('names what can revoke them in the realtime token, and keeps the wire fields', async () => {
    const { id, key } = await createKey(owner);
    const byKey = await credentialsByKey(key, owner.orgId);
    const byBearer = await credentialsByBearer(owner.access);
    expect(Object.keys(byKey).sort()).to.deep.equal(
      ['authToken', 'authorizerName', 'clientId', 'endpoint', 'envSlug', 'expiresAt', 'presignedWssUrl', 'region', 'topicPrefix', 'topicTemplate'].sort(),
    );
    expect(claimsOf(byKey.authToken)).to.include({ kid: id }).and.not.have.any.keys('sid', 'ati');
    const access = claimsOf(owner.access);
    expect(claimsOf(byBearer.authToken)).to.include({ sid: access.sid, ati: access.jti }).and.not.have.any.keys('kid');
  });

  it('credentials from an API key that expires end with the key', async () => {
    const expiresAt = Date.now() + 30_000;
    const res = await request(h.app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'short-lived', expiresAt: new Date(expiresAt).toISOString() });
    expect(res.status, res.text).to.equal(201);
    const creds = await credentialsByKey(res.body.key, owner.orgId);
    expect(Date.parse(creds.expiresAt)).to.be.at.most(expiresAt).and.above(Date.now() + 20_000);
  });

  it('API key revoked: its connection is closed at once, its credentials refused, here and on the other instance', async () => {
    const { id, key } = await createKey(owner);
    const creds = await credentialsByKey(key, owner.orgId);
    const other = await credentialsByKey((await createKey(owner)).key, owner.orgId);
    const client = await connect(creds);
    const onB = await connect(creds, brokerB.url);
    const bystander = await connect(other);
    // Another connection of the same key, on MQTT 5: it is told why.
    const second = await credentialsByKey(key, owner.orgId);
    expect(second.clientId).to.not.equal(creds.clientId);
    const v5Ended = endOf(await connect(second, second.presignedWssUrl, 5));

    expect((await request(h.app).delete(`/auth/api-keys/${id}`).set(bearer(owner.access))).status).to.equal(204);
    // This instance learns of it as it is made: no poll needed.
    expect(await closedWithin(client, 1_000)).to.be.below(1_000);
    expect(await v5Ended).to.deep.equal({ reasonCode: 0x98, reasonString: 'the credentials were revoked' });
    await closedWithin(onB, POLL_BOUND_MS);

    // CONNACK 4: bad user name or password; MQTT 5: 0x86.
    expect(await refusal(creds)).to.equal(4);
    expect(await refusal(creds, brokerB.url)).to.equal(4);
    expect(await refusal(creds, broker.url, 5)).to.equal(0x86);
    await expectServed(bystander, other);
  });

  it('logout: the session’s connections are closed and its credentials refused; another session stays', async () => {
    const session = await request(h.app).post('/auth/signin').send({ email: owner.email, password: 'correct horse battery' });
    const access = session.body.access_token as string;
    const creds = await credentialsByBearer(access);
    const otherSession = await credentialsByBearer(owner.access);
    const client = await connect(creds);
    const onB = await connect(creds, brokerB.url);
    const bystander = await connect(otherSession);

    expect((await request(h.app).post('/auth/logout').set(bearer(access))).status).to.equal(204);
    await closedWithin(client, 1_000);
    await closedWithin(onB, POLL_BOUND_MS);
    expect(await refusal(creds)).to.equal(4);
    expect(await refusal(creds, brokerB.url)).to.equal(4);
    await expectServed(bystander, otherSession);
  });

  it('member removed: the connections of their sessions and of the keys they created are closed', async () => {
    const member = await addMember(h.app, owner, 'admin');
    const byBearer = await credentialsByBearer(member.access);
    const byKey = await credentialsByKey((await createKey(member)).key, owner.orgId);
    const clientByBearer = await connect(byBearer);
    const clientByKey = await connect(byKey);
    const onB = await connect(byBearer, brokerB.url);

    expect((await request(h.app).delete(`/auth/orgs/${owner.orgId}/members/${member.userId}`).set(bearer(owner.access))).status).to.equal(204);
    await Promise.all([closedWithin(clientByBearer, 1_000), closedWithin(clientByKey, 1_000), closedWithin(onB, POLL_BOUND_MS)]);
    expect(await refusal(byBearer)).to.equal(4);
    expect(await refusal(byKey)).to.equal(4);
    expect(await refusal(byBearer, brokerB.url)).to.equal(4);
  });

  it('a revocation made on the other instance reaches this one within its poll interval', async () => {
    const { id, key } = await createKey(owner);
    const creds = await credentialsByKey(key, owner.orgId);
    const client = await connect(creds);
    const appB = express().use('/auth', authB);

    expect((await request(appB).delete(`/auth/api-keys/${id}`).set(bearer(owner.access))).status).to.equal(204);
    await closedWithin(client, POLL_BOUND_MS);
    expect(await refusal(creds)).to.equal(4);
  });

  it('a broker in its own process with the signing key and a revocation watcher on the database', async () => {
    const storageW = createKnexStorage({ filename: join(h.dir, 'auth.sqlite') });
    const watcher = createRevocationWatcher({ storage: storageW, pollInterval: '1s', maxStaleness: '30s' });
    const standalone = await startBroker({ host: '127.0.0.1', port: 0, secret: SECRET });
    try {
      await watcher.start();
      standalone.useAuthorizer(createRealtimeAuthorizer({ tokens: createJwtTokenIssuer({ secret: SECRET }), revocations: watcher }));
      const session = await request(h.app).post('/auth/signin').send({ email: owner.email, password: 'correct horse battery' });
      const access = session.body.access_token as string;
      const creds = await credentialsByBearer(access);
      const client = await connect(creds, standalone.url);

      expect((await request(h.app).post('/auth/logout').set(bearer(access))).status).to.equal(204);
      await closedWithin(client, POLL_BOUND_MS);
      expect(await refusal(creds, standalone.url)).to.equal(4);
    } finally {
      watcher.stop();
      await standalone.close();
      await storageW.close();
    }
  });

  it('answers "unavailable" (not "bad credentials") until the revocation list is loaded, and loads it on demand', async () => {
    const creds = await credentialsByBearer(owner.access);
    const storageD = createKnexStorage({ filename: join(h.dir, 'auth.sqlite') });
    const authD = createAuthRouter({ storage: storageD, tokens: { secret: SECRET }, passwords: { cost: 4 }, logger: { warn: () => {}, error: () => {} }, ...options } as AuthRouterOptions);
    try {
      const authorizer = authD.realtimeAuthorizer();
      const early = (() => {
        try {
          authorizer.authenticate(creds.clientId, creds.authToken, '');
          return null;
        } catch (err) {
          return err as Error & { code?: string };
        }
      })();
      expect(early?.name).to.not.equal('RealtimeAuthError');
      expect(early?.message).to.match(/not loaded/);
      // Nobody called ready(): the authorizer's question started the load.
      const started = Date.now();
      while (Date.now() - started < 5_000) {
        try {
          expect(authorizer.authenticate(creds.clientId, creds.authToken, '').clientId).to.equal(creds.clientId);
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      expect.fail('the revocation list was never loaded');
    } finally {
      await authD.close();
      await storageD.close();
    }
  });

  it('a repeated logout writes no new revocation, even with credentials that outlive the access token', async () => {
    // Realtime credentials (1 h) outlive the access token (15 min): each revocation is kept
    // an hour, and a logout repeated with the revoked token must not add a row each time.
    const longer = await startHarness({ ...options, realtime: { url: broker.url, ttl: '1h' } });
    try {
      const user = await signupWithOrg(longer.app);
      expect((await request(longer.app).post('/auth/logout').set(bearer(user.access))).status).to.equal(204);
      const count = async () => (await longer.storage.revocations.listActive(Date.now())).entries.length;
      const before = await count();
      for (let i = 0; i < 3; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect((await request(longer.app).post('/auth/logout').set(bearer(user.access))).status).to.equal(204);
      }
      expect(await count()).to.equal(before);
    } finally {
      await longer.close();
    }
  });

  it('a revoked key’s credentials stay refused after the key cache TTL, and on an instance started later', async () => {
    const { id, key } = await createKey(owner);
    const creds = await credentialsByKey(key, owner.orgId);
    expect((await request(h.app).delete(`/auth/api-keys/${id}`).set(bearer(owner.access))).status).to.equal(204);
    // apiKeys.cacheTtl is 1 s: a revocation kept only that long would be gone by now.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await refusal(creds)).to.equal(4);

    const storageC = createKnexStorage({ filename: join(h.dir, 'auth.sqlite') });
    const authC = createAuthRouter({ storage: storageC, tokens: { secret: SECRET }, passwords: { cost: 4 }, logger: { warn: () => {}, error: () => {} }, ...options } as AuthRouterOptions);
    try {
      await authC.ready();
      expect(() => authC.realtimeAuthorizer().authenticate(creds.clientId, creds.authToken, '')).to.throw().with.property('code', 'revoked');
    } finally {
      await authC.close();
      await storageC.close();
    }
  });
});
