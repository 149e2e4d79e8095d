import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '../../src/core/audit-event.js';
import type { Harness } from './harness.js';

/**
 * Records an audit event the way an action will (enqueue inside its transaction), without
 * a route: the audit log calls `services.webhooks.enqueue` itself once it is connected.
 */
export async function emitEvent(h: Pick<Harness, 'auth' | 'storage'>, orgId: string, action = 'member.joined', data: AuditEvent['data'] = {}): Promise<AuditEvent> {
  const event: AuditEvent = {
    id: randomUUID(),
    orgId,
    at: Date.now(),
    actor: { type: 'system', id: null },
    action,
    target: null,
    ip: null,
    userAgent: null,
    data,
  };
  await h.storage.transaction((tx) => h.auth.services.webhooks.enqueue(tx, event));
  return event;
}

export interface ReceivedWebhook {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status the receiver answered. */
  status: number;
}

export interface Receiver {
  url: string;
  received: ReceivedWebhook[];
  /** Status to answer the n-th request (0-based) with this body, to this URL; 204 by default; 0: never answer (a hung receiver). */
  respond: (n: number, body: string, url: string) => number;
  close(): Promise<void>;
}

/** A real HTTP receiver on 127.0.0.1 (random port) in the test process. */
export async function startReceiver(respond: Receiver['respond'] = () => 204): Promise<Receiver> {
  const receiver: Receiver = { url: '', received: [], respond, close: async () => {} };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const status = receiver.respond(receiver.received.length, body, req.url ?? '');
      receiver.received.push({ url: req.url ?? '', headers: req.headers, body, status });
      if (status === 0) return;
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}
