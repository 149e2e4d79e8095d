import { expect } from 'chai';
import request from 'supertest';
import { claimsOf, signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/**
 * Issue 11 item 16: logout writes storage before it applies anything in memory, so a
 * failed write leaves nothing half done, and a repeated logout answers 204 again. The
 * write fails for real: a SQLite trigger aborts the revocation insert.
 */
describe('security: logout', () => {
  let h: Harness;
  let now: number;

  beforeEach(async () => {
    now = Date.now();
    h = await startHarness({ clock: { now: () => now } });
  });
  afterEach(async () => {
    await h.close();
  });

  it('item 16: a logout whose revocation write fails can be repeated (204), and then the session is over', async () => {
    const u = await signupWithOrg(h.app);
    await h.storage.knex.raw("CREATE TRIGGER fail_revocation BEFORE INSERT ON auth_revocations BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
    const failed = await request(h.app).post('/auth/logout').set(bearer(u.access)).send({ refresh_token: u.refresh });
    expect(failed.status).to.equal(500);
    expect(failed.body.code).to.equal('internal_error');
    await h.storage.knex.raw('DROP TRIGGER fail_revocation');

    const retried = await request(h.app).post('/auth/logout').set(bearer(u.access)).send({ refresh_token: u.refresh });
    expect(retried.status, retried.text).to.equal(204);
    const refresh = await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh });
    expect(refresh.status).to.equal(401);
    expect(refresh.body.code).to.equal('token_revoked');
    const hello = await request(h.app).get('/api/hello').set(bearer(u.access));
    expect(hello.status).to.equal(401);
    expect(hello.body.code).to.equal('token_revoked');
    // Stored, so every instance learns it; and the same logout once more is still 204.
    const { sid, jti } = claimsOf(u.access);
    const stored = (await h.storage.revocations.listActive(now)).entries.map((e) => `${e.kind}:${e.key}`);
    expect(stored).to.include.members([`family:${sid}`, `token:${jti}`]);
    expect((await request(h.app).post('/auth/logout').set(bearer(u.access))).status).to.equal(204);
    expect((await h.storage.revocations.listActive(now)).entries).to.have.length(stored.length);
  });

  it('item 16: a repeated logout answers 204, while the revoked token stays refused everywhere else', async () => {
    const u = await signupWithOrg(h.app);
    expect((await request(h.app).post('/auth/logout').set(bearer(u.access))).status).to.equal(204);
    expect((await request(h.app).post('/auth/logout').set(bearer(u.access))).status).to.equal(204);
    expect((await request(h.app).get('/auth/me').set(bearer(u.access))).status).to.equal(401);
    // Only a revoked token passes: a forged or expired one is still refused.
    expect((await request(h.app).post('/auth/logout').set(bearer(`${u.access}x`))).status).to.equal(401);
    now += 16 * MINUTE;
    const expired = await request(h.app).post('/auth/logout').set(bearer(u.access));
    expect(expired.status).to.equal(401);
    expect(expired.body.code).to.equal('token_expired');
  });

  it("item 16 (info): logout's family revocation expires with the family, not sessionMaxAge after the logout", async () => {
    const signedInAt = now;
    const u = await signupWithOrg(h.app);
    now += 2 * DAY;
    const rotated = await request(h.app).post('/auth/refresh').send({ refresh_token: u.refresh });
    expect(rotated.status).to.equal(200);
    const access = rotated.body.access_token as string;
    expect((await request(h.app).post('/auth/logout').set(bearer(access))).status).to.equal(204);
    const { sid, exp } = claimsOf(access);
    const entries = (await h.storage.revocations.listActive(now)).entries;
    const family = entries.find((e) => e.kind === 'family' && e.key === sid);
    // The family ends 30 days (sessionMaxAge) after sign-in; its last access token one access TTL (15 min) later.
    expect(family?.expiresAt).to.equal(signedInAt + 30 * DAY + 15 * MINUTE);
    expect(entries.find((e) => e.kind === 'token')?.expiresAt).to.equal((exp as number) * 1000);
  });
});
