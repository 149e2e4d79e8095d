import { expect } from 'chai';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { claimsOf, expectProblem, signin, signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';
import { tokenIdKey } from '../../src/tokens/token-ids.js';

const refresh = (h: Harness, token: string) => request(h.app).post('/auth/refresh').send({ refresh_token: token });
const idHashOf = (token: string) => tokenIdKey(claimsOf(token).jti as string);

/** What a rotation reads of the membership its token is scoped to, on whatever storage `make` builds. */
function membershipSuite(label: string, make: () => Promise<Harness>): void {
  describe(label, function () {
    this.timeout(60_000);
    let h: Harness;
    before(async () => {
      h = await make();
    });
    after(async () => {
      await h?.close();
    });

    it('scopes the new pair to the role the user holds in the org now', async () => {
      const owner = await signupWithOrg(h.app);
      expect(claimsOf(owner.access)).to.include({ org: owner.orgId, role: 'owner' });
      expect(await h.storage.memberships.updateRole(owner.userId, owner.orgId, 'admin')).to.equal(true);
      const res = await refresh(h, owner.refresh);
      expect(res.status, res.text).to.equal(200);
      expect(claimsOf(res.body.access_token)).to.include({ org: owner.orgId, role: 'admin' });
    });

    it('answers token_revoked once the membership is gone, and revokes the family', async () => {
      const owner = await signupWithOrg(h.app);
      // Straight in storage: the membership ends without the family being revoked first.
      expect(await h.storage.memberships.remove(owner.userId, owner.orgId)).to.equal(true);
      const res = await refresh(h, owner.refresh);
      expectProblem(res, 401, 'token_revoked');
      expect(res.body).not.to.have.property('access_token');
      const row = await h.storage.refreshTokens.find(idHashOf(owner.refresh));
      expect(row?.revokedAt).to.be.a('number');
      expectProblem(await request(h.app).get('/api/hello').set('Authorization', `Bearer ${owner.access}`), 401, 'token_revoked');
      expect((await refresh(h, owner.refresh)).status).to.equal(401);
    });

    it('rotates a session without an org into a pair without an org', async () => {
      const user = await signupWithOrg(h.app);
      expect(await h.storage.memberships.remove(user.userId, user.orgId)).to.equal(true);
      const orgless = await signin(h.app, user.email);
      expect(claimsOf(orgless.access)).not.to.have.property('org');
      const res = await refresh(h, orgless.refresh);
      expect(res.status, res.text).to.equal(200);
      expect(claimsOf(res.body.access_token)).not.to.have.property('org');
      expect(claimsOf(res.body.access_token)).not.to.have.property('role');
      // The rotated token works in turn.
      expect((await refresh(h, res.body.refresh_token)).status).to.equal(200);
    });
  });
}

describe('POST /refresh reads the membership of the session', () => {
  membershipSuite('on SQLite', () => startHarness());

  // An adapter written before the optional `refreshTokens.findForRotation`: the token and the membership in two reads.
  membershipSuite('on SQLite, with storage that has no refreshTokens.findForRotation', () => {
    const storage = createKnexStorage(':memory:');
    delete (storage.refreshTokens as { findForRotation?: unknown }).findForRotation;
    return startHarness({}, { storage });
  });

  membershipSuite('on PostgreSQL', async () => {
    const url = await createTestDatabase('refresh_membership');
    return startHarness({}, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
  });
});
