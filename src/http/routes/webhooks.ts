import { z } from 'zod';
import type { Services } from '../../core/index.js';
import type { WebhookDeliveryRecord, WebhookEndpointRecord } from '../../ports.js';
import { MAX_WEBHOOK_URL } from '../../webhooks/url.js';
import { endpoint } from '../endpoint.js';
import * as r from '../responses.js';
import * as s from '../schemas.js';

const iso = (ms: number) => new Date(ms).toISOString();
const isoDate = z.iso.datetime({ offset: true });
// Audit actions are stable dotted names (`member.role_changed`).
const action = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'must be an event name such as "member.joined"');
const events = z
  .array(action)
  .min(1, 'list at least one event, or leave it out (or null) for every event')
  .max(100)
  .transform((list) => [...new Set(list)]);
const url = z.string().min(1, 'is required').max(MAX_WEBHOOK_URL);

const createBody = z.strictObject({ url, events: events.nullable().optional() });
const updateBody = z
  .strictObject({ url: url.optional(), events: events.nullable().optional(), enabled: z.boolean().optional() })
  .refine((b) => Object.keys(b).length > 0, { message: 'change at least one of url, events, enabled' });
const webhookParams = z.strictObject({ orgId: s.id, id: s.id });
const deliveryParams = z.strictObject({ orgId: s.id, id: s.id, deliveryId: s.id });
const deliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  before: s.id.optional(),
});

const webhookView = (e: WebhookEndpointRecord) => ({
  id: e.id,
  url: e.url,
  events: e.events,
  enabled: e.enabled,
  consecutiveFailures: e.consecutiveFailures,
  disabledReason: e.disabledReason,
  createdAt: iso(e.createdAt),
  updatedAt: iso(e.updatedAt),
});

const deliveryView = (d: WebhookDeliveryRecord) => ({
  id: d.id,
  eventId: d.eventId,
  eventType: d.eventType,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  createdAt: iso(d.createdAt),
  deliveredAt: d.deliveredAt === null ? null : iso(d.deliveredAt),
});

