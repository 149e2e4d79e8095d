import { expect } from 'chai';
import request from 'supertest';
import { addMember, queriesDuring, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('API keys', () => {
  let h: Harness;
  let now: number;
  let owner: SignedUp;
  beforeEach(async () => {
    now = Date.now();
    h = await startHarness({ clock: { now: () => now } });
    owner = await signupWithOrg(h.app);
  });
  afterEach(async () => {
    await h.close();
  });

  async function createKey(user: SignedUp, body: Record<string, unknown> = { name: 'ci' }) {
    return request(h.app).post('/auth/api-keys').set(bearer(user.access)).send(body);
  }
  const withKey = (key: string, tenant: string) => ({ 'X-API-Key': key, 'X-Tenant-Id': tenant });

  describe('POST /auth/api-keys', () => {
    it('creates a key shown once, stored only as a hash', async () => {
      const res = await createKey(owner, { name: 'deploy bot', role: 'admin' });
      expect(res.status).to.equal(201);
      expect(res.body).to.have.all.keys('id', 'name', 'prefix', 'key', 'role', 'expiresAt', 'createdAt');
      expect(res.body).to.include({ name: 'deploy bot', role: 'admin', expiresAt: null });
      expect(res.body.key).to.match(/^ghk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      expect(res.body.key).to.contain(res.body.prefix);
      const row = await h.storage.apiKeys.findByPrefix(res.body.prefix);
      expect(row?.secretHash).to.match(/^[0-9a-f]{64}$/);
      // ghk_<16 hex>_<43 base64url>: the secret part may itself hold '_', so it is cut by position.
      const secret = (res.body.key as string).slice('ghk_'.length + 17);
      expect(secret).to.have.length(43);
      expect(JSON.stringify(await h.storage.knex('auth_api_keys'))).not.to.contain(secret);
      const list = await request(h.app).get('/auth/api-keys').set(bearer(owner.access));
      expect(list.status).to.equal(200);
      expect(list.body.apiKeys).to.have.length(1);
      expect(list.body.apiKeys[0]).not.to.have.property('key');
      expect(list.body.apiKeys[0]).to.include({ id: res.body.id, prefix: res.body.prefix, lastUsedAt: null });
    });

    it('is for owners and admins, never above their own role', async () => {
      const member = await addMember(h.app, owner, 'member');
      const admin = await addMember(h.app, owner, 'admin');
      const byMember = await createKey(member);
      expect(byMember.status).to.equal(403);
      expect(byMember.body.code).to.equal('forbidden');
      expect((await createKey(admin, { name: 'x', role: 'admin' })).status).to.equal(201);
      const above = await createKey(admin, { name: 'x', role: 'owner' });
      expect(above.status).to.equal(403);
      expect((await request(h.app).get('/auth/api-keys').set(bearer(member.access))).status).to.equal(403);
    });

    it('validates the body', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{}, 'name'],
        [{ name: '' }, 'name'],
        [{ name: 5 }, 'name'],
        [{ name: 'x', role: 'root' }, 'role'],
        [{ name: 'x', expiresAt: 'tomorrow' }, 'expiresAt'],
        [{ name: 'x', extra: true }, ''],
      ];
      for (const [body, path] of cases) {
        const res = await createKey(owner, body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.errors.map((e: { path: string }) => e.path), JSON.stringify(body)).to.include(path);
      }
      const past = await createKey(owner, { name: 'x', expiresAt: new Date(now - 1000).toISOString() });
      expect(past.status).to.equal(400);
      expect(past.body.errors[0].path).to.equal('expiresAt');
    });

    it('cannot be managed with an API key', async () => {
      const { body } = await createKey(owner, { name: 'x', role: 'owner' });
      const res = await request(h.app).post('/auth/api-keys').set(withKey(body.key, owner.orgId)).send({ name: 'y' });
      expect(res.status).to.equal(401);
    });
  });

  describe('authenticating with X-API-Key + X-Tenant-Id', () => {
    it('passes requireAuth() with via api_key and the key’s role', async () => {
      const { body } = await createKey(owner, { name: 'reader', role: 'member' });
      const res = await request(h.app).get('/api/hello').set(withKey(body.key, owner.orgId));
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ userId: owner.userId, orgId: owner.orgId, role: 'member', via: 'api_key' });
      const admin = await request(h.app).get('/api/admin').set(withKey(body.key, owner.orgId));
      expect(admin.status).to.equal(403);
      const me = await request(h.app).get('/auth/me').set(withKey(body.key, owner.orgId));
      expect(me.status).to.equal(200);
      expect(me.body).to.include({ id: owner.userId, role: 'member', via: 'api_key' });
    });

    it('accepts the lowercase header name too', async () => {
      const { body } = await createKey(owner);
      const res = await request(h.app).get('/api/hello').set('x-api-key', body.key).set('x-tenant-id', owner.orgId);
      expect(res.status).to.equal(200);
    });

    it('refuses another org’s tenant id, a missing tenant id, a wrong or malformed key, all with 401 invalid_api_key', async () => {
      const other = await signupWithOrg(h.app);
      const { body } = await createKey(owner);
      const tampered = body.key.slice(0, -2) + (body.key.endsWith('AA') ? 'BB' : 'AA');
      const attempts = [
        withKey(body.key, other.orgId),
        { 'X-API-Key': body.key },
        withKey(tampered, owner.orgId),
        withKey('ghk_not-a-key', owner.orgId),
        withKey('', owner.orgId),
      ];
      for (const headers of attempts) {
        const res = await request(h.app).get('/api/hello').set(headers);
        expect(res.status, JSON.stringify(headers)).to.equal(401);
        expect(['invalid_api_key', 'missing_token']).to.include(res.body.code);
      }
    });

    it('refuses a revoked key at once, and an expired key', async () => {
      const revoked = (await createKey(owner)).body;
      expect((await request(h.app).get('/api/hello').set(withKey(revoked.key, owner.orgId))).status).to.equal(200);
      const del = await request(h.app).delete(`/auth/api-keys/${revoked.id}`).set(bearer(owner.access));
      expect(del.status).to.equal(204);
      const after = await request(h.app).get('/api/hello').set(withKey(revoked.key, owner.orgId));
      expect(after.status).to.equal(401);
      expect(after.body.code).to.equal('invalid_api_key');
      expect((await request(h.app).get('/auth/api-keys').set(bearer(owner.access))).body.apiKeys).to.have.length(0);

      const expiring = (await createKey(owner, { name: 'short', expiresAt: new Date(now + 60_000).toISOString() })).body;
      expect((await request(h.app).get('/api/hello').set(withKey(expiring.key, owner.orgId))).status).to.equal(200);
      now += 61_000;
      expect((await request(h.app).get('/api/hello').set(withKey(expiring.key, owner.orgId))).status).to.equal(401);
    });

    it('never acts above its creator’s current role, and dies with the creator’s membership', async () => {
      const admin = await addMember(h.app, owner, 'admin');
      const { body } = await createKey(admin, { name: 'ops', role: 'admin' });
      expect((await request(h.app).get('/api/admin').set(withKey(body.key, owner.orgId))).status).to.equal(200);
      await request(h.app).patch(`/auth/orgs/${owner.orgId}/members/${admin.userId}`).set(bearer(owner.access)).send({ role: 'member' });
      now += 61_000; // past the key cache
      const demoted = await request(h.app).get('/api/hello').set(withKey(body.key, owner.orgId));
      expect(demoted.body.role).to.equal('member');
      await request(h.app).delete(`/auth/orgs/${owner.orgId}/members/${admin.userId}`).set(bearer(owner.access));
      now += 61_000;
      expect((await request(h.app).get('/api/hello').set(withKey(body.key, owner.orgId))).status).to.equal(401);
    });

    it('records lastUsedAt without a write on every request', async () => {
      const { body } = await createKey(owner);
      await request(h.app).get('/api/hello').set(withKey(body.key, owner.orgId));
      await new Promise((r) => setTimeout(r, 50));
      const first = (await h.storage.apiKeys.findByPrefix(body.prefix))?.lastUsedAt;
      expect(first).to.equal(now);
      const writes = await queriesDuring(
        h.storage,
        async () => {
          for (let i = 0; i < 5; i += 1) await request(h.app).get('/api/hello').set(withKey(body.key, owner.orgId));
        },
        (sql) => /^update/i.test(sql),
      );
      expect(writes).to.deep.equal([]);
      const list = await request(h.app).get('/auth/api-keys').set(bearer(owner.access));
      expect(list.body.apiKeys[0].lastUsedAt).to.equal(new Date(now).toISOString());
    });

    it('serves repeated requests from memory: no storage read per request', async () => {
      const { body } = await createKey(owner);
      await request(h.app).get('/api/hello').set(withKey(body.key, owner.orgId));
      const queries = await queriesDuring(h.storage, async () => {
        for (let i = 0; i < 5; i += 1) {
          expect((await request(h.app).get('/api/hello').set(withKey(body.key, owner.orgId))).status).to.equal(200);
        }
      });
      expect(queries).to.deep.equal([]);
    });
  });

  describe('DELETE /auth/api-keys/:id', () => {
    it('answers 404 for an unknown key or another org’s key, and 403 for a member', async () => {
      const other = await signupWithOrg(h.app);
      const theirs = (await createKey(other)).body;
      const res = await request(h.app).delete(`/auth/api-keys/${theirs.id}`).set(bearer(owner.access));
      expect(res.status).to.equal(404);
      expect(res.body.code).to.equal('api_key_not_found');
      expect((await request(h.app).get('/api/hello').set(withKey(theirs.key, other.orgId))).status).to.equal(200);
      expect((await request(h.app).delete('/auth/api-keys/nope').set(bearer(owner.access))).status).to.equal(404);
      const member = await addMember(h.app, owner);
      const mine = (await createKey(owner)).body;
      expect((await request(h.app).delete(`/auth/api-keys/${mine.id}`).set(bearer(member.access))).status).to.equal(403);
    });
  });
});
