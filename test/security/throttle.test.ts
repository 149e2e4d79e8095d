import { expect } from 'chai';
import request from 'supertest';
import { createBcryptHasher, type PasswordHasher } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { listen, PASSWORD, signupWithOrg, startHarness, unique, type Harness } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';
import { rejection } from '../helpers/rejection.js';

/**
 * The real bcrypt hasher (worker threads, as by default), counting how many passwords
 * it compared and how many were wrong. Cost 8 keeps a comparison slower than the
 * requests take to arrive, so they really overlap, as with production costs.
 */
function countingHasher() {
  const real = createBcryptHasher({ cost: 8 });
  const counts = { verified: 0, wrong: 0 };
  const hasher: PasswordHasher = {
    hash: (password) => real.hash(password),
    needsRehash: (hash) => real.needsRehash(hash),
    dummyHash: () => real.dummyHash(),
    async verify(password, hash) {
      counts.verified += 1;
      const ok = await real.verify(password, hash);
      if (!ok) counts.wrong += 1;
      return ok;
    },
  };
  return { hasher, counts, reset: () => Object.assign(counts, { verified: 0, wrong: 0 }), close: () => real.close() };
}


const backends: Array<{ name: string; storage: () => Promise<Parameters<typeof startHarness>[1]> }> = [
  { name: 'SQLite', storage: async () => ({}) },
  {
    name: 'PostgreSQL (storage-backed limiter)',
    storage: async () => ({ storage: createKnexStorage(pgConfig(await createTestDatabase('security_throttle'), { pool: { min: 0, max: 20 } })) }),
  },
];

for (const backend of backends) {
  describe(`security: sign-in throttles under concurrency (${backend.name})`, function () {
    this.timeout(120_000);
    let h: Harness;
    let server: { url: string; close(): Promise<void> };
    const counting = countingHasher();

    beforeEach(async () => {
      h = await startHarness({ passwords: counting.hasher }, await backend.storage());
      server = await listen(h);
      counting.reset();
    });
    afterEach(async () => {
      await server?.close();
      await h?.close();
    });
    after(() => counting.close());

    it('item 1: 100 parallel sign-ins on one account (limit 5), the right password among them: at most the limit evaluated, the rest 429', async () => {
      const user = await signupWithOrg(h.app);
      counting.reset();
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => request(server.url).post('/auth/signin').send({ email: user.email, password: i === 0 ? PASSWORD : `wrong password ${i}` })),
      );
      const statuses = results.map((r) => r.status);
      const ok = statuses.filter((s) => s === 200).length;
      const wrong = statuses.filter((s) => s === 401).length;
      const throttled = results.filter((r) => r.status === 429);
      expect(statuses.every((s) => s === 200 || s === 401 || s === 429), JSON.stringify(statuses)).to.equal(true);
      // Five wrong guesses at most; the right one (if it came early enough) gave its point back.
      expect(counting.counts.wrong, JSON.stringify(statuses)).to.be.at.most(5);
      expect(counting.counts.verified).to.be.at.most(6);
      expect(counting.counts.verified).to.equal(ok + wrong);
      expect(wrong).to.equal(counting.counts.wrong);
      expect(throttled).to.have.length(100 - ok - wrong);
      for (const r of throttled) {
        expect(r.body.code).to.equal('too_many_attempts');
        expect(Number(r.headers['retry-after'])).to.be.greaterThan(0);
      }
    });

    it('attempts refused for want of a point cost nothing: after 20 parallel right-password sign-ins the owner still signs in', async () => {
      const user = await signupWithOrg(h.app);
      const results = await Promise.all(Array.from({ length: 20 }, () => request(server.url).post('/auth/signin').send({ email: user.email, password: PASSWORD })));
      const statuses = results.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 429), JSON.stringify(statuses)).to.equal(true);
      expect(statuses.filter((s) => s === 200).length).to.be.at.least(1);
      const after = await request(server.url).post('/auth/signin').send({ email: user.email, password: PASSWORD });
      expect(after.status, JSON.stringify(after.body)).to.equal(200);
    });

    it('item 1: 120 parallel sign-ins from one IP (limit 50): at most 50 evaluated, the rest 429', async () => {
      const results = await Promise.all(
        Array.from({ length: 120 }, (_, i) => request(server.url).post('/auth/signin').send({ email: `spray-${i}-${unique()}@example.com`, password: 'wrong password' })),
      );
      expect(counting.counts.verified).to.be.at.most(50);
      expect(results.filter((r) => r.status === 401)).to.have.length(counting.counts.verified);
      expect(results.filter((r) => r.status === 429 && r.body.code === 'too_many_attempts')).to.have.length(120 - counting.counts.verified);
    });
  });
}

