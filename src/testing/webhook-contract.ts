import assert from 'node:assert/strict';
import type { NewWebhookDelivery, StorageAdapter, WebhookEndpointRecord } from '../ports.js';
import { CONTRACT_NOW, storageWithOrgs, type ContractGroup } from './contract-parts.js';

const NOW = CONTRACT_NOW;
const MINUTE = 60_000;

function endpoint(n: string, orgId: string, overrides: Partial<WebhookEndpointRecord> = {}): WebhookEndpointRecord {
  return {
    id: `wh-${n}`,
    orgId,
    url: `https://hooks.example.com/${n}`,
    events: null,
    secret: `sealed-${n}`,
    enabled: true,
    consecutiveFailures: 0,
    disabledReason: null,
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  };
}

function delivery(n: number, endpointId: string, overrides: Partial<NewWebhookDelivery> = {}): NewWebhookDelivery {
  return {
    id: `whd-${String(n).padStart(3, '0')}`,
    endpointId,
    eventId: `evt-${n}`,
    eventType: 'member.joined',
    payload: JSON.stringify({ type: 'member.joined', n }),
    createdAt: NOW,
    nextAttemptAt: NOW,
    ...overrides,
  };
}

const claim = (id: string, until = NOW + 5 * MINUTE) => ({ claimId: id, claimedUntil: until });
const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

