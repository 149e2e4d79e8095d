import type { ClientInfo } from '../core/client-info.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { AuditEvent } from '../core/audit-event.js';
import type { CoreContext } from '../core/context.js';
import { requireRole } from '../core/membership-checks.js';
import { AuthError } from '../errors.js';
import type { EpochMs, Repositories, WebhookDeliveryRecord, WebhookEndpointRecord } from '../ports.js';
import type { WebhookConfig } from './options.js';
import { postWebhook } from './sender.js';
import { checkWebhookUrl } from './url.js';

/** What `onEndpointDisabled` is told: the endpoint as it was disabled, why, and when. */
export interface WebhookEndpointDisabled {
  endpoint: WebhookEndpointRecord;
  reason: string;
  at: EpochMs;
}

export interface WebhookHooks {
  /** A delivery was written: deliver soon (its transaction may still be committing). */
  onQueued?: () => void;
  /**
   * The worker disabled an endpoint after too many failures. Runs inside the
   * transaction that disabled it (`tx`), once per disabling, so a record of it (the
   * audit log) commits or rolls back with it.
   */
  onEndpointDisabled?: (tx: Repositories, disabled: WebhookEndpointDisabled) => Promise<void>;
}

/** What may change on an endpoint; `enabled: true` also clears the failure counter. */
export interface WebhookEndpointChange {
  url?: string;
  events?: string[] | null;
  enabled?: boolean;
}

/** Webhooks of organizations: endpoints managed by owners and admins, the outbox, and the delivery pass. */
export interface WebhookService {
  /** Registers an endpoint; `secret` (`whsec_…`) is returned only here and by `rotateSecret`. */
  create(actorId: string, orgId: string, input: { url: string; events?: string[] | null }, client?: ClientInfo): Promise<{ endpoint: WebhookEndpointRecord; secret: string }>;
  list(actorId: string, orgId: string): Promise<WebhookEndpointRecord[]>;
  get(actorId: string, orgId: string, id: string): Promise<WebhookEndpointRecord>;
  update(actorId: string, orgId: string, id: string, change: WebhookEndpointChange, client?: ClientInfo): Promise<WebhookEndpointRecord>;
  remove(actorId: string, orgId: string, id: string, client?: ClientInfo): Promise<void>;
  /** A new secret at once: later deliveries (retries included) are signed with it only. */
  rotateSecret(actorId: string, orgId: string, id: string, client?: ClientInfo): Promise<{ endpoint: WebhookEndpointRecord; secret: string }>;
  /** The delivery log, newest first; `before`: the last id of the previous page. */
  listDeliveries(actorId: string, orgId: string, id: string, page: { limit: number; before?: string }): Promise<WebhookDeliveryRecord[]>;
  /** Queues the delivery's event again, as a new delivery with the same `webhook-id`; refused while it is still pending. */
  redeliver(actorId: string, orgId: string, id: string, deliveryId: string): Promise<WebhookDeliveryRecord>;
  /**
   * Writes one delivery per enabled endpoint of `event.orgId` whose filter matches, through
   * `tx`: the deliveries exist exactly when the caller's transaction commits.
   */
  enqueue(tx: Repositories, event: AuditEvent): Promise<void>;
  /** One worker pass: claims due deliveries, sends them, records the outcomes. Returns how many were delivered. */
  deliverPending(): Promise<number>;
}

/** The Standard Webhooks form of a signing secret: `whsec_` and the base64 of 32 random bytes. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** The body every endpoint receives: the audit event, under its action as `type`. */
export function webhookPayload(event: AuditEvent): string {
  return JSON.stringify({ type: event.action, timestamp: new Date(event.at).toISOString(), data: event });
}

// Audit data names an endpoint's URL by its origin only: the entry goes to the organization's
// other webhooks too, and a URL's path or query may hold the receiver's own token.

/** An event filter as audit data (a field holds scalars only): the names comma-separated, null for every event. */
const eventsData = (events: readonly string[] | null): string | null => (events === null ? null : events.join(','));