describe('security: a stranger cannot lock the owner out', function () {
  this.timeout(60_000);

  it('item 7: 5 wrong from IP A block A only; the owner signs in from IP B; guesses from many IPs still meet the per-account ceiling', async () => {
    const h = await startHarness();
    // The client address comes from X-Forwarded-For, as behind a reverse proxy.
    h.app.set('trust proxy', true);
    try {
      const owner = await signupWithOrg(h.app);
      const from = (ip: string, password: string) => request(h.app).post('/auth/signin').set('X-Forwarded-For', ip).send({ email: owner.email, password });
      for (let i = 0; i < 5; i += 1) expect((await from('203.0.113.1', 'wrong password')).status).to.equal(401);
      const blocked = await from('203.0.113.1', PASSWORD);
      expect(blocked.status).to.equal(429);
      expect(blocked.body.code).to.equal('too_many_attempts');
      const elsewhere = await from('198.51.100.7', PASSWORD);
      expect(elsewhere.status, JSON.stringify(elsewhere.body)).to.equal(200);
      expect(elsewhere.body).to.have.property('access_token');

      // 19 more addresses, 5 guesses each: 100 wrong passwords in all, the default
      // ceiling (perAccount, 100 per hour). After that no address gets in.
      const spread = await Promise.all(
        Array.from({ length: 19 * 5 }, (_, i) => from(`203.0.113.${10 + Math.floor(i / 5)}`, `wrong password ${i}`)),
      );
      expect(spread.map((r) => r.status).filter((s) => s !== 401)).to.deep.equal([]);
      const afterCeiling = await from('192.0.2.200', PASSWORD);
      expect(afterCeiling.status).to.equal(429);
      expect(afterCeiling.body.code).to.equal('too_many_attempts');
    } finally {
      await h.close();
    }
  });

  it("the services read the address from the client they are given: the same per-IP limits as over HTTP, and an address in the client's place is refused", async () => {
    const h = await startHarness();
    try {
      const owner = await signupWithOrg(h.app);
      const { accounts } = h.auth.services;
      const from = (ip: string, password: string) => accounts.signin(owner.email, password, { ip, userAgent: 'host script' });
      for (let i = 0; i < 5; i += 1) expect(await rejection(from('203.0.113.1', 'wrong password'))).to.include({ code: 'invalid_credentials' });
      expect(await rejection(from('203.0.113.1', PASSWORD))).to.include({ code: 'too_many_attempts' });
      expect((await from('198.51.100.7', PASSWORD)).kind).to.equal('tokens');
      // Called the way the services once were (an address, then the client): a TypeError, nothing spent.
      const misuse = await rejection(accounts.signin(owner.email, PASSWORD, '203.0.113.1' as never));
      expect(misuse).to.be.instanceOf(TypeError);
      expect(misuse.message).to.match(/client/);
      expect((await from('198.51.100.7', PASSWORD)).kind).to.equal('tokens');
    } finally {
      await h.close();
    }
  });

  it('counts an IPv6 client by its /64, and an IPv4-mapped address as the IPv4 one', async () => {
    const h = await startHarness();
    h.app.set('trust proxy', true);
    try {
      const owner = await signupWithOrg(h.app);
      const from = (ip: string, password: string) => request(h.app).post('/auth/signin').set('X-Forwarded-For', ip).send({ email: owner.email, password });
      // Five addresses of one /64, each written differently.
      for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:DB8:1:2:0:0:0:3', '2001:0db8:0001:0002:ffff::4', '2001:db8:1:2:5:6:7:8']) {
        expect((await from(ip, 'wrong password')).status).to.equal(401);
      }
      expect((await from('2001:db8:1:2:abcd::99', PASSWORD)).status).to.equal(429);
      expect((await from('2001:db8:1:3::1', PASSWORD)).status).to.equal(200);

      for (let i = 0; i < 5; i += 1) expect((await from('::ffff:203.0.113.9', 'wrong password')).status).to.equal(401);
      expect((await from('203.0.113.9', PASSWORD)).status).to.equal(429);
    } finally {
      await h.close();
    }
  });
});
