import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { attachAuthorizer, createJwtTokenIssuer, createRealtimeAuthorizer, type RealtimeAuthorizer } from 'gatehouse-auth';

export interface BrokerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The same secret the auth router signs with: the broker only verifies tokens. */
  secret: string;
}

/**
 * An MQTT broker over WebSocket that admits clients presenting realtime credentials
 * from /auth/iot-credentials, and keeps each one inside its organization's topic
 * prefix. aedes 2.x (a pinned beta: 1.x refuses MQTT 5) serves MQTT 5 clients, such
 * as AxonPush's SDKs, and MQTT 3.1.1 ones with the same authorizer. In production
 * this is your broker (or AWS IoT Core) with the same authorizer attached.
 */
export async function startBroker({ host, port, secret }: BrokerOptions) {
  const broker = await Aedes.createBroker();
  // Until useAuthorizer() hands over the router's, credentials are checked by signature alone.
  let attached = attachAuthorizer(broker, createRealtimeAuthorizer({ tokens: createJwtTokenIssuer({ secret }) }));

  const server = createServer((_req, res) => res.writeHead(426, { Upgrade: 'websocket' }).end('MQTT over WebSocket only\n'));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => broker.handle(createWebSocketStream(ws), req));
  // ws re-emits the server's errors; a failed listen (port in use) rejects below instead of crashing.
  wss.on('error', () => {});
  server.listen(port, host);
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;

  return {
    url: `ws://${host}:${bound}/mqtt`,
    /**
     * Switches to the auth router's authorizer (`auth.realtimeAuthorizer()`), which also
     * refuses revoked credentials and closes the connections they opened. The broker
     * starts first because the router needs its URL.
     */
    useAuthorizer(authorizer: RealtimeAuthorizer) {
      attached.detach();
      attached = attachAuthorizer(broker, authorizer);
    },
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