export function createWebhookService(ctx: CoreContext, config: WebhookConfig, hooks: WebhookHooks = {}): WebhookService {
  const { storage, clock, logger, audit } = ctx;
  const { worker } = config;
  let lastPurge = 0;

  async function ownEndpoint(actorId: string, orgId: string, id: string): Promise<WebhookEndpointRecord> {
    await requireRole(storage, actorId, orgId, 'admin');
    const endpoint = await storage.webhooks.findEndpoint(orgId, id);
    if (!endpoint) throw new AuthError('webhook_not_found', 'no such webhook endpoint in this organization');
    return endpoint;
  }

  const checkUrl = (url: string) => checkWebhookUrl(url, config);

  async function attempt(row: WebhookDeliveryRecord, claimId: string): Promise<boolean> {
    const endpoint = await storage.webhooks.findEndpointById(row.endpointId);
    // Deleted meanwhile: its deliveries went with it.
    if (!endpoint) return false;
    const timestamp = new Date(clock.now());
    let signature: string | null = null;
    try {
      signature = new Webhook(config.box.open(endpoint.secret, endpoint.id)).sign(row.eventId, timestamp, row.payload);
    } catch {
      // A secret sealed under another server key: a failed attempt like any other, so
      // the delivery ends (given up, the endpoint disabled) instead of looping on its lease.
    }
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'gatehouse-webhooks',
      'webhook-id': row.eventId,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature ?? '',
    };
    const result =
      signature === null
        ? { delivered: false, statusCode: null, error: 'the signing secret cannot be opened (was the server key changed?): rotate the secret' }
        : await postWebhook(endpoint.url, row.payload, headers, { timeoutMs: config.timeoutMs, blockPrivateAddresses: config.blockPrivateAddresses });
    const now = clock.now();
    if (result.delivered) {
      await storage.webhooks.recordAttempt(row.id, claimId, { now, delivered: true, statusCode: result.statusCode, error: null, nextAttemptAt: null });
      await storage.webhooks.resetFailures(endpoint.id, now);
      return true;
    }
    const wait = config.retryScheduleMs[row.attempts - 1];
    const nextAttemptAt = wait === undefined ? null : now + wait;
    await storage.webhooks.recordAttempt(row.id, claimId, { now, delivered: false, statusCode: result.statusCode, error: result.error, nextAttemptAt });
    // The URL stays out of the log: it may carry a token of the receiver's.
    logger.warn(nextAttemptAt === null ? 'gatehouse: webhook delivery given up' : 'gatehouse: webhook delivery failed, will retry', {
      endpointId: endpoint.id,
      orgId: endpoint.orgId,
      deliveryId: row.id,
      attempts: row.attempts,
      error: result.error,
    });
    const reason = `disabled after ${config.maxConsecutiveFailures} consecutive failed deliveries (last: ${result.error ?? 'unknown'})`;
    await storage.transaction(async (tx) => {
      if (!(await tx.webhooks.countFailure(endpoint.id, now, config.maxConsecutiveFailures, reason))) return;
      logger.warn('gatehouse: webhook endpoint disabled', { endpointId: endpoint.id, orgId: endpoint.orgId });
      await hooks.onEndpointDisabled?.(tx, { endpoint: { ...endpoint, enabled: false, disabledReason: reason, updatedAt: now }, reason, at: now });
    });
    return false;
  }

  return {
    async create(actorId, orgId, input, client) {
      await requireRole(storage, actorId, orgId, 'admin');
      const now = clock.now();
      const id = randomUUID();
      const secret = newSecret();
      const endpoint: WebhookEndpointRecord = {
        id,
        orgId,
        url: checkUrl(input.url),
        events: input.events ?? null,
        secret: config.box.seal(secret, id),
        enabled: true,
        consecutiveFailures: 0,
        disabledReason: null,
        createdAt: now,
        updatedAt: now,
      };
      await audit.transaction(async (tx) => {
        // Counted under the org's lock: concurrent registrations cannot all pass the count.
        await tx.memberships.lockOrg(orgId);
        if ((await tx.webhooks.listEndpoints(orgId)).length >= config.maxEndpointsPerOrg) {
          throw new AuthError('webhook_limit_reached', `this organization has ${config.maxEndpointsPerOrg} webhook endpoints, the most it may have; delete one first`);
        }
        await tx.webhooks.insertEndpoint(endpoint);
        await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'webhook.created', target: { type: 'webhook', id }, data: { origin: new URL(endpoint.url).origin, events: eventsData(endpoint.events) } });
      });
      return { endpoint, secret };
    },

    async list(actorId, orgId) {
      await requireRole(storage, actorId, orgId, 'admin');
      return storage.webhooks.listEndpoints(orgId);
    },

    get: ownEndpoint,

    async update(actorId, orgId, id, change, client) {
      const current = await ownEndpoint(actorId, orgId, id);
      const reEnabled = change.enabled === true && !current.enabled;
      const url = change.url !== undefined ? checkUrl(change.url) : undefined;
      const updated = await audit.transaction(async (tx) => {
        const written = await tx.webhooks.updateEndpoint(orgId, id, {
          updatedAt: clock.now(),
          ...(url !== undefined ? { url } : {}),
          ...(change.events !== undefined ? { events: change.events } : {}),
          ...(change.enabled !== undefined ? { enabled: change.enabled, disabledReason: null } : {}),
          // Failures before the re-enabling would otherwise count towards the next disabling.
          ...(reEnabled ? { consecutiveFailures: 0 } : {}),
        });
        if (!written) throw new AuthError('webhook_not_found', 'no such webhook endpoint in this organization');
        const data: AuditEvent['data'] = {};
        if (url !== undefined) data.origin = new URL(url).origin;
        if (change.events !== undefined) data.events = eventsData(change.events);
        if (change.enabled !== undefined) data.enabled = change.enabled;
        await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'webhook.updated', target: { type: 'webhook', id }, data });
        return written;
      });
      if (reEnabled) hooks.onQueued?.();
      return updated;
    },

    async remove(actorId, orgId, id, client) {
      await requireRole(storage, actorId, orgId, 'admin');
      await audit.transaction(async (tx) => {
        if (!(await tx.webhooks.deleteEndpoint(orgId, id))) throw new AuthError('webhook_not_found', 'no such webhook endpoint in this organization');
        await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'webhook.deleted', target: { type: 'webhook', id } });
      });
    },

    async rotateSecret(actorId, orgId, id, client) {
      await ownEndpoint(actorId, orgId, id);
      const secret = newSecret();
      const endpoint = await audit.transaction(async (tx) => {
        const written = await tx.webhooks.updateEndpoint(orgId, id, { secret: config.box.seal(secret, id), updatedAt: clock.now() });
        if (!written) throw new AuthError('webhook_not_found', 'no such webhook endpoint in this organization');
        await audit.record(tx, { client, orgId, actor: { type: 'user', id: actorId }, action: 'webhook.secret_rotated', target: { type: 'webhook', id } });
        return written;
      });
      return { endpoint, secret };
    },

    async listDeliveries(actorId, orgId, id, page) {
      await ownEndpoint(actorId, orgId, id);
      return storage.webhooks.listDeliveries(id, page);
    },

    async redeliver(actorId, orgId, id, deliveryId) {
      await ownEndpoint(actorId, orgId, id);
      const original = await storage.webhooks.findDelivery(id, deliveryId);
      if (!original) throw new AuthError('webhook_delivery_not_found', 'no such delivery of this webhook endpoint');
      if (original.status === 'pending') throw new AuthError('webhook_delivery_pending', 'this delivery is still pending: it is retried on its own');
      const now = clock.now();
      const delivery = { id: randomUUID(), endpointId: id, eventId: original.eventId, eventType: original.eventType, payload: original.payload, createdAt: now, nextAttemptAt: now };
      await storage.webhooks.insertDeliveries([delivery]);
      hooks.onQueued?.();
      return { ...delivery, status: 'pending', attempts: 0, claimedUntil: null, claimId: null, lastStatusCode: null, lastError: null, deliveredAt: null };
    },

    async enqueue(tx, event) {
      // Changes to the endpoints themselves stay in the audit log: an endpoint would otherwise be
      // sent its own registration, and every receiver the news of each rotated secret.
      if (event.orgId === null || event.action.startsWith('webhook.')) return;
      const endpoints = (await tx.webhooks.listEndpoints(event.orgId)).filter((e) => e.enabled && (e.events === null || e.events.includes(event.action)));
      if (endpoints.length === 0) return;
      const payload = webhookPayload(event);
      const now = clock.now();
      await tx.webhooks.insertDeliveries(
        endpoints.map((e) => ({ id: randomUUID(), endpointId: e.id, eventId: event.id, eventType: event.action, payload, createdAt: now, nextAttemptAt: now })),
      );
      hooks.onQueued?.();
    },

    async deliverPending() {
      let delivered = 0;
      // Each round takes the next delivery of every endpoint; a bound keeps one pass
      // from running forever when retries are due at once (a zero wait).
      for (let round = 0; round < 100; round += 1) {
        const now = clock.now();
        const claimId = randomUUID();
        const rows = await storage.webhooks.claimDue(now, worker.batchSize, { claimId, claimedUntil: now + worker.leaseMs });
        if (rows.length === 0) break;
        // Different endpoints in parallel (one slow receiver does not hold up the others).
        const results = await Promise.all(
          rows.map((row) =>
            attempt(row, claimId).catch((err: unknown) => {
              // Left claimed: the lease runs out and the delivery is tried again.
              logger.error('gatehouse: webhook delivery could not be recorded', { deliveryId: row.id, error: (err as Error).message });
              return false;
            }),
          ),
        );
        delivered += results.filter(Boolean).length;
      }
      const now = clock.now();
      if (now - lastPurge > 60 * 60 * 1000) {
        lastPurge = now;
        await storage.webhooks.purgeFinished(now - config.retentionMs);
      }
      return delivered;
    },
  };
}