export const webhook = z.object({
  id: z.string(),
  url: z.string(),
  events: r.described(z.array(z.string()).nullable(), 'The audit actions sent there; null: every event'),
  enabled: z.boolean(),
  consecutiveFailures: z.number().int().min(0),
  disabledReason: r.described(z.string().nullable(), 'Why gatehouse disabled it after failures; null otherwise'),
  createdAt: isoDate,
  updatedAt: isoDate,
});
r.metadata.add(webhook, { id: 'Webhook', description: 'A webhook endpoint as listed: never its secret' });
export const withSecret = webhook.extend({
  secret: r.described(z.string(), 'The signing secret (`whsec_…`, Standard Webhooks), shown only in this response'),
});
export const delivery = z.object({
  id: z.string(),
  eventId: r.described(z.string(), 'The `webhook-id` header: the audit event id, the same on every attempt'),
  eventType: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int().min(0),
  nextAttemptAt: isoDate.nullable(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: isoDate,
  deliveredAt: isoDate.nullable(),
});
r.metadata.add(delivery, { id: 'WebhookDelivery', description: 'One event for one endpoint, with the outcome of its latest attempt' });

/** Webhook endpoints of an organization (owners and admins). Non-members get 404 for the org, members 403. */
export function webhookEndpoints(services: Services) {
  const { webhooks } = services;
  const problems = { 403: r.problem, 404: r.problem } as const;

  return [
    endpoint({
      method: 'post',
      path: '/orgs/:orgId/webhooks',
      summary: 'Register a webhook endpoint (owners and admins; needs a recent sign-in): https URL, optional event filter; the signing secret is shown only in this response',
      auth: 'jwt',
      // It sends the organization's audit events off-site, as an API key opens its data: a recent sign-in, as for keys.
      stepUp: true,
      responses: { 201: withSecret, ...problems },
      params: s.orgParams,
      body: createBody,
      async handler({ auth, params, body, client }) {
        const { endpoint: e, secret } = await webhooks.create(auth.userId, params.orgId, body, client);
        return { status: 201, body: { ...webhookView(e), secret } };
      },
    }),
    endpoint({
      method: 'get',
      path: '/orgs/:orgId/webhooks',
      summary: "The organization's webhook endpoints, without secrets (owners and admins)",
      auth: 'jwt',
      responses: { 200: z.object({ webhooks: z.array(webhook) }), ...problems },
      params: s.orgParams,
      async handler({ auth, params }) {
        return { status: 200, body: { webhooks: (await webhooks.list(auth.userId, params.orgId)).map(webhookView) } };
      },
    }),
    endpoint({
      method: 'get',
      path: '/orgs/:orgId/webhooks/:id',
      summary: 'One webhook endpoint, without its secret (owners and admins)',
      auth: 'jwt',
      responses: { 200: webhook, ...problems },
      params: webhookParams,
      async handler({ auth, params }) {
        return { status: 200, body: webhookView(await webhooks.get(auth.userId, params.orgId, params.id)) };
      },
    }),
    endpoint({
      method: 'patch',
      path: '/orgs/:orgId/webhooks/:id',
      summary: 'Change the URL (needs a recent sign-in), the event filter (null: every event) or `enabled` (owners and admins); enabling again resets the failure counter',
      auth: 'jwt',
      responses: { 200: webhook, ...problems },
      params: webhookParams,
      body: updateBody,
      stepUp: (body) => body.url !== undefined,
      async handler({ auth, params, body, client }) {
        return { status: 200, body: webhookView(await webhooks.update(auth.userId, params.orgId, params.id, body, client)) };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/orgs/:orgId/webhooks/:id',
      summary: 'Delete a webhook endpoint with its delivery log (owners and admins)',
      auth: 'jwt',
      responses: { 204: null, ...problems },
      params: webhookParams,
      async handler({ auth, params, client }) {
        await webhooks.remove(auth.userId, params.orgId, params.id, client);
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'post',
      path: '/orgs/:orgId/webhooks/:id/rotate-secret',
      summary: 'Replace the signing secret at once (owners and admins; needs a recent sign-in); the new one is shown only in this response',
      auth: 'jwt',
      stepUp: true,
      responses: { 200: withSecret, ...problems },
      params: webhookParams,
      async handler({ auth, params, client }) {
        const { endpoint: e, secret } = await webhooks.rotateSecret(auth.userId, params.orgId, params.id, client);
        return { status: 200, body: { ...webhookView(e), secret } };
      },
    }),
    endpoint({
      method: 'get',
      path: '/orgs/:orgId/webhooks/:id/deliveries',
      summary: 'The delivery log, newest first (owners and admins): `limit` (1-100, default 20), `before` = the last id of the previous page',
      auth: 'jwt',
      responses: { 200: z.object({ deliveries: z.array(delivery), next: z.string().nullable() }), ...problems },
      params: webhookParams,
      query: deliveriesQuery,
      async handler({ auth, params, query }) {
        const page = { limit: query.limit, ...(query.before !== undefined ? { before: query.before } : {}) };
        const rows = await webhooks.listDeliveries(auth.userId, params.orgId, params.id, page);
        const last = rows.at(-1);
        return { status: 200, body: { deliveries: rows.map(deliveryView), next: rows.length === query.limit && last ? last.id : null } };
      },
    }),
    endpoint({
      method: 'post',
      path: '/orgs/:orgId/webhooks/:id/deliveries/:deliveryId/redeliver',
      summary: 'Send a delivered or failed delivery again, as a new delivery with the same webhook-id (owners and admins)',
      auth: 'jwt',
      responses: { 202: delivery, ...problems, 409: r.problem },
      params: deliveryParams,
      async handler({ auth, params }) {
        return { status: 202, body: deliveryView(await webhooks.redeliver(auth.userId, params.orgId, params.id, params.deliveryId)) };
      },
    }),
  ];
}
