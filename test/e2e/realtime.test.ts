import { expect } from 'chai';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import request from 'supertest';
import { startBroker } from '../../example-app/broker.js';
import { SECRET, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';

interface Credentials {
  presignedWssUrl: string;
  clientId: string;
  authToken: string;
  topicPrefix: string;
  envSlug: string;
  expiresAt: string;
}

type Creds = Pick<Credentials, 'presignedWssUrl' | 'clientId' | 'authToken'>;

/**
 * How each protocol's client is set up, and the codes the broker answers it with.
 * MQTT 5 is configured exactly as AxonPush's TypeScript SDK configures mqtt.js
 * (src/realtime/mqtt.ts there): protocol 5, WebSocket subprotocol `mqttv5.0`,
 * username = authToken, empty password, the credentials' client id, clean session.
 */
const PROTOCOLS = [
  {
    name: 'MQTT 5, set up like the AxonPush SDK',
    version: 5,
    options: (c: Creds): IClientOptions => ({
      reconnectPeriod: 0,
      clean: true,
      protocolVersion: 5,
      wsOptions: { protocol: 'mqttv5.0' },
      password: '',
      clientId: c.clientId,
      username: c.authToken,
      connectTimeout: 5_000,
    }),
    // CONNACK reason codes: 0x86 bad user name or password, 0x85 client identifier not valid.
    connack: { badCredentials: 0x86, clientIdNotValid: 0x85 },
    // SUBACK reason code 0x87 not authorized.
    subscribeRefused: 0x87,
  },
  {
    name: 'MQTT 3.1.1',
    version: 4,
    options: (c: Creds): IClientOptions => ({
      protocolVersion: 4,
      clientId: c.clientId,
      username: c.authToken,
      password: '',
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    }),
    // CONNACK return codes: 4 bad user name or password, 2 identifier rejected.
    connack: { badCredentials: 4, clientIdNotValid: 2 },
    subscribeRefused: 128,
  },
] as const;

/**
 * The whole realtime path with real parts: credentials from the HTTP route (by API
 * key + tenant, or Bearer), the example's aedes broker over WebSocket with the
 * authorizer attached, and real MQTT 5 and 3.1.1 clients.
 */
for (const protocol of PROTOCOLS) {
  describe(`realtime end to end (${protocol.name}): API key → credentials → MQTT over WebSocket`, function () {
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

    /** As the SDK asks: GET with X-API-Key and x-tenant-id. */
    async function credentialsByKey(): Promise<Credentials> {
      const res = await request(h.app).get('/auth/iot-credentials').set('X-API-Key', apiKey).set('x-tenant-id', orgA.orgId);
      expect(res.status).to.equal(200);
      return res.body;
    }

    async function credentialsByBearer(user: SignedUp): Promise<Credentials> {
      const res = await request(h.app).post('/auth/iot-credentials').set('Authorization', `Bearer ${user.access}`);
      expect(res.status).to.equal(200);
      return res.body;
    }

    async function connect(creds: Creds): Promise<MqttClient> {
      const client = await mqtt.connectAsync(creds.presignedWssUrl, protocol.options(creds));
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
      expect(subscriber.options.protocolVersion).to.equal(protocol.version);
      // The SDK's subscribe filter: axonpush/{org}/{env}/{app}/{channel}/{eventType}/{agentId}, wildcards for the unset parts.
      const granted = await subscriber.subscribeAsync(`${byKey.topicPrefix}/${byKey.envSlug}/+/channel-1/+/+`, { qos: 1 });
      expect(granted[0]?.qos).to.equal(1);
      const publisher = await connect(byBearer);
      const topic = `${byKey.topicPrefix}/${byKey.envSlug}/app-1/channel-1/deploy/agent-7`;
      const arrival = nextMessage(subscriber, 5_000);
      await publisher.publishAsync(topic, 'hello from the same org', { qos: 1 });
      expect(await arrival).to.deep.equal({ topic, payload: 'hello from the same org' });
    });

    it(`keeps another org out: its subscription is refused (0x${protocol.subscribeRefused.toString(16)}) and its publish never arrives`, async () => {
      const a = await credentialsByKey();
      const b = await credentialsByBearer(orgB);
      const subscriber = await connect(a);
      await subscriber.subscribeAsync(`${a.topicPrefix}/#`, { qos: 0 });

      const intruder = await connect(b);
      const refused = await intruder.subscribeAsync(`${a.topicPrefix}/#`).then(
        () => null,
        (err: { packet?: { granted?: number[] } }) => err,
      );
      expect(refused?.packet?.granted).to.deep.equal([protocol.subscribeRefused]);

      const arrival = nextMessage(subscriber, 1_500);
      intruder.publish(`${a.topicPrefix}/default/x/y/z/w`, 'forged');
      expect(await arrival).to.equal(null);
    });

    if (protocol.version === 5) {
      it("answers another org's QoS 1 publish with PUBACK 0x87 and keeps the connection", async () => {
        const a = await credentialsByKey();
        const intruder = await connect(await credentialsByBearer(orgB));
        const err = await intruder.publishAsync(`${a.topicPrefix}/default/x/y/z/w`, 'forged', { qos: 1 }).then(
          () => null,
          (e: Error & { code?: number }) => e,
        );
        expect(err?.code).to.equal(0x87);
        expect(intruder.connected).to.equal(true);
      });
    }

    it('refuses a wrong token, a token of another client id, and an expired token', async () => {
      const creds = await credentialsByKey();
      const attempts = [
        { ...creds, authToken: `${creds.authToken}x` },
        { ...creds, clientId: `${creds.clientId}-other` },
        { ...creds, authToken: orgA.access },
      ];
      const { badCredentials, clientIdNotValid } = protocol.connack;
      const expected = [badCredentials, clientIdNotValid, badCredentials];
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
      expect(expired?.code).to.equal(badCredentials);
    });

    it('drops a connected client when its credentials expire', async () => {
      const creds = await credentialsByKey();
      const client = await connect(creds);
      // Without the broker dropping it, this waits until the suite's timeout and fails.
      await new Promise<void>((resolve) => client.once('close', () => resolve()));
      expect(client.connected).to.equal(false);
    });
  });
}
