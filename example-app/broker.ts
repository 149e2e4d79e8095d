import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { attachAuthorizer, createJwtTokenIssuer, createRealtimeAuthorizer } from 'gatehouse';

export interface BrokerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The same secret the auth router signs with: the broker only verifies tokens. */
  secret: string;
}

/**
 * An MQTT broker (aedes, MQTT 3.1.1) over WebSocket that admits clients presenting
 * realtime credentials from /auth/iot-credentials, and keeps each one inside its
 * organization's topic prefix. In production this is your broker (or AWS IoT Core)
 * with the same authorizer attached.
 */
export async function startBroker({ host, port, secret }: BrokerOptions) {
  const broker = await Aedes.createBroker();
  const authorizer = createRealtimeAuthorizer({ tokens: createJwtTokenIssuer({ secret }) });
  const attached = attachAuthorizer(broker, authorizer);

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
