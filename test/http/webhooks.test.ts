import { expect } from 'chai';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { addMember, expectProblem, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';
import { emitEvent } from '../helpers/webhooks.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const SECRET_FORM = /^whsec_[A-Za-z0-9+/]{43}=$/;

/** The routes of issue 17's webhooks, on whatever storage `make` builds. The worker is off: nothing is sent here. */
function webhookRoutes(label: string, make: () => Promise<Harness>): void {
  describe(label, function () {
    this.timeout(60_000);
    let h: Harness;
    let owner: SignedUp;
    before(async () => {
      h = await make();
    });
    after(async () => {
      await h?.close();
    });
    beforeEach(async () => {
      owner = await signupWithOrg(h.app);
    });

    const base = (u: SignedUp) => `/auth/orgs/${u.orgId}/webhooks`;
    const create = (u: SignedUp, body: Record<string, unknown> = { url: 'https://hooks.example.com/in' }) => request(h.app).post(base(u)).set(bearer(u.access)).send(body);

    describe('POST /orgs/:orgId/webhooks', () => {
      it('registers an endpoint for every event; the whsec_ secret is shown once and sealed at rest', async () => {
        const res = await create(owner);
        expect(res.status, res.text).to.equal(201);
        expect(res.body).to.have.all.keys('id', 'url', 'events', 'enabled', 'consecutiveFailures', 'disabledReason', 'createdAt', 'updatedAt', 'secret');
        expect(res.body).to.include({ url: 'https://hooks.example.com/in', events: null, enabled: true, consecutiveFailures: 0, disabledReason: null });
        expect(res.body.secret).to.match(SECRET_FORM);
        expect(Buffer.from(res.body.secret.slice(6), 'base64')).to.have.length(32);
        const rows = await h.storage.knex('auth_webhook_endpoints').where({ id: res.body.id });
        expect(JSON.stringify(rows)).not.to.contain(res.body.secret.slice(6));
        // Sealed to its row: the sealed value opens only with this endpoint's id.
        expect(rows[0].secret).to.match(/^v2\./);

        const list = await request(h.app).get(base(owner)).set(bearer(owner.access));
        expect(list.status).to.equal(200);
        expect(list.body.webhooks).to.have.length(1);
        expect(list.body.webhooks[0]).not.to.have.property('secret');
        const one = await request(h.app).get(`${base(owner)}/${res.body.id}`).set(bearer(owner.access));
        expect(one.status).to.equal(200);
        const { secret: _secret, ...view } = res.body;
        expect(one.body).to.deep.equal(view);
      });

      it('at most webhooks.maxEndpointsPerOrg (10) per org, also with 50 registrations at once: the rest 409 webhook_limit_reached', async () => {
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => create(owner, { url: `https://hooks.example.com/in/${i}` })));
        expect(results.filter((r) => r.status === 201)).to.have.length(10);
        const refused = results.filter((r) => r.status !== 201);
        expect(refused).to.have.length(40);
        for (const res of refused) expectProblem(res, 409, 'webhook_limit_reached');
        const listed = await request(h.app).get(base(owner)).set(bearer(owner.access));
        expect(listed.body.webhooks).to.have.length(10);
        // Another org has its own allowance; deleting one frees a place.
        expect((await create(await signupWithOrg(h.app))).status).to.equal(201);
        expect((await request(h.app).delete(`${base(owner)}/${listed.body.webhooks[0].id}`).set(bearer(owner.access))).status).to.equal(204);
        expect((await create(owner)).status).to.equal(201);
      });

      it('keeps an event filter (duplicates dropped); admins may register too', async () => {
        const admin = await addMember(h.app, owner, 'admin');
        const res = await create(admin, { url: 'https://hooks.example.com/a?x=1#frag', events: ['member.joined', 'member.removed', 'member.joined'] });
        expect(res.status, res.text).to.equal(201);
        expect(res.body.events).to.deep.equal(['member.joined', 'member.removed']);
        expect(res.body.url).to.equal('https://hooks.example.com/a?x=1');
      });

      it('400 with field errors for a missing or malformed url, a bad event filter or an unknown field', async () => {
        expectProblem(await create(owner, {}), 400, 'invalid_request');
        const bad = await create(owner, { url: 'https://h.example', events: [] });
        expectProblem(bad, 400, 'invalid_request');
        expect(bad.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['events']);
        expectProblem(await create(owner, { url: 'https://h.example', events: ['Not An Event'] }), 400, 'invalid_request');
        expectProblem(await create(owner, { url: 'https://h.example', secret: 'mine' }), 400, 'invalid_request');
        for (const url of ['not a url', 'ftp://h.example/x', 'http://hooks.example.com/in', 'https://user:pw@h.example/x', 'javascript:alert(1)']) {
          const res = await create(owner, { url });
          expectProblem(res, 400, 'invalid_webhook_url');
          expect(res.body.errors, url).to.deep.equal([{ path: 'url', message: res.body.errors[0].message }]);
        }
      });

      it('accepts http only to this machine (development default)', async () => {
        for (const url of ['http://localhost:9/x', 'http://127.0.0.1:9/x', 'http://[::1]:9/x']) {
          expect((await create(owner, { url })).status, url).to.equal(201);
        }
      });

      it('401 without a token, 403 for a member, 404 for a non-member and an unknown org', async () => {
        expectProblem(await request(h.app).post(base(owner)).send({ url: 'https://h.example' }), 401, 'missing_token');
        const member = await addMember(h.app, owner, 'member');
        expectProblem(await create(member), 403, 'forbidden');
        const stranger = await signupWithOrg(h.app);
        expectProblem(await request(h.app).post(base(owner)).set(bearer(stranger.access)).send({ url: 'https://h.example' }), 404, 'org_not_found');
        expectProblem(await request(h.app).post('/auth/orgs/no-such-org/webhooks').set(bearer(owner.access)).send({ url: 'https://h.example' }), 404, 'org_not_found');
      });
    });

    describe('GET, PATCH, DELETE /orgs/:orgId/webhooks/:id and rotate-secret', () => {
      let id: string;
      beforeEach(async () => {
        id = (await create(owner, { url: 'https://hooks.example.com/in', events: ['member.joined'] })).body.id;
      });
      const one = (suffix = '') => `${base(owner)}/${id}${suffix}`;

      it('PATCH changes url and filter (null: every event); disabling and enabling again resets the failure counter', async () => {
        const res = await request(h.app).patch(one()).set(bearer(owner.access)).send({ url: 'https://other.example/in', events: null });
        expect(res.status, res.text).to.equal(200);
        expect(res.body).to.include({ url: 'https://other.example/in', events: null, enabled: true });
        for (let i = 0; i < 3; i += 1) await h.storage.webhooks.countFailure(id, Date.now(), 3, 'disabled after 3 consecutive failed deliveries');
        const disabled = await request(h.app).get(one()).set(bearer(owner.access));
        expect(disabled.body).to.include({ enabled: false, consecutiveFailures: 3, disabledReason: 'disabled after 3 consecutive failed deliveries' });
        const enabled = await request(h.app).patch(one()).set(bearer(owner.access)).send({ enabled: true });
        expect(enabled.body).to.include({ enabled: true, consecutiveFailures: 0, disabledReason: null });
        const off = await request(h.app).patch(one()).set(bearer(owner.access)).send({ enabled: false });
        expect(off.body).to.include({ enabled: false, disabledReason: null });
      });

      it('PATCH: 400 for an empty change, a bad url or filter; 403 member; 404 non-member, unknown or another org\'s id', async () => {
        expectProblem(await request(h.app).patch(one()).set(bearer(owner.access)).send({}), 400, 'invalid_request');
        expectProblem(await request(h.app).patch(one()).set(bearer(owner.access)).send({ url: 'http://example.com' }), 400, 'invalid_webhook_url');
        expectProblem(await request(h.app).patch(one()).set(bearer(owner.access)).send({ enabled: 'yes' }), 400, 'invalid_request');
        const member = await addMember(h.app, owner, 'member');
        expectProblem(await request(h.app).patch(one()).set(bearer(member.access)).send({ enabled: false }), 403, 'forbidden');
        const stranger = await signupWithOrg(h.app);
        expectProblem(await request(h.app).patch(one()).set(bearer(stranger.access)).send({ enabled: false }), 404, 'org_not_found');
        expectProblem(await request(h.app).patch(`${base(owner)}/nope`).set(bearer(owner.access)).send({ enabled: false }), 404, 'webhook_not_found');
        // The stranger's own org, the owner's endpoint id: not found there.
        expectProblem(await request(h.app).patch(`${base(stranger)}/${id}`).set(bearer(stranger.access)).send({ enabled: false }), 404, 'webhook_not_found');
      });

      it('GET and DELETE: 401, 403 member, 404 non-member and unknown id; DELETE is 204 and then 404', async () => {
        const member = await addMember(h.app, owner, 'member');
        const stranger = await signupWithOrg(h.app);
        for (const method of ['get', 'delete'] as const) {
          expectProblem(await request(h.app)[method](one()), 401, 'missing_token');
          expectProblem(await request(h.app)[method](one()).set(bearer(member.access)), 403, 'forbidden');
          expectProblem(await request(h.app)[method](one()).set(bearer(stranger.access)), 404, 'org_not_found');
          expectProblem(await request(h.app)[method](`${base(owner)}/nope`).set(bearer(owner.access)), 404, 'webhook_not_found');
        }
        expectProblem(await request(h.app).get(base(owner)).set(bearer(member.access)), 403, 'forbidden');
        expectProblem(await request(h.app).get(base(owner)).set(bearer(stranger.access)), 404, 'org_not_found');
        await emitEvent(h, owner.orgId);
        expect((await request(h.app).delete(one()).set(bearer(owner.access))).status).to.equal(204);
        expectProblem(await request(h.app).get(one()).set(bearer(owner.access)), 404, 'webhook_not_found');
        expect(await h.storage.knex('auth_webhook_deliveries').where({ endpoint_id: id })).to.deep.equal([]);
      });

      it('rotate-secret: a new whsec_ secret, shown once; 403 member, 404 non-member and unknown id', async () => {
        const before = await h.storage.webhooks.findEndpoint(owner.orgId, id);
        const res = await request(h.app).post(one('/rotate-secret')).set(bearer(owner.access));
        expect(res.status, res.text).to.equal(200);
        expect(res.body.secret).to.match(SECRET_FORM);
        expect((await h.storage.webhooks.findEndpoint(owner.orgId, id))?.secret).not.to.equal(before?.secret);
        const member = await addMember(h.app, owner, 'member');
        const stranger = await signupWithOrg(h.app);
        expectProblem(await request(h.app).post(one('/rotate-secret')), 401, 'missing_token');
        expectProblem(await request(h.app).post(one('/rotate-secret')).set(bearer(member.access)), 403, 'forbidden');
        expectProblem(await request(h.app).post(one('/rotate-secret')).set(bearer(stranger.access)), 404, 'org_not_found');
        expectProblem(await request(h.app).post(`${base(owner)}/nope/rotate-secret`).set(bearer(owner.access)), 404, 'webhook_not_found');
      });
    });

    describe('deliveries and redeliver', () => {
      let id: string;
      beforeEach(async () => {
        id = (await create(owner, { url: 'https://hooks.example.com/in', events: ['member.joined', 'member.removed'] })).body.id;
      });
      const deliveries = (query = '') => `${base(owner)}/${id}/deliveries${query}`;

      it('only matching events are queued; the log is newest first and paged with `before`', async () => {
        const events = [];
        for (const action of ['member.joined', 'api_key.created', 'member.removed', 'member.joined']) events.push(await emitEvent(h, owner.orgId, action));
        const other = await signupWithOrg(h.app);
        await emitEvent(h, other.orgId, 'member.joined');
        const page1 = await request(h.app).get(deliveries('?limit=2')).set(bearer(owner.access));
        expect(page1.status, page1.text).to.equal(200);
        expect(page1.body.deliveries.map((d: { eventId: string }) => d.eventId)).to.deep.equal([events[3]!.id, events[2]!.id]);
        expect(page1.body.deliveries[0]).to.include({ eventType: 'member.joined', status: 'pending', attempts: 0, lastStatusCode: null, lastError: null, deliveredAt: null });
        const page2 = await request(h.app).get(deliveries(`?limit=2&before=${page1.body.next}`)).set(bearer(owner.access));
        expect(page2.body.deliveries.map((d: { eventId: string }) => d.eventId)).to.deep.equal([events[0]!.id]);
        expect(page2.body.next).to.equal(null);
      });

      it('deliveries: 400 bad limit, 401, 403 member, 404 non-member and unknown endpoint', async () => {
        expectProblem(await request(h.app).get(deliveries('?limit=0')).set(bearer(owner.access)), 400, 'invalid_request');
        expectProblem(await request(h.app).get(deliveries('?limit=abc')).set(bearer(owner.access)), 400, 'invalid_request');
        expectProblem(await request(h.app).get(deliveries()), 401, 'missing_token');
        const member = await addMember(h.app, owner, 'member');
        expectProblem(await request(h.app).get(deliveries()).set(bearer(member.access)), 403, 'forbidden');
        const stranger = await signupWithOrg(h.app);
        expectProblem(await request(h.app).get(deliveries()).set(bearer(stranger.access)), 404, 'org_not_found');
        expectProblem(await request(h.app).get(`${base(owner)}/nope/deliveries`).set(bearer(owner.access)), 404, 'webhook_not_found');
      });

      it('redeliver: 409 while pending, 202 for a finished one (a new delivery, same webhook-id); 403, 404 unknown delivery', async () => {
        const event = await emitEvent(h, owner.orgId);
        const [pending] = (await request(h.app).get(deliveries()).set(bearer(owner.access))).body.deliveries;
        const redeliver = (deliveryId: string) => `${base(owner)}/${id}/deliveries/${deliveryId}/redeliver`;
        expectProblem(await request(h.app).post(redeliver(pending.id)).set(bearer(owner.access)), 409, 'webhook_delivery_pending');
        // Given up by a worker (as storage records it).
        // (Earlier tests of this suite left deliveries of their own endpoints: only this one counts.)
        const claimed = await h.storage.webhooks.claimDue(Date.now(), 100, { claimId: 'test', claimedUntil: Date.now() + 60_000 });
        expect(claimed.map((d) => d.id)).to.include(pending.id);
        await h.storage.webhooks.recordAttempt(pending.id, 'test', { now: Date.now(), delivered: false, statusCode: 500, error: 'HTTP 500', nextAttemptAt: null });
        const res = await request(h.app).post(redeliver(pending.id)).set(bearer(owner.access));
        expect(res.status, res.text).to.equal(202);
        expect(res.body).to.include({ eventId: event.id, eventType: 'member.joined', status: 'pending', attempts: 0 });
        expect(res.body.id).not.to.equal(pending.id);
        const log = (await request(h.app).get(deliveries()).set(bearer(owner.access))).body.deliveries;
        expect(log.map((d: { id: string; status: string }) => [d.id, d.status])).to.deep.equal([
          [res.body.id, 'pending'],
          [pending.id, 'failed'],
        ]);
        expect(log[1]).to.include({ lastStatusCode: 500, lastError: 'HTTP 500', attempts: 1 });

        const member = await addMember(h.app, owner, 'member');
        expectProblem(await request(h.app).post(redeliver(pending.id)).set(bearer(member.access)), 403, 'forbidden');
        const stranger = await signupWithOrg(h.app);
        expectProblem(await request(h.app).post(redeliver(pending.id)).set(bearer(stranger.access)), 404, 'org_not_found');
        expectProblem(await request(h.app).post(redeliver('nope')).set(bearer(owner.access)), 404, 'webhook_delivery_not_found');
        expectProblem(await request(h.app).post(`${base(owner)}/nope/deliveries/${pending.id}/redeliver`).set(bearer(owner.access)), 404, 'webhook_not_found');
      });
    });
  });
}

