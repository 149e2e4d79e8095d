import { expect } from 'chai';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { eventually } from '../helpers/eventually.js';
import { signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';
import { emitEvent, startReceiver, type Receiver } from '../helpers/webhooks.js';

/**
 * Two instances (two routers, two pools) on one PostgreSQL database, both running their
 * webhook workers, plus passes raced by hand: the receiver must get each delivery once,
 * and each endpoint's events in order.
 */
describe('webhook delivery on PostgreSQL, across two instances', function () {
  this.timeout(60_000);
  let receiver: Receiver;
  let a: Harness;
  let b: Harness;

  before(async () => {
    receiver = await startReceiver();
    const url = await createTestDatabase('webhook_outbox');
    const options = { webhooks: { retrySchedule: [50, 50, 50], worker: { interval: 30 } } };
    a = await startHarness(options, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
    b = await startHarness(options, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await receiver?.close();
  });

  it('30 events to 4 endpoints, queued through both instances: each delivered exactly once, in order per endpoint', async () => {
    // The first attempt of every 7th event fails at each endpoint, so retries race the other
    // instance's passes too; each fails once only, so every delivery ends delivered.
    const failed = new Set<string>();
    receiver.respond = (_n, body, url) => {
      const { data } = JSON.parse(body) as { data: { id: string; data: { n: number } } };
      const key = `${url} ${data.id}`;
      if (data.data.n % 7 !== 3 || failed.has(key)) return 200;
      failed.add(key);
      return 500;
    };
    const owner = await signupWithOrg(a.app);
    for (let e = 0; e < 4; e += 1) {
      const res = await request(a.app).post(`/auth/orgs/${owner.orgId}/webhooks`).set('Authorization', `Bearer ${owner.access}`).send({ url: `${receiver.url}?endpoint=${e}` });
      expect(res.status).to.equal(201);
    }
    const events = [];
    for (let i = 0; i < 30; i += 1) events.push(await emitEvent(i % 2 === 0 ? a : b, owner.orgId, 'member.joined', { n: i }));
    await Promise.all([a, b, a, b].map((h) => h.auth.services.webhooks.deliverPending()));
    const delivered = () => receiver.received.filter((r) => r.status === 200);
    await eventually(() => delivered().length >= 120, 20_000, 'all 120 deliveries');
    // Let the timers run more passes: nothing may arrive twice.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(delivered()).to.have.length(120);
    // Events 3, 10, 17 and 24 failed once at each of the 4 endpoints, and were retried.
    expect(receiver.received.filter((r) => r.status === 500)).to.have.length(16);
    const ids = events.map((e) => e.id);
    for (let e = 0; e < 4; e += 1) {
      const got = delivered().filter((r) => r.url.endsWith(`endpoint=${e}`));
      expect(got.map((r) => r.headers['webhook-id']), `endpoint ${e}`).to.deep.equal(ids);
    }
    const rows = await a.storage.knex('auth_webhook_deliveries').select('status');
    expect(rows).to.have.length(120);
    expect(rows.filter((r) => r.status !== 'delivered')).to.deep.equal([]);
  });
});
