import { expect } from 'chai';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { eventually } from '../helpers/eventually.js';
import { signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';
import { startReceiver, type Receiver, type ReceivedWebhook } from '../helpers/webhooks.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const FAST = { retrySchedule: [50], maxConsecutiveFailures: 2, worker: { interval: 40 } };
const signed = (r: ReceivedWebhook) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});

/** The organization's audited actions reach its webhooks: the same events, from the action's own transaction. */
function suite(label: string, makeStorage: () => Promise<ReturnType<typeof createKnexStorage> | undefined>): void {
  describe(label, function () {
    this.timeout(30_000);
    let h: Harness;
    let receiver: Receiver;
    let owner: SignedUp;

    beforeEach(async () => {
      receiver = await startReceiver();
      const storage = await makeStorage();
      h = await startHarness({ webhooks: FAST }, storage ? { storage } : {});
      owner = await signupWithOrg(h.app);
    });
    afterEach(async () => {
      await h.close();
      await receiver.close();
    });

    const register = async (body: Record<string, unknown> = {}) => {
      const res = await request(h.app).post(`/auth/orgs/${owner.orgId}/webhooks`).set(bearer(owner.access)).send({ url: receiver.url, ...body });
      expect(res.status, res.text).to.equal(201);
      return res.body as { id: string; secret: string };
    };
    const auditLog = async (action: string) =>
      (await request(h.app).get(`/auth/orgs/${owner.orgId}/audit`).query({ action }).set(bearer(owner.access))).body.entries as Array<Record<string, unknown>>;

    it('an invitation is delivered as the audit entry it made (same id, same data), signed; a refused one sends nothing', async () => {
      const { secret } = await register();
      expectStatus(await request(h.app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).send({ role: 'emperor' }), 400);
      const invited = await request(h.app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).send({ role: 'admin' });
      expectStatus(invited, 201);
      await eventually(() => receiver.received.length >= 1, 5_000, 'the delivery');
      const [entry] = await auditLog('member.invited');
      const [got] = receiver.received as [ReceivedWebhook];
      const payload = new Webhook(secret).verify(got.body, signed(got)) as { type: string; data: Record<string, unknown> };
      expect(got.headers['webhook-id']).to.equal(entry?.id);
      expect(payload.type).to.equal('member.invited');
      for (const key of ['id', 'orgId', 'action', 'actor', 'target', 'data']) expect(payload.data[key], key).to.deep.equal(entry?.[key]);
      expect(got.body).not.to.contain(invited.body.code);
      // The refused invitation made neither an entry nor a delivery.
      expect(await auditLog('member.invited')).to.have.length(1);
      expect(receiver.received).to.have.length(1);
    });

    it('an endpoint gets only the events it asked for', async () => {
      await register({ events: ['member.removed'] });
      expectStatus(await request(h.app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).send({ role: 'member' }), 201);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(receiver.received).to.have.length(0);
    });

    it("changes to an endpoint are audited (its URL by origin only) and are not sent to webhooks", async () => {
      const { id } = await register({ url: `${receiver.url}?token=receiver-secret` });
      const base = `/auth/orgs/${owner.orgId}/webhooks/${id}`;
      expectStatus(await request(h.app).patch(base).set(bearer(owner.access)).send({ events: ['member.removed'], enabled: true }), 200);
      expectStatus(await request(h.app).post(`${base}/rotate-secret`).set(bearer(owner.access)), 200);
      expectStatus(await request(h.app).delete(base).set(bearer(owner.access)), 204);
      const actions = ((await request(h.app).get(`/auth/orgs/${owner.orgId}/audit`).set(bearer(owner.access))).body.entries as Array<{ action: string; target: unknown; actor: unknown; data: Record<string, unknown> }>).filter((e) =>
        e.action.startsWith('webhook.'),
      );
      expect(actions.map((e) => e.action)).to.deep.equal(['webhook.deleted', 'webhook.secret_rotated', 'webhook.updated', 'webhook.created']);
      for (const e of actions) expect(e).to.deep.include({ target: { type: 'webhook', id }, actor: { type: 'user', id: owner.userId } });
      expect(actions[3]?.data).to.deep.equal({ origin: new URL(receiver.url).origin, events: null });
      expect(actions[2]?.data).to.deep.equal({ events: 'member.removed', enabled: true });
      expect(JSON.stringify(actions)).not.to.contain('receiver-secret');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.received).to.have.length(0);
    });

    it('an endpoint disabled after its failures is recorded in the audit log, by the system', async () => {
      receiver.respond = () => 500;
      const { id } = await register();
      expectStatus(await request(h.app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).send({ role: 'member' }), 201);
      await eventually(async () => (await auditLog('webhook.disabled')).length === 1, 10_000, 'webhook.disabled in the audit log');
      const [entry] = await auditLog('webhook.disabled');
      expect(entry).to.deep.include({ actor: { type: 'system', id: null }, target: { type: 'webhook', id } });
      const endpoint = await request(h.app).get(`/auth/orgs/${owner.orgId}/webhooks/${id}`).set(bearer(owner.access));
      expect(endpoint.body.enabled).to.equal(false);
    });
  });
}

function expectStatus(res: request.Response, status: number): void {
  expect(res.status, res.text).to.equal(status);
}

describe('webhook changes need a recent sign-in', function () {
  this.timeout(30_000);
  let now = Date.now();
  let h: Harness;
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
    h = await startHarness({ webhooks: FAST, clock: { now: () => now } });
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  it('registering, a new URL and a new secret: 403 reauthentication_required after stepUp.maxAge; other changes pass', async () => {
    const owner = await signupWithOrg(h.app);
    const created = await request(h.app).post(`/auth/orgs/${owner.orgId}/webhooks`).set(bearer(owner.access)).send({ url: receiver.url });
    expectStatus(created, 201);
    now += 6 * 60_000;
    const base = `/auth/orgs/${owner.orgId}/webhooks`;
    const stale = [
      request(h.app).post(base).set(bearer(owner.access)).send({ url: receiver.url }),
      request(h.app).patch(`${base}/${created.body.id}`).set(bearer(owner.access)).send({ url: `${receiver.url}/other` }),
      request(h.app).post(`${base}/${created.body.id}/rotate-secret`).set(bearer(owner.access)),
    ];
    for (const res of await Promise.all(stale)) {
      expectStatus(res, 403);
      expect(res.body.code).to.equal('reauthentication_required');
    }
    expectStatus(await request(h.app).patch(`${base}/${created.body.id}`).set(bearer(owner.access)).send({ enabled: false }), 200);
    expect((await request(h.app).get(base).set(bearer(owner.access))).body.webhooks).to.have.length(1);
  });
});

describe('audit log → webhooks', () => {
  suite('on SQLite', async () => undefined);
  suite('on PostgreSQL', async () => createKnexStorage(pgConfig(await createTestDatabase('audit_webhooks'), { pool: { min: 0, max: 10 } })));
});
