import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { generate } from 'otplib';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { listen, PASSWORD, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });


const codeAt = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });

/** A 6-digit code that is none of the ones the server would accept in the next minute or so. */
async function wrongCode(secret: string): Promise<string> {
  const now = Date.now();
  const valid = new Set(await Promise.all([-60_000, -30_000, 0, 30_000, 60_000, 90_000].map((d) => codeAt(secret, now + d))));
  for (let n = 0; ; n += 1) {
    const code = String(n).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

/** Counts answers: at most `points` may be evaluated (401/400), every other one must be 429. */
function tally(results: request.Response[], evaluatedCode: string) {
  const evaluated = results.filter((r) => r.body.code === evaluatedCode).length;
  const throttled = results.filter((r) => r.status === 429 && r.body.code === 'too_many_attempts').length;
  const other = results.filter((r) => r.body.code !== evaluatedCode && r.status !== 429).map((r) => `${r.status} ${r.body.code}`);
  return { evaluated, throttled, other };
}

const backends: Array<{ name: string; storage: () => Promise<Parameters<typeof startHarness>[1]> }> = [
  { name: 'SQLite', storage: async () => ({}) },
  {
    name: 'PostgreSQL (storage-backed limiter)',
    storage: async () => ({ storage: createKnexStorage(pgConfig(await createTestDatabase('security_mfa'), { pool: { min: 0, max: 20 } })) }),
  },
];

for (const backend of backends) {
  describe(`security: second-factor throttles and the mfa_token (${backend.name})`, function () {
    this.timeout(120_000);
    let h: Harness;
    let server: { url: string; close(): Promise<void> };

    beforeEach(async () => {
      h = await startHarness({}, await backend.storage());
      server = await listen(h);
    });
    afterEach(async () => {
      await server?.close();
      await h?.close();
    });

    async function setup(user: SignedUp): Promise<string> {
      const res = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(user.access));
      expect(res.status).to.equal(200);
      return res.body.secret;
    }

    async function enrolled(): Promise<{ user: SignedUp; secret: string; recoveryCodes: string[]; mfaToken: () => Promise<string> }> {
      const user = await signupWithOrg(h.app);
      const secret = await setup(user);
      const enable = await request(h.app).post('/auth/mfa/totp/enable').set(bearer(user.access)).send({ code: await codeAt(secret, Date.now()) });
      expect(enable.status, JSON.stringify(enable.body)).to.equal(200);
      const mfaToken = async () => {
        const res = await request(h.app).post('/auth/signin').send({ email: user.email, password: PASSWORD });
        expect(res.status).to.equal(403);
        return res.body.mfa_token as string;
      };
      return { user, secret, recoveryCodes: enable.body.recoveryCodes, mfaToken };
    }

    const parallel = (n: number, send: (i: number) => request.Test) => Promise.all(Array.from({ length: n }, (_, i) => send(i)));

    /** n wrong proofs at once: between 1 and the limit (5) evaluated, every other one 429. */
    async function expectBounded(what: string, n: number, evaluatedCode: string, send: (i: number) => request.Test): Promise<void> {
      const t = tally(await parallel(n, send), evaluatedCode);
      expect(t.other, what).to.deep.equal([]);
      expect(t.evaluated, what).to.be.within(1, 5);
      expect(t.throttled, what).to.equal(n - t.evaluated);
    }

    it('item 2: 300 parallel wrong TOTP codes at /mfa/verify: at most 5 evaluated, the rest 429; the same for recovery codes, enable and disable', async () => {
      const first = await enrolled();
      const token = await first.mfaToken();
      const code = await wrongCode(first.secret);
      await expectBounded('codes at /mfa/verify', 300, 'invalid_mfa_code', () => request(server.url).post('/auth/mfa/verify').send({ mfa_token: token, code }));

      // The other proofs, 60 at once, each for a fresh user: the count is per user.
      const recovery = await enrolled();
      const recoveryToken = await recovery.mfaToken();
      await expectBounded('recovery codes at /mfa/verify', 60, 'invalid_mfa_code', (i) =>
        request(server.url).post('/auth/mfa/verify').send({ mfa_token: recoveryToken, recoveryCode: `wrong-code-${i}` }),
      );
      const disableCode = await enrolled();
      const wrongDisableCode = await wrongCode(disableCode.secret);
      await expectBounded('codes at /mfa/totp/disable', 60, 'invalid_mfa_code', () =>
        request(server.url).post('/auth/mfa/totp/disable').set(bearer(disableCode.user.access)).send({ code: wrongDisableCode }),
      );
      const disableRecovery = await enrolled();
      await expectBounded('recovery codes at /mfa/totp/disable', 60, 'invalid_mfa_code', (i) =>
        request(server.url).post('/auth/mfa/totp/disable').set(bearer(disableRecovery.user.access)).send({ recoveryCode: `wrong-code-${i}` }),
      );
      const disablePassword = await enrolled();
      await expectBounded('passwords at /mfa/totp/disable', 60, 'invalid_mfa_code', (i) =>
        request(server.url).post('/auth/mfa/totp/disable').set(bearer(disablePassword.user.access)).send({ password: `wrong password ${i}` }),
      );
      const pending = await signupWithOrg(h.app);
      const wrongEnableCode = await wrongCode(await setup(pending));
      await expectBounded('codes at /mfa/totp/enable', 60, 'mfa_confirmation_failed', () =>
        request(server.url).post('/auth/mfa/totp/enable').set(bearer(pending.access)).send({ code: wrongEnableCode }),
      );
    });

    it('item 13: the mfa_token is single use: verify once → 200; the same token with a recovery code → 401 token_used, the code not spent', async () => {
      const { recoveryCodes, mfaToken } = await enrolled();
      const token = await mfaToken();
      const first = await request(server.url).post('/auth/mfa/verify').send({ mfa_token: token, recoveryCode: recoveryCodes[0] });
      expect(first.status).to.equal(200);
      const again = await request(server.url).post('/auth/mfa/verify').send({ mfa_token: token, recoveryCode: recoveryCodes[1] });
      expect(again.status, JSON.stringify(again.body)).to.equal(401);
      expect(again.body.code).to.equal('token_used');
      expect((await request(h.app).get('/auth/mfa').set(bearer(first.body.access_token))).body.recoveryCodesLeft).to.equal(9);

      // Raced: one token, ten different right recovery codes at once → one session, one code spent.
      const raced = await mfaToken();
      const results = await parallel(10, (i) => request(server.url).post('/auth/mfa/verify').send({ mfa_token: raced, recoveryCode: recoveryCodes[1 + (i % 9)] }));
      expect(results.filter((r) => r.status === 200), JSON.stringify(results.map((r) => r.body.code))).to.have.length(1);
      for (const r of results.filter((x) => x.status !== 200)) expect(r.body.code).to.be.oneOf(['token_used', 'invalid_mfa_code', 'too_many_attempts']);
      const status = await request(h.app).get('/auth/mfa').set(bearer(results.find((r) => r.status === 200)!.body.access_token));
      expect(status.body.recoveryCodesLeft).to.equal(8);
    });

    it('recovery codes: 4 groups of 4 (~79 bits); a code of the old 10-character format still works', async () => {
      const { user, recoveryCodes, mfaToken } = await enrolled();
      expect(recoveryCodes).to.have.length(10);
      for (const code of recoveryCodes) expect(code).to.match(/^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){3}$/);
      // An account enrolled before: its stored hash is of a 10-character code.
      const old = 'fanr8-ksfmu';
      await h.storage.mfa.replaceRecoveryCodes(user.userId, [createHash('sha256').update('fanr8ksfmu').digest('hex')], Date.now());
      const res = await request(server.url).post('/auth/mfa/verify').send({ mfa_token: await mfaToken(), recoveryCode: old.toUpperCase() });
      expect(res.status).to.equal(200);
    });
  });
}
