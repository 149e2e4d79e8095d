import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import request from 'supertest';
import { startBroker } from '../../example-app/broker.js';
import { SECRET, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';

interface Credentials {
  presignedWssUrl: string;
  clientId: string;
  authToken: string;
  topicPrefix: string;
  expiresAt: string;
}

/**
 * The whole realtime path with real parts: credentials from the HTTP route (by API
 * key + tenant, or Bearer), a real aedes broker over WebSocket with the authorizer
 * attached, and real MQTT 3.1.1 clients.
 */
describe('realtime end to end: API key → credentials → MQTT over WebSocket', function () {
  this.timeout(30_000);
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let h: Harness;
  let orgA: SignedUp;
  let orgB: SignedUp;
  let apiKey: string;
  const clients: MqttClient[] = [];

  before(async () => {
    broker = await startBroker({ host: '127.0.0.1', port: 0, secret: SECRET });
    h = await startHarness({ realtime: { url: broker.url, ttl: 3 } });
    orgA = await signupWithOrg(h.app);
    orgB = await signupWithOrg(h.app);
    apiKey = (await request(h.app).post('/auth/api-keys').set('Authorization', `Bearer ${orgA.access}`).send({ name: 'device' })).body.key;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.close();
    await h.close();
  });

  async function credentialsByKey(): Promise<Credentials> {
    const res = await request(h.app).get('/auth/iot-credentials').set('X-API-Key', apiKey).set('X-Tenant-Id', orgA.orgId);
    expect(res.status).to.equal(200);
    return res.body;
  }

  async function credentialsByBearer(user: SignedUp): Promise<Credentials> {
    const res = await request(h.app).post('/auth/iot-credentials').set('Authorization', `Bearer ${user.access}`);
    expect(res.status).to.equal(200);
    return res.body;
  }

  async function connect(creds: Pick<Credentials, 'presignedWssUrl' | 'clientId' | 'authToken'>): Promise<MqttClient> {
    const client = await mqtt.connectAsync(creds.presignedWssUrl, {
      protocolVersion: 4,
      clientId: creds.clientId,
      username: creds.authToken,
      password: '',
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
    clients.push(client);
    return client;
  }

  function nextMessage(client: MqttClient, ms: number): Promise<{ topic: string; payload: string } | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), ms);
      client.once('message', (topic, payload) => {
        clearTimeout(timer);
        resolve({ topic, payload: payload.toString() });
      });
    });
  }

  it('delivers a message between two clients of the same org', async () => {
    const byKey = await credentialsByKey();
    const byBearer = await credentialsByBearer(orgA);
    expect(byKey.topicPrefix).to.equal(byBearer.topicPrefix);
    const subscriber = await connect(byKey);
    const granted = await subscriber.subscribeAsync(`${byKey.topicPrefix}/default/#`, { qos: 1 });
    expect(granted[0]?.qos).to.equal(1);
    const publisher = await connect(byBearer);
    const topic = `${byKey.topicPrefix}/default/app-1/channel-1/deploy/agent-7`;
    const arrival = nextMessage(subscriber, 5_000);
    await publisher.publishAsync(topic, 'hello from the same org', { qos: 1 });
    expect(await arrival).to.deep.equal({ topic, payload: 'hello from the same org' });
  });

  it('keeps another org out: its subscription is refused and its publish never arrives', async () => {
    const a = await credentialsByKey();
    const b = await credentialsByBearer(orgB);
    const subscriber = await connect(a);
    await subscriber.subscribeAsync(`${a.topicPrefix}/#`, { qos: 0 });

    const intruder = await connect(b);
    const refused = await intruder.subscribeAsync(`${a.topicPrefix}/#`).then(
      () => null,
      (err: { packet?: { granted?: number[] } }) => err,
    );
    expect(refused?.packet?.granted).to.deep.equal([128]);

    const arrival = nextMessage(subscriber, 1_500);
    intruder.publish(`${a.topicPrefix}/default/x/y/z/w`, 'forged');
    expect(await arrival).to.equal(null);
  });

  it('refuses a wrong token, a token of another client id, and an expired token', async () => {
    const creds = await credentialsByKey();
    const attempts = [
      { ...creds, authToken: `${creds.authToken}x` },
      { ...creds, clientId: `${creds.clientId}-other` },
      { ...creds, authToken: orgA.access },
    ];
    // CONNACK return codes: 4 bad user name or password, 2 identifier rejected.
    const expected = [4, 2, 4];
    for (const [i, attempt] of attempts.entries()) {
      const err = await connect(attempt).then(
        () => null,
        (e: Error & { code?: number }) => e,
      );
      expect(err?.code, `attempt ${i}`).to.equal(expected[i]);
    }
    const old = await credentialsByKey();
    await new Promise((r) => setTimeout(r, Date.parse(old.expiresAt) - Date.now() + 1_100));
    const expired = await connect(old).then(
      () => null,
      (e: Error & { code?: number }) => e,
    );
    expect(expired?.code).to.equal(4);
  });

  it('drops a connected client when its credentials expire', async () => {
    const creds = await credentialsByKey();
    const client = await connect(creds);
    // Without the broker dropping it, this waits until the suite's timeout and fails.
    await new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect(client.connected).to.equal(false);
  });
});
