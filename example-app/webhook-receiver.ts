import express, { type Express, type RequestHandler } from 'express';

/** One POST the receiver got, as it arrived: the Standard Webhooks headers and the raw body. */
export interface ReceivedWebhook {
  receivedAt: string;
  id: string | null;
  timestamp: string | null;
  signature: string | null;
  /** The exact bytes signed, as text: parsing and re-serializing would break the signature. */
  body: string;
  /** The organization named in the event, so each owner sees only their own. */
  orgId: string | null;
}

const KEEP = 50;

function orgOf(body: string): string | null {
  try {
    const event = JSON.parse(body) as { data?: { orgId?: unknown } };
    return typeof event.data?.orgId === 'string' ? event.data.orgId : null;
  } catch {
    return null;
  }
}

const header = (value: string | string[] | undefined) => (typeof value === 'string' ? value : null);

/**
 * A webhook receiver for trying webhooks on this machine: `POST /demo/webhook-receiver`
 * keeps the last 50 deliveries in memory, unverified (the demo page verifies them in the
 * browser, with the secret shown at registration), and `GET` lists those of the
 * caller's organization to its owners and admins. Gatehouse may send there only while
 * http to loopback is allowed (`webhooks.allowInsecureLoopback`, off in production).
 */
export function mountWebhookReceiver(app: Express, guard: RequestHandler): void {
  const received: ReceivedWebhook[] = [];
  // Any content type, as text: the signature covers the raw body.
  app.post('/demo/webhook-receiver', express.text({ type: () => true, limit: '256kb' }), (req, res) => {
    const body = typeof req.body === 'string' ? req.body : '';
    received.unshift({
      receivedAt: new Date().toISOString(),
      id: header(req.headers['webhook-id']),
      timestamp: header(req.headers['webhook-timestamp']),
      signature: header(req.headers['webhook-signature']),
      body,
      orgId: orgOf(body),
    });
    received.length = Math.min(received.length, KEEP);
    res.status(204).end();
  });
  app.get('/demo/webhook-receiver', guard, (req, res) => {
    const orgId = req.auth?.orgId ?? null;
    res.set('cache-control', 'no-store').json({ deliveries: received.filter((d) => orgId !== null && d.orgId === orgId) });
  });
}
