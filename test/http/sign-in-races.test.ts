import { expect } from 'chai';
import { generate } from 'otplib';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { claimsOf, PASSWORD, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const CHANGED = 'the password or second factor of this account changed during the sign-in; sign in again';

/**
 * A change to an account that ends its sessions (a new password, TOTP turned on, the
 * account deleted) while sign-ins that checked the account before it are still under way. At bcrypt cost 10 a
 * sign-in spends tens of milliseconds between reading the account and storing its
 * session, so sign-ins started every few milliseconds around the change store theirs on
 * both sides of its sweep.
 */
function racesSuite(label: string, storage: () => Promise<{ storage?: ReturnType<typeof createKnexStorage> }>): void {
  describe(label, function () {
    this.timeout(60_000);
    let h: Harness;

    before(async () => {
      // The throttle is not what these tests race. With its defaults (5 in flight per
      // account and address) the change's own password check could meet 5 sign-ins in
      // flight and answer 429, and a change's failed sign-ins would spend the address's
      // points for the tests after it.
      const loose = { points: 100_000, duration: 900 };
      h = await startHarness({ passwords: { cost: 10 }, throttle: { perAccountIp: loose, perAccount: loose, perIp: loose } }, await storage());
    });
    after(async () => {
      await h?.close();
    });

    /** 50 sign-ins with `password`, one every 4 ms, while `change` runs; answers in order. */
    async function signInsAround(u: SignedUp, change: () => Promise<request.Response>): Promise<{ changed: request.Response; results: request.Response[] }> {
      const changing = change();
      const signIns: Array<Promise<request.Response>> = [];
      for (let i = 0; i < 50; i++) {
        signIns.push(request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD }).then((r) => r));
        await new Promise((resolve) => setTimeout(resolve, 4));
      }
      return { changed: await changing, results: await Promise.all(signIns) };
    }

    /** The user's sessions not ended, but for `own`. */
    const liveSessions = async (u: SignedUp, own: string) =>
      (await h.storage.knex(`${h.storage.tablePrefix}refresh_tokens`).where({ user_id: u.userId }).whereNull('revoked_at').whereNot({ family_id: own }).distinct('family_id')).length;

    /** Each answer is a session (stored before the change, so ended by it) or a refusal; every racing one is recorded as ended. */
    async function expectNoneKept(u: SignedUp, results: request.Response[], refusals: Array<[number, string]>): Promise<void> {
      for (const r of results.filter((x) => x.status !== 200)) expect(refusals, r.text).to.deep.include([r.status, r.body.code]);
      expect(await liveSessions(u, claimsOf(u.access).sid as string), 'sessions kept').to.equal(0);
      // Each racing one is on the log as a session ended at once.
      const ended = (await h.storage.knex(`${h.storage.tablePrefix}audit_log`).where({ actor_id: u.userId, action: 'session.revoked' })).filter(
        (e: { data: string }) => JSON.parse(e.data).reason === 'credentials_changed',
      );
      expect(ended).to.have.length(results.filter((r) => r.status === 401 && r.body.detail === CHANGED).length);
      for (const e of ended) expect(await h.storage.knex(`${h.storage.tablePrefix}refresh_tokens`).where({ family_id: e.target_id }).whereNull('revoked_at')).to.have.length(0);
      for (const r of results.filter((x) => x.status === 200)) {
        // Stored before the change: the change's sweep ended it.
        expect((await request(h.app).post('/auth/refresh').send({ refresh_token: r.body.refresh_token })).status).to.equal(401);
      }
    }

    it('a password change: no sign-in that checked the old password keeps a session', async () => {
      const u = await signupWithOrg(h.app);
      const { changed, results } = await signInsAround(u, () =>
        request(h.app).post('/auth/password/change').set(bearer(u.access)).send({ currentPassword: PASSWORD, newPassword: 'a brand new passphrase' }).then((r) => r),
      );
      expect(changed.status, changed.text).to.equal(204);
      // Refused: racing ones, and the old password once changed.
      await expectNoneKept(u, results, [[401, 'invalid_credentials']]);
    });

    it('TOTP turned on: no sign-in by password alone keeps a session', async () => {
      const u = await signupWithOrg(h.app);
      const setup = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(u.access));
      expect(setup.status, setup.text).to.equal(200);
      const code = await generate({ secret: setup.body.secret });
      const { changed, results } = await signInsAround(u, () => request(h.app).post('/auth/mfa/totp/enable').set(bearer(u.access)).send({ code }).then((r) => r));
      expect(changed.status, changed.text).to.equal(200);
      // Refused: racing ones, and the MFA step once TOTP is on.
      await expectNoneKept(u, results, [[401, 'invalid_credentials'], [403, 'mfa_required']]);
    });

    it('the account deleted: each sign-in gets a session (ended with the account) or a 401, never a 500', async () => {
      const u = await signupWithOrg(h.app);
      const { changed, results } = await signInsAround(u, () => request(h.app).delete('/auth/me').set(bearer(u.access)).send({ password: PASSWORD }).then((r) => r));
      expect(changed.status, changed.text).to.equal(204);
      for (const r of results) expect([200, 401], r.text).to.include(r.status);
      expect(await h.storage.knex(`${h.storage.tablePrefix}refresh_tokens`).where({ user_id: u.userId })).to.have.length(0);
    });
  });
}

describe('sign-ins racing a change to the account', () => {
  racesSuite('on SQLite', async () => ({}));
  racesSuite('on PostgreSQL', async () => ({ storage: createKnexStorage(pgConfig(await createTestDatabase('sign_in_races'))) }));
});
