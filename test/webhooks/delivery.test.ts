import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { createAuthRouter, type AuthRouterOptions } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import type { CoreContext } from '../../src/core/context.js';
import { createSecretBox } from '../../src/core/secret-box.js';
import { createWebhookService, type WebhookEndpointDisabled } from '../../src/webhooks/service.js';
import { resolveWebhookOptions } from '../../src/webhooks/options.js';
import { eventually } from '../helpers/eventually.js';
import { SECRET, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { emitEvent, startReceiver, type Receiver, type ReceivedWebhook } from '../helpers/webhooks.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const FAST = { retrySchedule: [60, 60, 60, 60, 60], maxConsecutiveFailures: 10, worker: { interval: 40 } };

/** What the Standard Webhooks check needs from a received request. */
const signed = (r: ReceivedWebhook) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('webhook delivery (real receiver, SQLite)', function () {
  this.timeout(30_000);
  let receiver: Receiver;
  let h: Harness;
  let owner: SignedUp;

  async function start(webhooks: AuthRouterOptions['webhooks'] = FAST): Promise<void> {
    h = await startHarness({ webhooks });
    owner = await signupWithOrg(h.app);
  }
  const register = async (body: Record<string, unknown> = {}) => {
    const res = await request(h.app).post(`/auth/orgs/${owner.orgId}/webhooks`).set(bearer(owner.access)).send({ url: receiver.url, ...body });
    expect(res.status, res.text).to.equal(201);
    return res.body as { id: string; secret: string };
  };
  const log = async (id: string) => (await request(h.app).get(`/auth/orgs/${owner.orgId}/webhooks/${id}/deliveries`).set(bearer(owner.access))).body.deliveries;

  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await h?.close();
    await receiver.close();
  });

  it('POSTs {type, timestamp, data} signed per Standard Webhooks: verifies with the secret shown at creation', async () => {
    await start();
    const { id, secret } = await register();
    const event = await emitEvent(h, owner.orgId, 'member.role_changed', { role: 'admin' });
    await eventually(() => receiver.received.length === 1, 5_000, 'the delivery');
    const [got] = receiver.received as [ReceivedWebhook];
    expect(got.headers['content-type']).to.equal('application/json');
    expect(got.headers['webhook-id']).to.equal(event.id);
    expect(got.headers['webhook-signature']).to.match(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(Number(got.headers['webhook-timestamp'])).to.be.closeTo(Date.now() / 1000, 30);
    expect(new Webhook(secret).verify(got.body, signed(got))).to.deep.equal({ type: 'member.role_changed', timestamp: new Date(event.at).toISOString(), data: event });
    expect(() => new Webhook(secret).verify(got.body.replace('admin', 'owner'), signed(got))).to.throw();
    await eventually(async () => (await log(id))[0]?.status === 'delivered', 5_000, 'delivered in the log');
    expect((await log(id))[0]).to.include({ eventId: event.id, attempts: 1, lastStatusCode: 204, lastError: null });
  });

  it('a 500 is retried after the backoff with the same webhook-id; the log shows both attempts', async () => {
    await start();
    receiver.respond = (n) => (n === 0 ? 500 : 200);
    const { id, secret } = await register();
    const event = await emitEvent(h, owner.orgId);
    await eventually(() => receiver.received.length === 2, 5_000, 'the retry');
    expect(receiver.received.map((r) => [r.headers['webhook-id'], r.status])).to.deep.equal([
      [event.id, 500],
      [event.id, 200],
    ]);
    for (const r of receiver.received) new Webhook(secret).verify(r.body, signed(r));
    await eventually(async () => (await log(id))[0]?.status === 'delivered', 5_000, 'delivered in the log');
    const [entry] = await log(id);
    expect(entry).to.include({ status: 'delivered', attempts: 2, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    expect((await request(h.app).get(`/auth/orgs/${owner.orgId}/webhooks/${id}`).set(bearer(owner.access))).body.consecutiveFailures).to.equal(0);
  });

  it('gives a delivery up after the schedule, and disables the endpoint after N consecutive failures (once); enabling again resumes', async () => {
    await start({ ...FAST, retrySchedule: [40], maxConsecutiveFailures: 3 });
    receiver.respond = () => 503;
    const { id } = await register();
    const first = await emitEvent(h, owner.orgId);
    const second = await emitEvent(h, owner.orgId);
    const third = await emitEvent(h, owner.orgId);
    await eventually(() => receiver.received.length >= 3, 5_000, 'three failed attempts');
    await wait(400);
    // first: 2 attempts (given up); second: 1 attempt, the third failure in a row: disabled.
    expect(receiver.received.map((r) => r.headers['webhook-id'])).to.deep.equal([first.id, first.id, second.id]);
    const endpoint = (await request(h.app).get(`/auth/orgs/${owner.orgId}/webhooks/${id}`).set(bearer(owner.access))).body;
    expect(endpoint).to.include({ enabled: false, consecutiveFailures: 3 });
    expect(endpoint.disabledReason).to.match(/^disabled after 3 consecutive failed deliveries \(last: HTTP 503\)$/);
    expect((await log(id)).map((d: { eventId: string; status: string; attempts: number }) => [d.eventId, d.status, d.attempts])).to.deep.equal([
      [third.id, 'pending', 0],
      [second.id, 'pending', 1],
      [first.id, 'failed', 2],
    ]);
    // Re-enabled (counter reset), the receiver well again: the waiting events go out, in order.
    receiver.respond = () => 200;
    const on = await request(h.app).patch(`/auth/orgs/${owner.orgId}/webhooks/${id}`).set(bearer(owner.access)).send({ enabled: true });
    expect(on.body).to.include({ enabled: true, consecutiveFailures: 0, disabledReason: null });
    await eventually(() => receiver.received.length === 5, 5_000, 'the waiting events');
    expect(receiver.received.slice(3).map((r) => r.headers['webhook-id'])).to.deep.equal([second.id, third.id]);
  });

  it('tells onEndpointDisabled once, inside the transaction that disabled the endpoint', async () => {
    await start({ ...FAST, retrySchedule: [], maxConsecutiveFailures: 2, worker: { autoStart: false } });
    receiver.respond = () => 500;
    const { id } = await register();
    const told: Array<WebhookEndpointDisabled & { seenInTx: boolean | undefined }> = [];
    const ctx = { storage: h.storage, clock: { now: () => Date.now() }, logger: { info() {}, warn() {}, error() {} } } as unknown as CoreContext;
    // The router's own service seals with a key derived from SECRET; this one must open those secrets.
    const config = resolveWebhookOptions({ retrySchedule: [], maxConsecutiveFailures: 2 }, createSecretBox(Buffer.from(SECRET), 'webhook-secret'));
    const service = createWebhookService(ctx, config, {
      async onEndpointDisabled(tx, disabled) {
        told.push({ ...disabled, seenInTx: (await tx.webhooks.findEndpoint(owner.orgId, disabled.endpoint.id))?.enabled });
      },
    });
    for (let i = 0; i < 4; i += 1) await emitEvent(h, owner.orgId);
    for (let i = 0; i < 4; i += 1) await service.deliverPending();
    expect(receiver.received).to.have.length(2);
    expect(told).to.have.length(1);
    expect(told[0]).to.include({ seenInTx: false, reason: 'disabled after 2 consecutive failed deliveries (last: HTTP 500)' });
    expect(told[0]?.endpoint).to.include({ id, enabled: false, orgId: owner.orgId });
  });

  it("delivers one endpoint's events in order: the next waits until the one before is delivered", async () => {
    await start();
    // Each of the first two requests fails once: every event needs a retry.
    receiver.respond = (n) => (n % 2 === 0 ? 500 : 200);
    const other = await startReceiver();
    try {
      await register();
      const second = await request(h.app).post(`/auth/orgs/${owner.orgId}/webhooks`).set(bearer(owner.access)).send({ url: other.url });
      expect(second.status).to.equal(201);
      const events = [];
      for (let i = 0; i < 4; i += 1) events.push(await emitEvent(h, owner.orgId, 'member.joined', { n: i }));
      await eventually(() => receiver.received.length === 8 && other.received.length === 4, 10_000, 'all deliveries');
      const ids = events.map((e) => e.id);
      expect(receiver.received.map((r) => r.headers['webhook-id'])).to.deep.equal(ids.flatMap((x) => [x, x]));
      expect(other.received.map((r) => r.headers['webhook-id'])).to.deep.equal(ids);
    } finally {
      await other.close();
    }
  });

  it('after rotate-secret, new deliveries verify with the new secret only', async () => {
    await start();
    const { id, secret: old } = await register();
    const rotated = await request(h.app).post(`/auth/orgs/${owner.orgId}/webhooks/${id}/rotate-secret`).set(bearer(owner.access));
    expect(rotated.status).to.equal(200);
    await emitEvent(h, owner.orgId);
    await eventually(() => receiver.received.length === 1, 5_000, 'the delivery');
    const [got] = receiver.received as [ReceivedWebhook];
    expect(() => new Webhook(rotated.body.secret).verify(got.body, signed(got))).not.to.throw();
    expect(() => new Webhook(old).verify(got.body, signed(got))).to.throw(/No matching signature/);
  });

  it('redeliver sends a delivered event again with the same webhook-id', async () => {
    await start();
    const { id } = await register();
    const event = await emitEvent(h, owner.orgId);
    await eventually(async () => (await log(id))[0]?.status === 'delivered', 5_000, 'the first delivery');
    const [first] = await log(id);
    const res = await request(h.app).post(`/auth/orgs/${owner.orgId}/webhooks/${id}/deliveries/${first.id}/redeliver`).set(bearer(owner.access));
    expect(res.status, res.text).to.equal(202);
    await eventually(() => receiver.received.length === 2, 5_000, 'the redelivery');
    expect(receiver.received.map((r) => r.headers['webhook-id'])).to.deep.equal([event.id, event.id]);
  });

  it("a secret copied from another endpoint's row does not open: a failed attempt, nothing sent", async () => {
    await start({ ...FAST, retrySchedule: [] });
    const a = await register();
    const b = await register();
    const [row] = await h.storage.knex('auth_webhook_endpoints').where({ id: a.id }).select('secret');
    await h.storage.knex('auth_webhook_endpoints').where({ id: b.id }).update({ secret: row.secret });
    // Only b gets the event.
    await h.storage.knex('auth_webhook_endpoints').where({ id: a.id }).update({ enabled: false });
    await emitEvent(h, owner.orgId);
    await eventually(async () => (await log(b.id))[0]?.status === 'failed', 5_000, 'the failed attempt');
    expect((await log(b.id))[0].lastError).to.match(/^the signing secret cannot be opened/);
    expect(receiver.received).to.deep.equal([]);
  });

  it('records a receiver that does not answer in time as a failure', async () => {
    await start({ ...FAST, retrySchedule: [], timeout: 200 });
    receiver.respond = () => 0;
    const { id } = await register();
    await emitEvent(h, owner.orgId);
    await eventually(async () => (await log(id))[0]?.status === 'failed', 5_000, 'the timeout');
    expect((await log(id))[0]).to.include({ attempts: 1, lastStatusCode: null, lastError: 'timed out after 200 ms' });
  });

  it('in production mode, refuses at send time a host that resolves to a loopback address (nothing is sent)', async () => {
    await start({ ...FAST, retrySchedule: [], allowInsecureLoopback: true, blockPrivateAddresses: true });
    // Registered by name (an IP literal would be refused already); resolved when sending.
    const { id } = await register({ url: receiver.url.replace('127.0.0.1', 'localhost') });
    await emitEvent(h, owner.orgId);
    await eventually(async () => (await log(id))[0]?.status === 'failed', 5_000, 'the refusal');
    const [entry] = await log(id);
    expect(entry.lastError).to.match(/^refused: localhost resolves to (127\.0\.0\.1|::1), a private, loopback or link-local address$/);
    expect(receiver.received).to.deep.equal([]);
  });

  it('loses nothing across a restart: queued, router closed before sending, a new router on the same file delivers it', async () => {
    h = await startHarness({ webhooks: { ...FAST, worker: { autoStart: false } } });
    owner = await signupWithOrg(h.app);
    const { secret } = await register();
    const event = await emitEvent(h, owner.orgId);
    await h.auth.close();
    await h.storage.close();
    const storage = createKnexStorage({ filename: join(h.dir, 'auth.sqlite') });
    const auth = createAuthRouter({ storage, tokens: { secret: SECRET }, passwords: { cost: 4 }, logger: { warn: () => {}, error: () => {} }, webhooks: FAST });
    const app = express().use('/auth', auth);
    try {
      await auth.ready();
      await eventually(() => receiver.received.length === 1, 5_000, 'the delivery after the restart');
      const [got] = receiver.received as [ReceivedWebhook];
      expect(got.headers['webhook-id']).to.equal(event.id);
      new Webhook(secret).verify(got.body, signed(got));
      expect((await request(app).get(`/auth/orgs/${owner.orgId}/webhooks`).set(bearer(owner.access))).status).to.equal(200);
    } finally {
      await auth.close();
      await storage.close();
      rmSync(h.dir, { recursive: true, force: true });
      h = undefined as unknown as Harness;
    }
  });
});