describe('webhook routes', () => {
  const options = { webhooks: { worker: { autoStart: false } } };
  webhookRoutes('on SQLite', () => startHarness(options));
  webhookRoutes('on PostgreSQL', async () => startHarness(options, { storage: createKnexStorage(pgConfig(await createTestDatabase('webhook_routes'))) }));

  describe('URL rules by option', () => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    it('production rules: no http at all, no private IP literal', async () => {
      h = await startHarness({ webhooks: { allowInsecureLoopback: false, blockPrivateAddresses: true, worker: { autoStart: false } } });
      const owner = await signupWithOrg(h.app);
      const create = (url: string) => request(h!.app).post(`/auth/orgs/${owner.orgId}/webhooks`).set(bearer(owner.access)).send({ url });
      for (const url of ['http://localhost:8080/x', 'https://127.0.0.1/x', 'https://10.1.2.3/x', 'https://[::1]/x', 'https://169.254.169.254/latest', 'https://[::ffff:127.0.0.1]/x']) {
        expectProblem(await create(url), 400, 'invalid_webhook_url');
      }
      expect((await create('https://hooks.example.com/x')).status).to.equal(201);
      expect((await create('https://93.184.215.14/x')).status).to.equal(201);
    });

    it('rejects bad options at startup with a TypeError that names them', async () => {
      const { createAuthRouter } = await import('gatehouse-auth');
      const make = (webhooks: unknown) => () => createAuthRouter({ storage: createKnexStorage(':memory:'), tokens: { secret: 'x'.repeat(40) }, webhooks } as never);
      expect(make({ retrySchedule: [1000, -1] })).to.throw(TypeError, /webhooks\.retrySchedule\[1\]/);
      expect(make({ maxConsecutiveFailures: 0 })).to.throw(TypeError, /webhooks\.maxConsecutiveFailures/);
      expect(make({ maxEndpointsPerOrg: 1.5 })).to.throw(TypeError, /webhooks\.maxEndpointsPerOrg/);
      expect(make({ timeout: 5 })).to.throw(TypeError, /webhooks\.timeout/);
      expect(make({ allowInsecureLoopback: 'yes' })).to.throw(TypeError, /webhooks\.allowInsecureLoopback/);
    });
  });
});
