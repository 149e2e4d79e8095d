import { createHmac, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { createAuthRouter, createJwtTokenIssuer, type AuthRouter, type Clock, type TokenIssuer } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { sha256Hex } from '../../src/core/secrets.js';
import { tokenIdKey } from '../../src/tokens/token-ids.js';
import { claimsOf, expectProblem, SECRET, signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

/**
 * A TokenIssuer of a host's own, signing like the default one (same key, same claims)
 * but with random UUIDv4 token ids: what every refresh token signed before token ids
 * became time-ordered looks like, so its row has the plain SHA-256 key.
 */
function issuerWithRandomIds(clock: Clock): TokenIssuer {
  const inner = createJwtTokenIssuer({ secret: SECRET, clock });
  return {
    async sign(input) {
      const signed = await inner.sign(input);
      const [header, payload] = signed.token.split('.') as [string, string];
      const jti = randomUUID();
      const body = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), jti })).toString('base64url');
      const signingInput = `${header}.${body}`;
      return { ...signed, jti, token: `${signingInput}.${createHmac('sha256', SECRET).update(signingInput).digest('base64url')}` };
    },
    verify: (token, use) => inner.verify(token, use),
    jwks: () => inner.jwks(),
    verification: () => inner.verification(),
  };
}

const jtiOf = (token: string) => String(claimsOf(token).jti);

type Make = (clock: Clock) => Promise<Harness>;

/**
 * Refresh tokens are stored under a key led by their id's time (tokenIdKey), so each
 * rotation appends to the primary-key index; tokens with other ids keep the plain hash.
 */
function keySuite(label: string, make: Make): void {
  describe(label, function () {
    this.timeout(60_000);
    let now = Date.now();
    const clock = { now: () => now };
    let h: Harness;
    let upgraded: { app: express.Express; auth: AuthRouter };
    beforeEach(async () => {
      now = Date.now();
      h = await make(clock);
      // An instance of this version on the same storage, next to one signing random ids.
      const auth = createAuthRouter({ storage: h.storage, tokens: { secret: SECRET }, passwords: { cost: 4 }, clock, logger: { warn: () => {}, error: () => {} } });
      const app = express();
      app.use('/auth', auth);
      await auth.ready();
      upgraded = { app, auth };
    });
    afterEach(async () => {
      await upgraded?.auth.close();
      await h?.close();
    });

    const refreshOn = (app: express.Express, token: string) => request(app).post('/auth/refresh').send({ refresh_token: token });

    it('stores each refresh token under its time-led key, each rotation sorting after the last', async () => {
      const u = await signupWithOrg(upgraded.app);
      const tokens = [u.refresh];
      for (let i = 0; i < 3; i += 1) {
        now += 1;
        const res = await refreshOn(upgraded.app, tokens.at(-1)!);
        expect(res.status, res.text).to.equal(200);
        tokens.push(res.body.refresh_token as string);
      }
      const keys = tokens.map((token) => tokenIdKey(jtiOf(token)));
      for (const [i, token] of tokens.entries()) {
        const row = await h.storage.refreshTokens.find(keys[i]!);
        expect(row?.familyId, `token ${i}`).to.equal(claimsOf(token).sid);
        expect(row?.usedAt === null, `token ${i}`).to.equal(i === tokens.length - 1);
        // Not under the plain hash of its id.
        expect(await h.storage.refreshTokens.find(sha256Hex(jtiOf(token)))).to.equal(null);
      }
      expect(keys.every((key) => key.length === 76)).to.equal(true);
      expect([...keys].sort()).to.deep.equal(keys);
    });

    it("rotates a token stored under its id's plain hash: retries, reuse detection and logout still reach it", async () => {
      // Signed in where token ids are random (a token of an earlier version, or of a custom issuer).
      const u = await signupWithOrg(h.app);
      const oldKey = sha256Hex(jtiOf(u.refresh));
      expect(tokenIdKey(jtiOf(u.refresh))).to.equal(oldKey);
      expect((await h.storage.refreshTokens.find(oldKey))?.usedAt).to.equal(null);
      // The custom issuer's own rotation keeps plain keys.
      const second = await refreshOn(h.app, u.refresh);
      expect(second.status, second.text).to.equal(200);
      expect(await h.storage.refreshTokens.find(sha256Hex(jtiOf(second.body.refresh_token as string)))).not.to.equal(null);

      // This version rotates it: the successor gets a time-led key.
      const third = await refreshOn(upgraded.app, second.body.refresh_token as string);
      expect(third.status, third.text).to.equal(200);
      const thirdToken = third.body.refresh_token as string;
      const thirdKey = tokenIdKey(jtiOf(thirdToken));
      expect(thirdKey).to.have.length(76);
      expect((await h.storage.refreshTokens.find(thirdKey))?.familyId).to.equal(claimsOf(u.refresh).sid);
      // A retry within the grace gets the same successor, sealed to the plain key's row.
      const retry = await refreshOn(upgraded.app, second.body.refresh_token as string);
      expect(retry.status, retry.text).to.equal(200);
      expect(retry.body.refresh_token).to.equal(thirdToken);

      // After the grace, the consumed plain-key token is reuse: the whole family ends, time-led keys too.
      now += 60_000;
      expectProblem(await refreshOn(upgraded.app, second.body.refresh_token as string), 401, 'refresh_token_reused');
      expectProblem(await refreshOn(upgraded.app, thirdToken), 401, 'token_revoked');
      expect((await h.storage.refreshTokens.find(thirdKey))?.revokedAt).not.to.equal(null);
    });

    it('logout by refresh token finds a token under either key', async () => {
      for (const app of [h.app, upgraded.app]) {
        const u = await signupWithOrg(app);
        const out = await request(app).post('/auth/logout').set('Authorization', `Bearer ${u.access}`).send({ refresh_token: u.refresh });
        expect(out.status, out.text).to.equal(204);
        expect((await h.storage.refreshTokens.find(tokenIdKey(jtiOf(u.refresh))))?.revokedAt).not.to.equal(null);
        expectProblem(await refreshOn(upgraded.app, u.refresh), 401, 'token_revoked');
      }
    });
  });
}

describe('refresh tokens: storage keys led by the token id\'s time', () => {
  keySuite('on SQLite', (clock) => startHarness({ clock, tokens: undefined, tokenIssuer: issuerWithRandomIds(clock), mfa: { encryptionKey: SECRET } }));
  keySuite('on PostgreSQL', async (clock) => {
    const url = await createTestDatabase('refresh_token_keys');
    return startHarness({ clock, tokens: undefined, tokenIssuer: issuerWithRandomIds(clock), mfa: { encryptionKey: SECRET } }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
  });
});
