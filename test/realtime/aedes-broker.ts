import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes as Aedes2 } from 'aedes';
import { Aedes as Aedes1 } from 'aedes1';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { attachAuthorizer, type AedesClientLike, type AedesLike, type AttachedAuthorizer } from '../../src/realtime/aedes.js';
import type { RealtimeAuthorizer } from '../../src/realtime/authorizer.js';

/** What both aedes majors offer beyond the hooks: enough to serve it over WebSocket. */
interface AedesBroker<C extends AedesClientLike> extends AedesLike<C> {
  handle(stream: Duplex, request: IncomingMessage): unknown;
  close(callback: () => void): void;
}

/** The aedes majors `attachAuthorizer` supports; 1.x speaks MQTT 3.1/3.1.1 only, 2.x adds MQTT 5. */
export const AEDES_VERSIONS = [
  { name: 'aedes 1.x', major: 1, create: () => Aedes1.createBroker() },
  { name: 'aedes 2.x', major: 2, create: () => Aedes2.createBroker() },
] as const;

export interface RunningAedes {
  url: string;
  attached: AttachedAuthorizer<AedesClientLike>;
  /** Broker-side clients by id, to look at what the adapter stored for them. */
  clients: Map<string, AedesClientLike>;
  close(): Promise<void>;
}

/** A real aedes broker of either major over WebSocket on a free port, with the authorizer attached. */
export async function startAedes(create: () => Promise<AedesBroker<AedesClientLike>>, authorizer: RealtimeAuthorizer): Promise<RunningAedes> {
  const broker = await create();
  const attached = attachAuthorizer(broker, authorizer);
  const clients = new Map<string, AedesClientLike>();
  broker.on('clientReady', (client) => clients.set(client.id, client));
  const server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => broker.handle(createWebSocketStream(ws), req));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    attached,
    clients,
    async close() {
      attached.detach();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** mqtt.js options as AxonPush's SDK sets them for MQTT 5 (username = token, empty password, clean session). */
export function sdkLikeOptions(clientId: string, token: string): IClientOptions {
  return {
    protocolVersion: 5,
    wsOptions: { protocol: 'mqttv5.0' },
    clientId,
    username: token,
    password: '',
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  };
}

export interface Received {
  topic: string;
  payload: string;
}

/** Collects every message a client receives, so tests can assert on absence too. */
export function inbox(client: MqttClient): Received[] {
  const received: Received[] = [];
  client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString('utf8') }));
  return received;
}

/** mqtt.js' typed emitter does not fit `events.once`, hence this. */
export function closeOf(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/** What the broker said when it ended the connection: the MQTT 5 DISCONNECT's reason, or null when it only closed it. */
export function endOf(client: MqttClient): Promise<{ reasonCode: number | undefined; reasonString: string | undefined } | null> {
  let said: { reasonCode: number | undefined; reasonString: string | undefined } | null = null;
  client.once('disconnect', (packet) => (said = { reasonCode: packet.reasonCode, reasonString: packet.properties?.reasonString }));
  return closeOf(client).then(() => said);
}

export async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The CONNACK code of a refused CONNECT (return code on 3.1.1, reason code on 5); fails if it connected. */
export async function connackCode(url: string, options: IClientOptions): Promise<number | undefined> {
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(url, options);
  } catch (err) {
    return (err as { code?: number }).code;
  }
  await client.endAsync(true);
  throw new Error(`connected, but should have been refused (${options.clientId})`);
}

/** The SUBACK codes; mqtt.js rejects on any code ≥ 0x80, with the SUBACK attached. */
export async function subackCodes(client: MqttClient, filters: string[]): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters, { qos: 1 });
    return granted.map((s) => s.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted?: Array<number | { qos: number }> } }).packet;
    if (!packet?.granted) throw err;
    return packet.granted.map((g) => (typeof g === 'number' ? g : g.qos));
  }
}
