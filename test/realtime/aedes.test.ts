import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import { createRealtimeAuthorizer } from '../../src/realtime/authorizer.js';
import { AEDES_VERSIONS, closeOf, connackCode, inbox, sdkLikeOptions, startAedes, subackCodes, waitFor, type RunningAedes } from './aedes-broker.js';
import { grant, makeIssuer, pastIssuer, type RealtimeGrant } from './fixtures.js';

// The same MQTT 3.1.1 behaviour on both aedes majors: attachAuthorizer supports 1.x and 2.x.
for (const version of AEDES_VERSIONS) {
  describe(`attachAuthorizer (${version.name}, MQTT 3.1.1 over WebSocket)`, function () {
    this.timeout(15_000);

    const issuer = makeIssuer();
    let broker: RunningAedes;
    const clients: MqttClient[] = [];

    before(async () => {
      broker = await startAedes(version.create, createRealtimeAuthorizer({ tokens: issuer }));
    });

    after(async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await broker.close();
    });

    function connect(g: Pick<RealtimeGrant, 'token' | 'clientId'>): Promise<MqttClient> {
      return mqtt
        .connectAsync(broker.url, { protocolVersion: 4, clientId: g.clientId, username: g.token, password: '', reconnectPeriod: 0, connectTimeout: 5000 })
        .then((client) => {
          clients.push(client);
          return client;
        });
    }

    const refusedWith = (g: Pick<RealtimeGrant, 'token' | 'clientId'>, password = '') =>
      connackCode(broker.url, { protocolVersion: 4, clientId: g.clientId, username: g.token, password, reconnectPeriod: 0, connectTimeout: 5000 });

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
      const brokerClient = broker.clients.get(a.clientId);
      expect(brokerClient && broker.attached.sessionOf(brokerClient)).to.include({ orgId: 'org1', topicPrefix: a.prefix, clientId: a.clientId });
    });

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
        const client = await mqtt.connectAsync(broker.url, {
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
      expect(await refusedWith(await grant(issuer, 'org1'), 'secret')).to.equal(4);
    });

    it('closes the connection when the token expires', async () => {
      const client = await connect(await grant(issuer, 'org1', { ttl: 2 }));
      const started = Date.now();
      await closeOf(client);
      expect(Date.now() - started).to.be.below(3000);
    });

    if (version.major === 1) {
      it('refuses an MQTT 5 CONNECT: aedes 1.x speaks MQTT 3.1/3.1.1 only', async () => {
        const g = await grant(issuer, 'org1');
        const code = await connackCode(broker.url, sdkLikeOptions(g.clientId, g.token));
        // Return code 1, unacceptable protocol version (what AxonPush's SDK got from the 1.x example broker).
        expect(code).to.equal(1);
      });
    }
  });
}
