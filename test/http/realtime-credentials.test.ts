import { expect } from 'chai';
import request from 'supertest';
import { addMember, claimsOf, PASSWORD, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';

const FIELDS = ['endpoint', 'presignedWssUrl', 'expiresAt', 'topicPrefix', 'envSlug', 'topicTemplate', 'clientId', 'region', 'authorizerName', 'authToken'];

describe('GET|POST /auth/iot-credentials', () => {
  let h: Harness;
  let owner: SignedUp;
  afterEach(async () => {
    await h.close();
  });

  describe('with a self-hosted broker', () => {
    beforeEach(async () => {
      h = await startHarness({ realtime: { url: 'ws://127.0.0.1:8083/mqtt', ttl: '10m' } });
      owner = await signupWithOrg(h.app);
    });

    it('answers with exactly the fields of the wire contract, by Bearer token', async () => {
      const res = await request(h.app).get('/auth/iot-credentials').set('Authorization', `Bearer ${owner.access}`);
      expect(res.status).to.equal(200);
      expect(Object.keys(res.body).sort()).to.deep.equal([...FIELDS].sort());
      expect(res.body).to.include({
        endpoint: '127.0.0.1:8083',
        presignedWssUrl: 'ws://127.0.0.1:8083/mqtt',
        topicPrefix: `axonpush/${owner.orgId}`,
        envSlug: 'default',
        topicTemplate: `axonpush/${owner.orgId}/{envSlug}/{appId}/{channelId}/{eventType}/{agentId}`,
        region: 'local',
        authorizerName: 'gatehouse-jwt-authorizer',
      });
      expect(res.body.clientId).to.match(new RegExp(`^u-${owner.userId.slice(0, 8)}-[0-9a-f-]{36}$`));
      const expiresAt = Date.parse(res.body.expiresAt);
      expect(res.body.expiresAt).to.equal(new Date(expiresAt).toISOString());
      expect(expiresAt - Date.now()).to.be.within(595_000, 600_000);
      const claims = claimsOf(res.body.authToken);
      expect(claims).to.include({ usefor: 'realtime', sub: owner.userId, org: owner.orgId, tp: res.body.topicPrefix, cid: res.body.clientId, exi: 600 });
    });

    it('answers POST the same way, and by API key with its tenant id', async () => {
      const key = (await request(h.app).post('/auth/api-keys').set('Authorization', `Bearer ${owner.access}`).send({ name: 'sdk' })).body;
      const res = await request(h.app).post('/auth/iot-credentials').set('X-API-Key', key.key).set('X-Tenant-Id', owner.orgId);
      expect(res.status).to.equal(200);
      expect(res.body.topicPrefix).to.equal(`axonpush/${owner.orgId}`);
      expect(res.body.clientId).to.match(new RegExp(`^k-${key.id.slice(0, 8)}-`));
    });

    it('is never stored by a cache: Cache-Control no-store, no ETag, JSON with its length; HEAD has no body', async () => {
      const res = await request(h.app).get('/auth/iot-credentials').set('Authorization', `Bearer ${owner.access}`);
      expect(res.status).to.equal(200);
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.headers).not.to.have.property('etag');
      expect(res.headers['content-type']).to.equal('application/json; charset=utf-8');
      expect(Number(res.headers['content-length'])).to.equal(Buffer.byteLength(res.text));
      expect(Object.keys(JSON.parse(res.text) as object).sort()).to.deep.equal([...FIELDS].sort());
      const head = await request(h.app).head('/auth/iot-credentials').set('Authorization', `Bearer ${owner.access}`);
      expect(head.status).to.equal(200);
      expect(head.headers['cache-control']).to.equal('no-store');
      expect(head.text ?? '').to.equal('');
    });

    it('issues a fresh client id every time', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 3; i += 1) {
        ids.add((await request(h.app).get('/auth/iot-credentials').set('Authorization', `Bearer ${owner.access}`)).body.clientId);
      }
      expect(ids.size).to.equal(3);
    });

    it('takes envSlug from the query, and refuses one that is not a single topic level', async () => {
      const ok = await request(h.app).get('/auth/iot-credentials?envSlug=staging').set('Authorization', `Bearer ${owner.access}`);
      expect(ok.body.envSlug).to.equal('staging');
      for (const bad of ['a/b', '%23', '%2B', '$SYS', '']) {
        const res = await request(h.app).get(`/auth/iot-credentials?envSlug=${bad}`).set('Authorization', `Bearer ${owner.access}`);
        expect(res.status, bad).to.equal(400);
        expect(res.body.errors[0].path).to.equal('envSlug');
      }
    });

    it('refuses the realtime token as an access token', async () => {
      const { body } = await request(h.app).get('/auth/iot-credentials').set('Authorization', `Bearer ${owner.access}`);
      const res = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${body.authToken}`);
      expect(res.status).to.equal(401);
      expect(res.body.code).to.equal('invalid_token');
      expect((await request(h.app).post('/auth/refresh').send({ refresh_token: body.authToken })).status).to.equal(401);
    });

    it('needs credentials, and an org', async () => {
      expect((await request(h.app).get('/auth/iot-credentials')).status).to.equal(401);
      const member = await addMember(h.app, owner);
      await request(h.app).delete(`/auth/orgs/${owner.orgId}/members/${member.userId}`).set('Authorization', `Bearer ${member.access}`);
      const { body: pair } = await request(h.app).post('/auth/signin').send({ email: member.email, password: PASSWORD });
      const res = await request(h.app).get('/auth/iot-credentials').set('Authorization', `Bearer ${pair.access_token}`);
      expect(res.status).to.equal(403);
      expect(res.body.code).to.equal('org_required');
    });
  });

  describe('for AWS IoT Core', () => {
    it('presigns nothing: the unsigned URL names the custom authorizer', async () => {
      h = await startHarness({ realtime: { url: 'wss://abc123-ats.iot.us-east-1.amazonaws.com/mqtt', authorizerName: 'axonpush-jwt-authorizer' } });
      owner = await signupWithOrg(h.app);
      const res = await request(h.app).post('/auth/iot-credentials').set('Authorization', `Bearer ${owner.access}`);
      expect(res.status).to.equal(200);
      expect(res.body).to.include({
        endpoint: 'abc123-ats.iot.us-east-1.amazonaws.com',
        presignedWssUrl: 'wss://abc123-ats.iot.us-east-1.amazonaws.com/mqtt?x-amz-customauthorizer-name=axonpush-jwt-authorizer',
        region: 'us-east-1',
        authorizerName: 'axonpush-jwt-authorizer',
      });
      expect(Date.parse(res.body.expiresAt) - Date.now()).to.be.within(895_000, 900_000);
    });
  });

  describe('without the realtime option', () => {
    it('is not mounted', async () => {
      h = await startHarness();
      owner = await signupWithOrg(h.app);
      const res = await request(h.app).get('/auth/iot-credentials').set('Authorization', `Bearer ${owner.access}`);
      expect(res.status).to.equal(404);
    });
  });

  it('refuses bad realtime options at startup', async () => {
    const { createAuthRouter } = await import('gatehouse-auth');
    h = await startHarness();
    const make = (realtime: Record<string, unknown>) => () =>
      createAuthRouter({ storage: h.storage, tokens: { secret: 'x'.repeat(32) }, realtime: realtime as never });
    expect(make({ url: 'http://broker/mqtt' })).to.throw(TypeError, /ws:\/\/ or wss:\/\//);
    expect(make({ url: 'not a url' })).to.throw(TypeError, /realtime.url/);
    expect(make({ url: 'ws://b/mqtt', namespace: 'a/b' })).to.throw(TypeError, /namespace/);
    expect(make({ url: 'ws://b/mqtt', namespace: '#' })).to.throw(TypeError, /namespace/);
    expect(make({ url: 'ws://b/mqtt', ttl: '0s' })).to.throw(TypeError, /realtime.ttl/);
  });
});
