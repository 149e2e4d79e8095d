import { expect } from 'chai';
import request from 'supertest';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import type { Repositories } from 'gatehouse-auth';
import { PASSWORD, signin, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';
import { eventually } from '../helpers/eventually.js';
import { pgConfig, startPostgresCluster, type PostgresCluster } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Generous against a 1 s connect timeout: a refused connection fails in milliseconds. */
const FAST_MS = 5_000;

function expectUnavailable(res: request.Response): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(503);
  expect(res.body.code).to.equal('storage_unavailable');
}

/**
 * PostgreSQL stopped under two running instances, then started again. The suite
 * has a cluster of its own, so stopping it disturbs no other suite.
 */
describe('PostgreSQL stopped and restarted under two instances', function () {
  this.timeout(90_000);
  let cluster: PostgresCluster;
  let a: Harness;
  let b: Harness;
  let user: SignedUp;

  // Signups whose org slug starts with this wait inside their transaction, after the
  // user row is written and before the org is, until `release()`.
  const HELD_SLUG = 'held-';
  let held: (() => void) | undefined;
  let release: () => void = () => {};

  function holdingOrgCreation(storage: KnexStorage): KnexStorage {
    return {
      ...storage,
      transaction: (fn) =>
        storage.transaction((tx) =>
          fn({
            ...tx,
            orgs: {
              ...tx.orgs,
              create: async (org) => {
                if (org.slug.startsWith(HELD_SLUG)) {
                  await new Promise<void>((resolve) => {
                    release = resolve;
                    held?.();
                  });
                }
                return tx.orgs.create(org);
              },
            },
          } satisfies Repositories),
        ),
    };
  }

  async function instance(url: string, wrap: (s: KnexStorage) => KnexStorage = (s) => s): Promise<Harness> {
    const storage = createKnexStorage(pgConfig(url));
    return startHarness(
      {
        throttle: { createLimiter: storage.rateLimiterFactory() },
        revocation: { pollInterval: '1s', maxStaleness: '2s' },
      },
      { storage: wrap(storage) },
    );
  }

  before(async () => {
    cluster = await startPostgresCluster();
    const url = await cluster.createDatabase('faults');
    a = await instance(url, holdingOrgCreation);
    b = await instance(url);
    user = await signupWithOrg(a.app);
  });

  after(async () => {
    release();
    await a?.close();
    await b?.close();
    await cluster?.destroy();
  });

  it('fails closed with 503 storage_unavailable while it is down, writes nothing half, and recovers without a restart', async () => {
    for (const h of [a, b]) expect((await request(h.app).get('/api/hello').set(bearer(user.access))).status).to.equal(200);

    // A signup is inside its transaction (user row written, org not yet) when the database stops.
    const id = unique();
    const email = `inflight-${id}@example.com`;
    const slug = `${HELD_SLUG}${id}`;
    const isHeld = new Promise<void>((resolve) => (held = resolve));
    const inflight = request(a.app)
      .post('/auth/signup')
      .send({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: 'In flight', slug } })
      .then((res) => res);
    await isHeld;
    await cluster.stop();
    release();
    expectUnavailable(await inflight);

    // Everything that needs storage answers 503 at once, on both instances.
    for (const h of [a, b]) {
      const started = Date.now();
      expectUnavailable(await request(h.app).post('/auth/signin').send({ email: user.email, password: PASSWORD }));
      expectUnavailable(await request(h.app).post('/auth/refresh').send({ refresh_token: user.refresh }));
      expectUnavailable(
        await request(h.app)
          .post('/auth/signup')
          .send({ email: `down-${unique()}@example.com`, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Down', slug: `down-${unique()}` } }),
      );
      expect(Date.now() - started).to.be.below(3 * FAST_MS);
    }

    // Guarded routes need no database, until revocations have gone unread for
    // maxStaleness (2 s): then they refuse rather than trust a stale list.
    for (const h of [a, b]) {
      await eventually(
        async () => {
          const res = await request(h.app).get('/api/hello').set(bearer(user.access));
          if (res.status === 200) return false;
          expectUnavailable(res);
          return true;
        },
        10_000,
        'guarded routes to fail closed',
      );
    }

    await cluster.start();

    // Both instances come back on their own: the next poll refreshes revocations,
    // the pool opens new connections.
    for (const h of [a, b]) {
      await eventually(async () => (await request(h.app).get('/api/hello').set(bearer(user.access))).status === 200, 15_000, 'guarded routes to recover');
      const again = await signin(h.app, user.email);
      expect((await request(h.app).get('/api/hello').set(bearer(again.access))).status).to.equal(200);
    }

    // The interrupted signup left no user and no org: the same email and slug are free.
    expect(await a.storage.users.findByEmail(email)).to.equal(null);
    expect(await a.storage.knex('auth_orgs').where({ slug }).first()).to.equal(undefined);
    const redo = await request(b.app)
      .post('/auth/signup')
      .send({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Again', slug } });
    expect(redo.status, JSON.stringify(redo.body)).to.equal(201);
  });
});