/** The webhook part of the storage contract (see runStorageContract). */
export function webhookContract(
  g: ContractGroup,
  adapter: () => StorageAdapter,
): void {
  const withOrgs = (...orgIds: string[]) => storageWithOrgs(adapter, ...orgIds);

  g.describe('webhooks', () => {
    g.it('endpoints: insert, find and list per org (events filter kept), update, delete; other orgs see none', async () => {
      const storage = await withOrgs('org-w1', 'org-w2');
      const a = endpoint('a', 'org-w1', { events: ['member.joined', 'member.removed'] });
      const b = endpoint('b', 'org-w1', { createdAt: NOW + 1, updatedAt: NOW + 1 });
      await storage.webhooks.insertEndpoint(b);
      await storage.webhooks.insertEndpoint(a);
      assert.deepEqual(await storage.webhooks.findEndpoint('org-w1', 'wh-a'), a);
      assert.equal(await storage.webhooks.findEndpoint('org-w2', 'wh-a'), null);
      assert.deepEqual(await storage.webhooks.findEndpointById('wh-a'), a);
      assert.equal(await storage.webhooks.findEndpointById('wh-zzz'), null);
      assert.deepEqual(await storage.webhooks.listEndpoints('org-w1'), [a, b]);
      assert.deepEqual(await storage.webhooks.listEndpoints('org-w2'), []);

      const changed = await storage.webhooks.updateEndpoint('org-w1', 'wh-a', { events: null, enabled: false, disabledReason: 'why', updatedAt: NOW + 5 });
      assert.deepEqual(changed, { ...a, events: null, enabled: false, disabledReason: 'why', updatedAt: NOW + 5 });
      assert.equal(await storage.webhooks.updateEndpoint('org-w2', 'wh-a', { url: 'https://x.example', updatedAt: NOW }), null);

      assert.equal(await storage.webhooks.deleteEndpoint('org-w2', 'wh-a'), false);
      assert.equal(await storage.webhooks.deleteEndpoint('org-w1', 'wh-a'), true);
      assert.deepEqual(ids(await storage.webhooks.listEndpoints('org-w1')), ['wh-b']);
    });

    g.it("claims only the oldest pending delivery of each enabled endpoint; the next one after the first's outcome", async () => {
      const storage = await withOrgs('org-w1');
      await storage.webhooks.insertEndpoint(endpoint('a', 'org-w1'));
      await storage.webhooks.insertEndpoint(endpoint('b', 'org-w1'));
      await storage.webhooks.insertEndpoint(endpoint('off', 'org-w1', { enabled: false }));
      await storage.webhooks.insertDeliveries([delivery(1, 'wh-a'), delivery(2, 'wh-b'), delivery(3, 'wh-a'), delivery(4, 'wh-off')]);

      const first = await storage.webhooks.claimDue(NOW, 10, claim('c1'));
      assert.deepEqual(ids(first), ['whd-001', 'whd-002']);
      assert.equal(first[0]?.attempts, 1);
      assert.equal(first[0]?.claimId, 'c1');
      assert.deepEqual(await storage.webhooks.claimDue(NOW, 10, claim('c2')), [], 'leased, and wh-a #3 waits for #1');

      // A retry later keeps #3 waiting: one endpoint's events never overtake each other.
      assert.equal(await storage.webhooks.recordAttempt('whd-001', 'c2', { now: NOW, delivered: true, statusCode: 200, error: null, nextAttemptAt: null }), false);
      assert.equal(await storage.webhooks.recordAttempt('whd-001', 'c1', { now: NOW, delivered: false, statusCode: 500, error: 'HTTP 500', nextAttemptAt: NOW + MINUTE }), true);
      assert.deepEqual(await storage.webhooks.claimDue(NOW + 1, 10, claim('c3')), []);
      const retried = await storage.webhooks.claimDue(NOW + MINUTE, 10, claim('c4'));
      assert.deepEqual(ids(retried), ['whd-001']);
      assert.equal(retried[0]?.attempts, 2);
      assert.equal(retried[0]?.lastStatusCode, 500);
      assert.equal(await storage.webhooks.recordAttempt('whd-001', 'c4', { now: NOW + MINUTE, delivered: true, statusCode: 204, error: null, nextAttemptAt: null }), true);
      assert.deepEqual(ids(await storage.webhooks.claimDue(NOW + MINUTE, 10, claim('c5'))), ['whd-003']);

      const done = await storage.webhooks.findDelivery('wh-a', 'whd-001');
      assert.equal(done?.status, 'delivered');
      assert.equal(done?.deliveredAt, NOW + MINUTE);
      assert.equal(done?.lastStatusCode, 204);
      assert.equal(done?.claimedUntil, null);
      assert.equal(await storage.webhooks.findDelivery('wh-b', 'whd-001'), null);

      // Given up (no next attempt): failed, and no longer holds the endpoint's queue.
      assert.equal(await storage.webhooks.recordAttempt('whd-002', 'c1', { now: NOW, delivered: false, statusCode: null, error: 'timeout', nextAttemptAt: null }), true);
      assert.equal((await storage.webhooks.findDelivery('wh-b', 'whd-002'))?.status, 'failed');
    });

    g.it('an expired lease is claimed again; a disabled endpoint keeps its deliveries until enabled', async () => {
      const storage = await withOrgs('org-w1');
      await storage.webhooks.insertEndpoint(endpoint('a', 'org-w1'));
      await storage.webhooks.insertDeliveries([delivery(1, 'wh-a')]);
      assert.deepEqual(ids(await storage.webhooks.claimDue(NOW, 10, claim('c1', NOW + MINUTE))), ['whd-001']);
      await storage.webhooks.updateEndpoint('org-w1', 'wh-a', { enabled: false, updatedAt: NOW });
      assert.deepEqual(await storage.webhooks.claimDue(NOW + 2 * MINUTE, 10, claim('c2')), []);
      await storage.webhooks.updateEndpoint('org-w1', 'wh-a', { enabled: true, updatedAt: NOW });
      const again = await storage.webhooks.claimDue(NOW + 2 * MINUTE, 10, claim('c3'));
      assert.deepEqual(ids(again), ['whd-001']);
      assert.equal(again[0]?.attempts, 2);
      assert.equal(await storage.webhooks.recordAttempt('whd-001', 'c1', { now: NOW, delivered: true, statusCode: 200, error: null, nextAttemptAt: null }), false, 'the first claimer lost it');
    });

    g.it('delivery log: newest first, paged with the last id seen', async () => {
      const storage = await withOrgs('org-w1');
      await storage.webhooks.insertEndpoint(endpoint('a', 'org-w1'));
      await storage.webhooks.insertDeliveries([1, 2, 3, 4, 5].map((n) => delivery(n, 'wh-a')));
      const page1 = await storage.webhooks.listDeliveries('wh-a', { limit: 2 });
      assert.deepEqual(ids(page1), ['whd-005', 'whd-004']);
      assert.deepEqual(ids(await storage.webhooks.listDeliveries('wh-a', { limit: 2, before: 'whd-004' })), ['whd-003', 'whd-002']);
      assert.deepEqual(ids(await storage.webhooks.listDeliveries('wh-a', { limit: 10, before: 'whd-002' })), ['whd-001']);
      assert.deepEqual(page1[0], {
        ...delivery(5, 'wh-a'),
        status: 'pending',
        attempts: 0,
        claimedUntil: null,
        claimId: null,
        lastStatusCode: null,
        lastError: null,
        deliveredAt: null,
      });
    });

    g.it('countFailure disables the endpoint at the limit, reported once; resetFailures starts over', async () => {
      const storage = await withOrgs('org-w1');
      await storage.webhooks.insertEndpoint(endpoint('a', 'org-w1'));
      assert.equal(await storage.webhooks.countFailure('wh-a', NOW, 3, 'r'), false);
      await storage.webhooks.resetFailures('wh-a', NOW);
      const results = [];
      for (let i = 0; i < 4; i += 1) results.push(await storage.webhooks.countFailure('wh-a', NOW + i, 3, '3 consecutive failures'));
      assert.deepEqual(results, [false, false, true, false]);
      const found = await storage.webhooks.findEndpoint('org-w1', 'wh-a');
      assert.equal(found?.enabled, false);
      assert.equal(found?.consecutiveFailures, 4);
      assert.equal(found?.disabledReason, '3 consecutive failures');
    });

    g.it('deleting an endpoint or its org deletes its deliveries', async () => {
      const storage = await withOrgs('org-w1', 'org-w2');
      await storage.webhooks.insertEndpoint(endpoint('a', 'org-w1'));
      await storage.webhooks.insertEndpoint(endpoint('b', 'org-w2'));
      await storage.webhooks.insertDeliveries([delivery(1, 'wh-a'), delivery(2, 'wh-b')]);
      assert.equal(await storage.webhooks.deleteEndpoint('org-w1', 'wh-a'), true);
      assert.deepEqual(await storage.webhooks.listDeliveries('wh-a', { limit: 10 }), []);
      assert.equal(await storage.orgs.delete('org-w2'), true);
      assert.deepEqual(await storage.webhooks.listEndpoints('org-w2'), []);
      assert.deepEqual(await storage.webhooks.claimDue(NOW, 10, claim('c1')), []);
    });

    g.it('purgeFinished deletes delivered and given-up deliveries created before the cut-off, never pending ones', async () => {
      const storage = await withOrgs('org-w1');
      await storage.webhooks.insertEndpoint(endpoint('a', 'org-w1'));
      await storage.webhooks.insertEndpoint(endpoint('b', 'org-w1'));
      await storage.webhooks.insertEndpoint(endpoint('c', 'org-w1'));
      await storage.webhooks.insertDeliveries([delivery(1, 'wh-a'), delivery(2, 'wh-b'), delivery(3, 'wh-c'), delivery(4, 'wh-a', { createdAt: NOW + 2 * MINUTE })]);
      await storage.webhooks.claimDue(NOW, 10, claim('c1'));
      await storage.webhooks.recordAttempt('whd-001', 'c1', { now: NOW, delivered: true, statusCode: 200, error: null, nextAttemptAt: null });
      await storage.webhooks.recordAttempt('whd-002', 'c1', { now: NOW, delivered: false, statusCode: 500, error: 'HTTP 500', nextAttemptAt: null });
      await storage.webhooks.claimDue(NOW, 10, claim('c2'));
      await storage.webhooks.recordAttempt('whd-004', 'c2', { now: NOW, delivered: true, statusCode: 200, error: null, nextAttemptAt: null });
      assert.equal(await storage.webhooks.purgeFinished(NOW + MINUTE), 2);
      assert.deepEqual(ids(await storage.webhooks.listDeliveries('wh-a', { limit: 10 })), ['whd-004']);
      assert.deepEqual(ids(await storage.webhooks.listDeliveries('wh-c', { limit: 10 })), ['whd-003']);
    });

    g.it('concurrent claimers never get the same delivery', async () => {
      const storage = await withOrgs('org-w1');
      const endpoints = Array.from({ length: 12 }, (_, i) => endpoint(`e${i}`, 'org-w1'));
      for (const e of endpoints) await storage.webhooks.insertEndpoint(e);
      await storage.webhooks.insertDeliveries(endpoints.map((e, i) => delivery(i + 1, e.id)));
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => storage.webhooks.claimDue(NOW, 3, claim(`c${i}`))));
      const claimed = claims.flatMap(ids);
      assert.equal(new Set(claimed).size, claimed.length, `claimed twice: ${claimed.join(',')}`);
      assert.equal(claimed.length, 12);
    });
  });
}
