import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import type express from 'express';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { expectProblem, PASSWORD, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';
import { call, startPresetServer, type PresetServer } from '../helpers/server.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

function expectFieldError(res: request.Response, path: string): void {
  expectProblem(res, 400, 'invalid_request');
  expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(path);
  expect(JSON.stringify(res.body)).to.contain('NUL');
}

/** Issue 11 items 11, 12, 17 and 18: input the HTTP layer refuses with a clear 4xx. */
describe('security: HTTP input', () => {
  describe('on SQLite', () => {
    let h: Harness;
    let logged: string[];

    before(async () => {
      logged = [];
      h = await startHarness({ logger: { warn: () => {}, error: (message) => void logged.push(message) } });
    });
    after(async () => {
      await h.close();
    });

    it('item 11: a compressed body that does not decompress is 400 invalid_request, logged as nothing', async () => {
      // The bytes as given: superagent would otherwise JSON-encode a Buffer sent as application/json.
      const post = (encoding: string, body: Buffer) =>
        request(h.app).post('/auth/signin').set('Content-Type', 'application/json').set('Content-Encoding', encoding).serialize((b: unknown) => b as string).send(body);
      for (const encoding of ['gzip', 'deflate', 'br']) {
        const res = await post(encoding, Buffer.from('this is not compressed data at all'));
        expectProblem(res, 400, 'invalid_request');
        expect(res.body.detail, encoding).to.equal('the request body could not be decompressed');
      }
      // Truncated, too: a real gzip stream cut short.
      const credentials = JSON.stringify({ email: `nobody-${unique()}@example.com`, password: PASSWORD });
      expectProblem(await post('gzip', gzipSync(credentials).subarray(0, 12)), 400, 'invalid_request');
      expect(logged).to.deep.equal([]);
      // A body that does decompress is read as usual.
      expectProblem(await post('gzip', gzipSync(credentials)), 401, 'invalid_credentials');
    });

    nulCases(() => h.app);

    it('item 17: a path parameter with malformed percent-encoding is a problem+json 400, not HTML', async () => {
      const u = await signupWithOrg(h.app);
      for (const path of ['/auth/orgs/%ff/members', '/auth/orgs/%E0%A4%A/invitations', '/auth/api-keys/%zz']) {
        const res = await request(h.app).get(path).set(bearer(u.access));
        expectProblem(res, 400, 'invalid_request');
        expect(res.body.detail).to.equal('the request path is not validly percent-encoded');
      }
      expect(logged).to.deep.equal([]);
    });

    it('item 18: an Authorization header with two Bearer tokens is 401 invalid_token', async () => {
      const u = await signupWithOrg(h.app);
      for (const header of [`Bearer ${u.access} ${u.access}`, `Bearer ${u.access} junk`, `Bearer ${u.access},${u.access}`, `Bearer  ${u.access}\t${u.access}`]) {
        for (const path of ['/api/hello', '/auth/me']) {
          const res = await request(h.app).get(path).set('Authorization', header);
          expectProblem(res, 401, 'invalid_token');
          expect(res.headers['www-authenticate']).to.contain('error="invalid_token"');
        }
      }
      // One token, with or without trailing space, still passes; another scheme is a missing token.
      expect((await request(h.app).get('/api/hello').set('Authorization', `Bearer ${u.access} `)).status).to.equal(200);
      expect((await request(h.app).get('/api/hello').set('Authorization', `bearer ${u.access}`)).status).to.equal(200);
      expectProblem(await request(h.app).get('/api/hello').set('Authorization', `Basic ${u.access}`), 401, 'missing_token');
    });
  });

  describe('on PostgreSQL', function () {
    this.timeout(60_000);
    let h: Harness;

    before(async () => {
      const url = await createTestDatabase('security_http_input');
      h = await startHarness({}, { storage: createKnexStorage(pgConfig(url)) });
    });
    after(async () => {
      await h?.close();
    });

    nulCases(() => h.app);
  });

  describe('under a preset mounted at the root of the host app', () => {
    let srv: PresetServer;

    before(async () => {
      srv = await startPresetServer({ preset: 'datarhei', guardedPath: '/api/v3/widgets' });
      srv.app.get('/api/v3/boom', () => {
        throw new Error('the host failed');
      });
      srv.app.get('/api/v3/things/:id', (req, res) => void res.json({ id: req.params.id }));
      srv.app.use(((err, _req, res, _next) => {
        res.status(418).json({ host: true, message: (err as Error).message });
      }) satisfies express.ErrorRequestHandler);
    });
    after(async () => {
      await srv.close();
    });

    it("item 17: answers a malformed path in the preset's error format, and leaves the host's errors to the host", async () => {
      const ours = await call(srv.baseUrl, '/api/auth/orgs/%ff/members');
      expect(ours.status).to.equal(400);
      expect(ours.headers.get('content-type')).to.match(/^application\/json/);
      expect(ours.body).to.deep.equal({ code: 400, message: 'the request path is not validly percent-encoded', details: ['invalid_request'] });

      const hostFailure = await call(srv.baseUrl, '/api/v3/boom');
      expect(hostFailure.status).to.equal(418);
      expect(hostFailure.body).to.deep.equal({ host: true, message: 'the host failed' });
      const hostPath = await call(srv.baseUrl, '/api/v3/things/%ff');
      expect(hostPath.status).to.equal(418);
      expect(hostPath.body.host).to.equal(true);
      expect((await call(srv.baseUrl, '/api/v3/things/%41')).body).to.deep.equal({ id: 'A' });
    });
  });
});

/** Item 12, on whichever database `app` runs. */
function nulCases(app: () => express.Express): void {
  it('item 12: a NUL character in a body field, a nested field or a path parameter is 400 naming the field', async () => {
    const id = unique();
    const signup = { email: `nul-${id}@example.com`, password: PASSWORD, action: 'create', orgCreateProps: { name: `Org ${id}`, slug: `nul-${id}` } };
    expectFieldError(await request(app()).post('/auth/signup').send({ ...signup, first_name: 'Ada\u0000' }), 'first_name');
    expectFieldError(await request(app()).post('/auth/signup').send({ ...signup, orgCreateProps: { ...signup.orgCreateProps, name: 'Org\u0000x' } }), 'orgCreateProps.name');
    expectFieldError(await request(app()).post('/auth/signin').send({ email: `nul-${id}@example.com`, password: `${PASSWORD}\u0000` }), 'password');

    const u: SignedUp = await signupWithOrg(app());
    expectFieldError(await request(app()).get('/auth/orgs/%00/members').set(bearer(u.access)), 'orgId');
    expectFieldError(await request(app()).delete(`/auth/orgs/${u.orgId}/members/a%00b`).set(bearer(u.access)), 'userId');
    expectFieldError(await request(app()).post('/auth/switch-org').set(bearer(u.access)).send({ orgId: `${u.orgId}\u0000` }), 'orgId');
    const setup = { action: 'create', orgCreateProps: { name: 'Second', slug: `nul2-${id}`, description: 'a\u0000b' } };
    expectFieldError(await request(app()).post('/auth/setup-org').set(bearer(u.access)).send(setup), 'orgCreateProps.description');
    // Nothing was written, and the same requests without the NUL work.
    expect((await request(app()).post('/auth/signup').send({ ...signup, first_name: 'Ada' })).status).to.equal(201);
    expect((await request(app()).get(`/auth/orgs/${u.orgId}/members`).set(bearer(u.access))).status).to.equal(200);
  });
}
