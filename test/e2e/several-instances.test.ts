import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import request from 'supertest';
import { startInstance, type Instance } from '../helpers/instances.js';
import { eventually } from '../helpers/eventually.js';
import { createTestDatabase } from '../helpers/postgres.js';

const PASSWORD = 'correct horse battery';
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** How long another instance may take to pick up a revocation: one poll interval (1 s here) plus slack. */
const BOUND_MS = 5_000;

/**
 * Two example-app server processes on one PostgreSQL database, started the way the
 * docs/several-instances.md starts a second instance (same DATABASE_URL and AUTH_SECRET, own PORT),
 * with a revocation poll interval of 1 s.
 */
describe('several instances: two server processes on one PostgreSQL', function () {
  this.timeout(90_000);
  let a: Instance;
  let b: Instance;

  before(async () => {
    const env = {
      DATABASE_URL: await createTestDatabase('instances'),
      AUTH_SECRET: randomBytes(48).toString('base64'),
      BCRYPT_COST: '4',
      REVOCATION_POLL_INTERVAL: '1s',
    };
    // Started together on an empty database: both migrate at once and must both come up.
    [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  let counter = 0;
  async function signup(on: Instance): Promise<{ email: string }> {
    counter += 1;
    const id = `${Date.now().toString(36)}${counter}`;
    const email = `user-${id}@example.com`;
    const res = await request(on.url)
      .post('/auth/signup')
      .send({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: `Org ${id}`, slug: `org-${id}` } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return { email };
  }

  async function signin(on: Instance, email: string): Promise<{ access: string; refresh: string }> {
    const res = await request(on.url).post('/auth/signin').send({ email, password: PASSWORD });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return { access: res.body.access_token, refresh: res.body.refresh_token };
  }

  const hello = (on: Instance, access: string) => request(on.url).get('/api/hello').set(bearer(access));

  /** Polls `on` until the access token is refused with token_revoked, within BOUND_MS. */
  async function refusedWithin(on: Instance, access: string): Promise<void> {
    await eventually(
      async () => {
        const res = await hello(on, access);
        if (res.status === 200) return false;
        expect(res.status).to.equal(401);
        expect(res.body.code).to.equal('token_revoked');
        return true;
      },
      BOUND_MS,
      'the other instance to refuse the revoked token',
    );
  }

  it('a session signed in on A and refreshed on B: replaying the old refresh token on A revokes the family on both', async () => {
    const { email } = await signup(a);
    const first = await signin(a, email);
    const rotated = await request(b.url).post('/auth/refresh').send({ refresh_token: first.refresh });
    expect(rotated.status).to.equal(200);
    const second = { access: rotated.body.access_token as string, refresh: rotated.body.refresh_token as string };
    expect((await hello(a, second.access)).status).to.equal(200);

    // Within rotation.reuseGrace (10 s by default) a replay is taken for a retry and gets
    // the same pair back (test/http/refresh-grace.test.ts); these processes run on the real clock.
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    const replay = await request(a.url).post('/auth/refresh').send({ refresh_token: first.refresh });
    expect(replay.status).to.equal(401);
    expect(replay.body.code).to.equal('refresh_token_reused');

    // A revoked the family: it refuses the family's tokens at once.
    const onA = await hello(a, second.access);
    expect(onA.status).to.equal(401);
    expect(onA.body.code).to.equal('token_revoked');
    // Refresh tokens are checked in the database: dead on B at once as well.
    const refreshOnB = await request(b.url).post('/auth/refresh').send({ refresh_token: second.refresh });
    expect(refreshOnB.status).to.equal(401);
    expect(refreshOnB.body.code).to.equal('token_revoked');
    // Access tokens are checked in memory: B refuses them from its next poll.
    await refusedWithin(b, second.access);
    await refusedWithin(b, first.access);
  });

  it('a logout on B: refused on B at once and on A within the poll interval, and its refresh token is dead on A', async () => {
    const { email } = await signup(a);
    const session = await signin(a, email);
    expect((await hello(a, session.access)).status).to.equal(200);

    const logout = await request(b.url).post('/auth/logout').set(bearer(session.access)).send({});
    expect(logout.status).to.equal(204);
    expect((await hello(b, session.access)).status).to.equal(401);
    await refusedWithin(a, session.access);
    const refresh = await request(a.url).post('/auth/refresh').send({ refresh_token: session.refresh });
    expect(refresh.status).to.equal(401);
    expect(refresh.body.code).to.equal('token_revoked');
  });

  it('failed sign-ins count across both: 5 wrong passwords split over A and B, then 429 on either, even with the right one', async () => {
    const { email } = await signup(a);
    for (const on of [a, b, a, b, a]) {
      const res = await request(on.url).post('/auth/signin').send({ email, password: 'wrong password' });
      expect(res.status).to.equal(401);
      expect(res.body.code).to.equal('invalid_credentials');
    }
    for (const on of [b, a]) {
      const res = await request(on.url).post('/auth/signin').send({ email, password: PASSWORD });
      expect(res.status, JSON.stringify(res.body)).to.equal(429);
      expect(res.body.code).to.equal('too_many_attempts');
      expect(Number(res.headers['retry-after'])).to.be.greaterThan(0);
    }
  });
});
