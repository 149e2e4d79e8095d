import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Aedes, type Client } from 'aedes';
import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { attachAuthorizer, type AttachedAuthorizer } from '../../src/realtime/aedes.js';
import { createRealtimeAuthorizer } from '../../src/realtime/authorizer.js';
import { grant, makeIssuer, pastIssuer, type RealtimeGrant } from './fixtures.js';

interface Received {
  topic: string;
  payload: string;
}

/** Collects every message a client receives, so tests can assert on absence too. */
function inbox(client: MqttClient): Received[] {
  const received: Received[] = [];
  client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString('utf8') }));
  return received;
}

/** mqtt.js' typed emitter does not fit `events.once`, hence this. */
function closeOf(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('attachAuthorizer (aedes over WebSocket)', function () {
  this.timeout(15_000);

  const issuer = makeIssuer();
  let broker: Aedes;
  let attached: AttachedAuthorizer<Client>;
  let server: Server;
  let wss: WebSocketServer;
  let url: string;
  const clients: MqttClient[] = [];
  /** Broker-side clients by id, to look at what the adapter stored for them. */
  const brokerClients = new Map<string, Client>();

  before(async () => {
    broker = await Aedes.createBroker();
    attached = attachAuthorizer(broker, createRealtimeAuthorizer({ tokens: issuer }));
    broker.on('clientReady', (client) => brokerClients.set(client.id, client));
    server = createServer();
    wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      broker.handle(createWebSocketStream(ws), req);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    attached.detach();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function connect(g: Pick<RealtimeGrant, 'token' | 'clientId'>): Promise<MqttClient> {
    return mqtt
      .connectAsync(url, { protocolVersion: 4, clientId: g.clientId, username: g.token, password: '', reconnectPeriod: 0, connectTimeout: 5000 })
      .then((client) => {
        clients.push(client);
        return client;
      });
  }

  async function refusedWith(g: Pick<RealtimeGrant, 'token' | 'clientId'>): Promise<number | undefined> {
    try {
      const client = await connect(g);
      expect.fail(`connected, but should have been refused (${client.options.clientId})`);
    } catch (err) {
      return (err as { code?: number }).code;
    }
  }

  it('lets two clients of one org exchange messages under their prefix', async () => {
    const a = await grant(issuer, 'org1');
    const b = await grant(issuer, 'org1', { userId: 'user-2' });
    const subscriber = await connect(a);
    const publisher = await connect(b);
    const received = inbox(subscriber);

    const granted = await subscriber.subscribeAsync(`${a.prefix}/#`, { qos: 1 });
    expect(granted.map((s) => s.qos)).to.deep.equal([1]);
    await publisher.publishAsync(`${a.prefix}/default/app/chan/evt/agent`, 'hello', { qos: 1 });

    await waitFor(() => received.length === 1);
    expect(received).to.deep.equal([{ topic: `${a.prefix}/default/app/chan/evt/agent`, payload: 'hello' }]);
    const brokerClient = brokerClients.get(a.clientId);
    expect(brokerClient && attached.sessionOf(brokerClient)).to.include({ orgId: 'org1', topicPrefix: a.prefix, clientId: a.clientId });
  });

  /** The SUBACK return codes; mqtt.js rejects on any 0x80, with the SUBACK attached. */
  async function subackCodes(client: MqttClient, filters: string[]): Promise<number[]> {
    try {
      const granted = await client.subscribeAsync(filters, { qos: 1 });
      return granted.map((s) => s.qos);
    } catch (err) {
      const packet = (err as { packet?: { granted?: Array<number | { qos: number }> } }).packet;
      if (!packet?.granted) throw err;
      return packet.granted.map((g) => (typeof g === 'number' ? g : g.qos));
    }
  }

  it('answers SUBACK 0x80 for another org, $SYS and bare #, and keeps the connection', async () => {
    const intruder = await connect(await grant(issuer, 'org2'));
    const codes = await subackCodes(intruder, ['axonpush/org1/#', '$SYS/#', '#', 'axonpush/+/x', 'axonpush/org2/#']);
    expect(codes).to.deep.equal([128, 128, 128, 128, 1]);
    expect(intruder.connected).to.equal(true);
  });

  it("drops another org's publish into our prefix and disconnects the publisher", async () => {
    const a = await grant(issuer, 'org1');
    const subscriber = await connect(a);
    const received = inbox(subscriber);
    await subscriber.subscribeAsync(`${a.prefix}/#`);

    const intruder = await connect(await grant(issuer, 'org2'));
    const closed = closeOf(intruder);
    intruder.publish(`${a.prefix}/default/x`, 'forged');
    await closed;

    // A legitimate message sent afterwards arrives alone: the forged one was dropped, not delayed.
    const friend = await connect(await grant(issuer, 'org1'));
    await friend.publishAsync(`${a.prefix}/default/x`, 'genuine');
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
      const client = await mqtt.connectAsync(url, {
        protocolVersion: 4,
        clientId: g.clientId,
        username: g.token,
        password: '',
        reconnectPeriod: 0,
        will: { topic: `${a.prefix}/presence`, payload: Buffer.from(payload), qos: 0, retain: false },
      });
      // Drop the socket without DISCONNECT so the broker publishes the will.
      const closed = closeOf(client);
      client.stream.destroy();
      await closed;
    }

    await waitFor(() => received.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).to.deep.equal([{ topic: `${a.prefix}/presence`, payload: 'genuine will' }]);
  });

  it('refuses to publish to $SYS', async () => {
    const client = await connect(await grant(issuer, 'org1'));
    const closed = closeOf(client);
    client.publish('$SYS/fake/heartbeat', 'x');
    await closed;
  });

  it('refuses CONNECT with a bad token (4), a wrong client id (2) and an expired token (4)', async () => {
    const g = await grant(issuer, 'org1');
    expect(await refusedWith({ token: 'not-a-token', clientId: g.clientId })).to.equal(4);
    expect(await refusedWith({ token: g.token, clientId: `${g.clientId}-other` })).to.equal(2);
    expect(await refusedWith(await grant(pastIssuer(), 'org1'))).to.equal(4);
  });

  it('refuses CONNECT with a non-empty password (4)', async () => {
    const g = await grant(issuer, 'org1');
    try {
      await mqtt.connectAsync(url, { protocolVersion: 4, clientId: g.clientId, username: g.token, password: 'secret', reconnectPeriod: 0 });
      expect.fail('should have been refused');
    } catch (err) {
      expect((err as { code?: number }).code).to.equal(4);
    }
  });

  it('closes the connection when the token expires', async () => {
    const client = await connect(await grant(issuer, 'org1', { ttl: 2 }));
    const started = Date.now();
    await closeOf(client);
    expect(Date.now() - started).to.be.below(3000);
  });
});
