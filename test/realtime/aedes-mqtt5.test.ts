import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import type { TokenIssuer } from '../../src/ports.js';
import { createRealtimeAuthorizer } from '../../src/realtime/authorizer.js';
import { AEDES_VERSIONS, closeOf, connackCode, endOf, inbox, sdkLikeOptions, startAedes, subackCodes, waitFor, type RunningAedes } from './aedes-broker.js';
import { grant, makeIssuer, pastIssuer, type RealtimeGrant } from './fixtures.js';

/** MQTT 5 reason codes (MQTT 5.0 §2.4) the binding is expected to produce through aedes 2.x. */
const RC = {
  grantedQos1: 0x01,
  clientIdNotValid: 0x85,
  badUsernameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  maximumConnectTime: 0xa0,
} as const;

const aedes2 = AEDES_VERSIONS.find((v) => v.major === 2)!;

/** Clients configured as AxonPush's TypeScript SDK configures mqtt.js. */
describe('attachAuthorizer (aedes 2.x, MQTT 5 over WebSocket)', function () {
  this.timeout(15_000);

  const issuer = makeIssuer();
  let broker: RunningAedes;
  const clients: MqttClient[] = [];

  before(async () => {
    broker = await startAedes(aedes2.create, createRealtimeAuthorizer({ tokens: issuer }));
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.close();
  });

  async function connect(g: Pick<RealtimeGrant, 'token' | 'clientId'>, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
    const client = await mqtt.connectAsync(broker.url, { ...sdkLikeOptions(g.clientId, g.token), ...extra });
    clients.push(client);
    return client;
  }

  /** The reason code of a PUBACK, 0 for success; mqtt.js rejects on a failing one. */
  async function pubackCode(client: MqttClient, topic: string): Promise<number> {
    try {
      await client.publishAsync(topic, 'x', { qos: 1 });
      return 0;
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === undefined) throw err;
      return code;
    }
  }

  it('connects, subscribes under the prefix, publishes and receives', async () => {
    const a = await grant(issuer, 'org1');
    const b = await grant(issuer, 'org1', { userId: 'user-2' });
    const subscriber = await connect(a);
    const publisher = await connect(b);
    expect(subscriber.options.protocolVersion).to.equal(5);
    const received = inbox(subscriber);

    const topic = `${a.prefix}/default/app/chan/evt/agent`;
    expect(await subackCodes(subscriber, [`${a.prefix}/default/+/chan/+/+`])).to.deep.equal([RC.grantedQos1]);
    expect(await pubackCode(publisher, topic)).to.equal(0);

    await waitFor(() => received.length === 1);
    expect(received).to.deep.equal([{ topic, payload: 'x' }]);
    const brokerClient = broker.clients.get(a.clientId);
    expect(brokerClient && broker.attached.sessionOf(brokerClient)).to.include({ orgId: 'org1', topicPrefix: a.prefix, clientId: a.clientId });
  });

  it('refuses CONNECT with 0x86 for a bad, expired or password-carrying token and 0x85 for a wrong or empty client id', async () => {
    const g = await grant(issuer, 'org1');
    const refused = (clientId: string, token: string, password = '') => connackCode(broker.url, { ...sdkLikeOptions(clientId, token), password });
    expect(await refused(g.clientId, 'not-a-token')).to.equal(RC.badUsernameOrPassword);
    const expired = await grant(pastIssuer(), 'org1');
    expect(await refused(expired.clientId, expired.token)).to.equal(RC.badUsernameOrPassword);
    expect(await refused(g.clientId, g.token, 'secret')).to.equal(RC.badUsernameOrPassword);
    expect(await refused(`${g.clientId}-other`, g.token)).to.equal(RC.clientIdNotValid);
    // MQTT 5 lets a client send no id and be assigned one: that id is not the token's either.
    expect(await refused('', g.token)).to.equal(RC.clientIdNotValid);
  });

  it('answers SUBACK 0x87 for another org, $SYS and bare #, and keeps the connection', async () => {
    const intruder = await connect(await grant(issuer, 'org2'));
    const codes = await subackCodes(intruder, ['axonpush/org1/#', '$SYS/#', '#', 'axonpush/+/x', 'axonpush/org2/#']);
    expect(codes).to.deep.equal([RC.notAuthorized, RC.notAuthorized, RC.notAuthorized, RC.notAuthorized, RC.grantedQos1]);
    expect(intruder.connected).to.equal(true);
  });

  it("answers PUBACK 0x87 to another org's QoS 1 publish, drops its QoS 0 one, and keeps the connection", async () => {
    const a = await grant(issuer, 'org1');
    const subscriber = await connect(a);
    const received = inbox(subscriber);
    await subscriber.subscribeAsync(`${a.prefix}/#`, { qos: 1 });

    const intruder = await connect(await grant(issuer, 'org2'));
    let closed = false;
    intruder.on('close', () => (closed = true));
    expect(await pubackCode(intruder, `${a.prefix}/default/x`)).to.equal(RC.notAuthorized);
    expect(await pubackCode(intruder, '$SYS/fake/heartbeat')).to.equal(RC.notAuthorized);
    await intruder.publishAsync(`${a.prefix}/default/x`, 'forged at qos 0', { qos: 0 });

    // Still connected: its own prefix works after the refusals.
    expect(await pubackCode(intruder, 'axonpush/org2/default/x')).to.equal(0);
    expect(closed).to.equal(false);

    const friend = await connect(await grant(issuer, 'org1'));
    await friend.publishAsync(`${a.prefix}/default/x`, 'genuine', { qos: 1 });
    await waitFor(() => received.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).to.deep.equal([{ topic: `${a.prefix}/default/x`, payload: 'genuine' }]);
  });

  it("delivers a will under the client's prefix and drops one aimed at another org", async () => {
    const a = await grant(issuer, 'org1');
    const subscriber = await connect(a);
    const received = inbox(subscriber);
    await subscriber.subscribeAsync(`${a.prefix}/#`);

    for (const [org, payload] of [['org2', 'forged will'], ['org1', 'genuine will']] as const) {
      const g = await grant(issuer, org);
      const client = await mqtt.connectAsync(broker.url, {
        ...sdkLikeOptions(g.clientId, g.token),
        will: { topic: `${a.prefix}/presence`, payload: Buffer.from(payload), qos: 0, retain: false },
      });
      const closed = closeOf(client);
      client.stream.destroy();
      await closed;
    }

    await waitFor(() => received.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).to.deep.equal([{ topic: `${a.prefix}/presence`, payload: 'genuine will' }]);
  });

  it('ends the connection when the token expires with DISCONNECT 0xA0 (maximum connect time)', async () => {
    const client = await connect(await grant(issuer, 'org1', { ttl: 2 }));
    const started = Date.now();
    expect(await endOf(client)).to.deep.equal({ reasonCode: RC.maximumConnectTime, reasonString: 'the realtime token has expired' });
    expect(Date.now() - started).to.be.below(3000);
  });

  it('just closes an MQTT 3.1.1 client when its token expires: 3.1.1 has no DISCONNECT from the server', async () => {
    const client = await connect(await grant(issuer, 'org1', { ttl: 2 }), { protocolVersion: 4, wsOptions: {} });
    expect(client.options.protocolVersion).to.equal(4);
    expect(await endOf(client)).to.equal(null);
  });

  it('answers 0x88 (server unavailable) when verifying the token fails for another reason', async () => {
    const failing: TokenIssuer = {
      ...issuer,
      verify: () => {
        throw new Error('key store unreachable');
      },
    };
    const other = await startAedes(aedes2.create, createRealtimeAuthorizer({ tokens: failing }));
    try {
      const g = await grant(issuer, 'org1');
      expect(await connackCode(other.url, sdkLikeOptions(g.clientId, g.token))).to.equal(RC.serverUnavailable);
    } finally {
      await other.close();
    }
  });
});
