import { expect } from 'chai';
import mqtt from 'mqtt';
import { createAuthClient, GatehouseError, type AuthClient, type ConnectReason, type MqttModule, type RealtimeConnection } from 'gatehouse-auth/client';
import { PASSWORD, unique } from '../helpers/harness.js';
import { startExample, type RunningExample } from '../helpers/example.js';

const TTL_S = 5;
const LEAD_MS = 3_000;

function nextMessage(connection: RealtimeConnection, ms: number): Promise<{ topic: string; text: string } | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(null);
    }, ms);
    const off = connection.on('message', (topic, payload) => {
      clearTimeout(timer);
      off();
      resolve({ topic, text: new TextDecoder().decode(payload) });
    });
  });
}

/**
 * connectRealtime against the example server and its aedes broker, with credentials
 * living 5 s and renewed 3 s before they expire: the broker drops a client whose
 * token has expired, so only a working renewal keeps messages flowing.
 */
describe('gatehouse-auth/client realtime: credential rollover', function () {
  this.timeout(40_000);
  let example: RunningExample;
  let owner: AuthClient;
  let member: AuthClient;
  const open: RealtimeConnection[] = [];

  before(async () => {
    example = await startExample({ realtimeTtl: TTL_S });
    const baseUrl = `${example.url}/auth`;
    owner = createAuthClient({ baseUrl });
    member = createAuthClient({ baseUrl });
    const id = unique();
    const ownerEmail = `rt-owner-${id}@example.com`;
    await owner.signup({ email: ownerEmail, password: PASSWORD, action: 'create', orgCreateProps: { name: `RT ${id}`, slug: `rt-${id}` } });
    await owner.signin(ownerEmail, PASSWORD);
    const orgId = owner.claims?.org as string;
    const { code } = await owner.invite(orgId);
    const memberEmail = `rt-member-${id}@example.com`;
    await member.signup({ email: memberEmail, password: PASSWORD, action: 'join', invitationCode: code });
    await member.signin(memberEmail, PASSWORD);
  });

  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await owner.logout();
    await member.logout();
    await example.close();
  });

  /** The real mqtt module, noting the protocol version of each connection it opens. */
  function recording(versions: number[]): MqttModule {
    return {
      connect(url, options) {
        versions.push(options.protocolVersion);
        return mqtt.connect(url, options);
      },
    };
  }

  /** MQTT 5 unless told otherwise: connectRealtime's default, and what the example broker (aedes 2.x) speaks. */
  async function connect(client: AuthClient, protocolVersion?: 4 | 5, versions: number[] = []): Promise<RealtimeConnection> {
    const connection = await client.connectRealtime({ mqtt: recording(versions), renewLeadMs: LEAD_MS, ...(protocolVersion ? { protocolVersion } : {}) });
    open.push(connection);
    return connection;
  }

  it('reconnects with fresh credentials before they expire, and subscriptions keep receiving', async () => {
    const versions: number[] = [];
    const subscriber = await connect(owner, undefined, versions);
    const publisher = await connect(member);
    const first = subscriber.credentials;
    const reasons: ConnectReason[] = [];
    const clientIds = [first.clientId];
    subscriber.on('connect', (creds, reason) => {
      reasons.push(reason);
      clientIds.push(creds.clientId);
    });
    const filter = `${first.topicPrefix}/${first.envSlug}/#`;
    await subscriber.subscribe(filter, { qos: 1 });
    expect(subscriber.subscriptions).to.deep.equal([filter]);

    const topic = subscriber.topic({ appId: 'app', channelId: 'chan', eventType: 'ping', agentId: 'a1' });
    expect(topic).to.equal(`${first.topicPrefix}/${first.envSlug}/app/chan/ping/a1`);
    const before = nextMessage(subscriber, 3_000);
    await publisher.publish(topic, 'before the rollover', { qos: 1 });
    expect(await before).to.deep.equal({ topic, text: 'before the rollover' });

    // Past the first credentials' expiry: the broker has dropped any client still using them.
    await new Promise((r) => setTimeout(r, Date.parse(first.expiresAt) - Date.now() + 1_500));
    expect(reasons.length).to.be.at.least(2);
    expect(reasons.every((r) => r === 'renewal'), `only planned renewals, no reconnect after a drop: ${reasons.join(', ')}`).to.equal(true);
    expect(new Set(clientIds).size).to.equal(clientIds.length);
    expect(subscriber.credentials.clientId).to.not.equal(first.clientId);
    expect(Date.parse(subscriber.credentials.expiresAt)).to.be.greaterThan(Date.parse(first.expiresAt));
    expect(subscriber.connected).to.equal(true);
    expect(new Set(versions), 'MQTT 5 by default, renewals included').to.deep.equal(new Set([5]));

    const after = nextMessage(subscriber, 3_000);
    await publisher.publish(topic, 'after the rollover', { qos: 1 });
    expect(await after).to.deep.equal({ topic, text: 'after the rollover' });
  });

  it('renews the lead time before expiry', async () => {
    const connection = await connect(member);
    const issued = Date.now();
    const renewed = new Promise<number>((resolve) => connection.on('connect', () => resolve(Date.now())));
    // 5 s credentials, 3 s lead → the renewal is due 2 s after issue, well before expiry.
    const at = (await renewed) - issued;
    expect(at).to.be.within(TTL_S * 1000 - LEAD_MS - 300, TTL_S * 1000 - LEAD_MS + 700);
  });

  it('rejects a subscription outside the prefix and keeps it out of the replay list', async () => {
    const connection = await connect(owner);
    const err = await connection.subscribe('axonpush/another-org/#').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(GatehouseError);
    expect((err as GatehouseError).code).to.equal('subscription_refused');
    expect(connection.subscriptions).to.deep.equal([]);
  });

  it("rejects a QoS 1 publish outside the prefix with publish_refused (PUBACK 0x87) and stays connected", async () => {
    const connection = await connect(owner);
    const err = await connection.publish('axonpush/another-org/default/a/b/c/d', 'forged', { qos: 1 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(GatehouseError);
    expect((err as GatehouseError).code).to.equal('publish_refused');
    expect((err as GatehouseError).message).to.contain('0x87');
    expect(connection.connected).to.equal(true);
  });

  it('on MQTT 3.1.1, rejects a QoS 1 publish the broker answers by closing, and reconnects', async () => {
    const connection = await connect(owner, 4);
    const reconnected = new Promise<ConnectReason>((resolve) => connection.on('connect', (_creds, reason) => resolve(reason)));
    const err = await connection.publish('axonpush/another-org/default/a/b/c/d', 'forged', { qos: 1 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(Error);
    expect(await reconnected).to.equal('reconnect');
  });

  it('falls back to MQTT 3.1.1 with protocolVersion: 4, next to MQTT 5 clients', async () => {
    const versions: number[] = [];
    const subscriber = await connect(owner, 4, versions);
    const publisher = await connect(member);
    expect(versions).to.deep.equal([4]);
    const filter = `${subscriber.credentials.topicPrefix}/${subscriber.credentials.envSlug}/#`;
    await subscriber.subscribe(filter, { qos: 1 });
    const topic = publisher.topic({ appId: 'app', channelId: 'chan', eventType: 'mixed', agentId: 'a2' });
    const arrival = nextMessage(subscriber, 3_000);
    await publisher.publish(topic, 'from MQTT 5 to MQTT 3.1.1', { qos: 1 });
    expect(await arrival).to.deep.equal({ topic, text: 'from MQTT 5 to MQTT 3.1.1' });
  });

  it('closes when the client signs out', async () => {
    const baseUrl = `${example.url}/auth`;
    const client = createAuthClient({ baseUrl });
    const email = `rt-solo-${unique()}@example.com`;
    await client.signup({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Solo', slug: `solo-${unique()}` } });
    await client.signin(email, PASSWORD);
    const connection = await connect(client);
    const closed = new Promise<void>((resolve) => connection.on('close', () => resolve()));
    await client.logout();
    await closed;
    expect(connection.connected).to.equal(false);
  });
});
