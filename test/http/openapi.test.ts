import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import express from 'express';
import { generate } from 'otplib';
import request from 'supertest';
import type { AuthRouter, AuthRouterOptions } from 'gatehouse-auth';
import { PASSWORD, startHarness, unique, type Harness } from '../helpers/harness.js';
import { validate } from '../helpers/json-schema.js';
import { createSmtpMailer } from 'gatehouse-auth';
import { startInbox, type Inbox } from '../helpers/inbox.js';
import { assertPasskey, createPasskey } from '../helpers/webauthn.js';

type Json = Record<string, unknown>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema: Json }> }>;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: unknown;
}
type Doc = Json & { paths: Record<string, Record<string, Operation>>; servers: Array<{ url: string }> };

/** Every route the Express router actually has, as "METHOD /path/{param}". */
function mountedRoutes(auth: AuthRouter): string[] {
  const stack = (auth as unknown as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> }).stack;
  return stack.flatMap((layer) =>
    layer.route ? Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`) : [],
  );
}

function documentedRoutes(doc: Doc): string[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
}

const rsaKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

describe('OpenAPI document', () => {
  describe('lists exactly the mounted routes of the configuration', () => {
    const configs: Array<[string, Partial<AuthRouterOptions>, string[], string[]]> = [
      ['defaults', {}, ['GET /me', 'POST /signin', 'GET /openapi.json'], ['GET /iot-credentials', 'GET /.well-known/jwks.json', 'POST /google', 'POST /passkeys/authentication/verify']],
      [
        'realtime, RS256 and Google',
        {
          realtime: { url: 'ws://127.0.0.1:1/mqtt' },
          tokens: { algorithm: 'RS256', privateKey: rsaKey(), kid: 'k1' },
          google: { clientId: 'cid', clientSecret: 'secret', redirectUri: 'http://127.0.0.1/cb', issuer: 'http://127.0.0.1:1', allowInsecureRequests: true },
        },
        ['GET /iot-credentials', 'POST /iot-credentials', 'GET /.well-known/jwks.json', 'POST /google'],
        [],
      ],
      [
        'passkeys',
        { passkeys: { rpID: 'localhost', origins: ['http://localhost:3000'] } },
        ['POST /passkeys/registration/options', 'POST /passkeys/registration/verify', 'GET /passkeys', 'DELETE /passkeys/{id}', 'POST /passkeys/authentication/options', 'POST /passkeys/authentication/verify'],
        ['POST /google'],
      ],
    ];
    for (const [name, options, present, absent] of configs) {
      it(name, async () => {
        const h = await startHarness(options);
        try {
          const res = await request(h.app).get('/auth/openapi.json');
          expect(res.status).to.equal(200);
          const doc = res.body as Doc;
          expect(doc.openapi).to.equal('3.1.0');
          expect(doc.servers).to.deep.equal([{ url: '/auth' }]);
          expect(documentedRoutes(doc).sort()).to.deep.equal(mountedRoutes(h.auth).sort());
          expect(documentedRoutes(doc)).to.include.members(present);
          for (const route of absent) expect(documentedRoutes(doc)).not.to.include(route);
        } finally {
          await h.close();
        }
      });
    }
  });

  describe('for every built-in preset, mounted at the root', () => {
    for (const preset of ['axonpush', 'cognito', 'axonize', 'datarhei'] as const) {
      it(preset, async () => {
        const h = await startHarness({ preset } as Partial<AuthRouterOptions>);
        try {
          const app = express().use(h.auth);
          const doc = (await request(app).get('/openapi.json')).body as Doc;
          expect(doc.servers).to.deep.equal([{ url: '/' }]);
          // As sets: a preset may register a route twice, and Express (like the document) keeps the first.
          expect([...new Set(documentedRoutes(doc))].sort()).to.deep.equal([...new Set(mountedRoutes(h.auth))].sort());
          const errorTypes = new Set(Object.values(doc.paths).flatMap((ops) => Object.values(ops).flatMap((op) => Object.keys(op.responses.default?.content ?? {}))));
          expect(errorTypes.size, 'one error media type per preset').to.equal(1);
        } finally {
          await h.close();
        }
      });
    }
  });

  it('describes security, parameters and problem+json errors', async () => {
    const h = await startHarness({ realtime: { url: 'ws://127.0.0.1:1/mqtt' } });
    try {
      const doc = (await request(h.app).get('/auth/openapi.json')).body as Doc;
      const schemes = (doc.components as { securitySchemes: Json }).securitySchemes;
      expect(schemes).to.deep.include({ bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: (schemes.bearerAuth as Json).description } });
      expect(schemes.tenantId).to.include({ type: 'apiKey', in: 'header', name: 'X-Tenant-Id' });
      expect(doc.paths['/me']?.get?.security).to.deep.equal([{ bearerAuth: [] }, { apiKey: [], tenantId: [] }]);
      expect(doc.paths['/orgs']?.get?.security).to.deep.equal([{ bearerAuth: [] }]);
      expect(doc.paths['/signin']?.post?.security).to.equal(undefined);
      expect(doc.paths['/orgs/{orgId}/members/{userId}']?.patch?.parameters?.map((p) => `${p.in}:${p.name}`)).to.deep.equal(['path:orgId', 'path:userId']);
      expect(doc.paths['/iot-credentials']?.get?.parameters?.map((p) => `${p.in}:${p.name}`)).to.deep.equal(['query:envSlug']);
      const signin = doc.paths['/signin']?.post as Operation;
      expect(Object.keys(signin.responses['403']?.content ?? {})).to.deep.equal(['application/problem+json']);
      expect(signin.responses['403']?.content?.['application/problem+json']?.schema).to.deep.equal({ $ref: '#/components/schemas/MfaRequired' });
      expect(Object.keys(doc.paths['/me']?.get?.responses ?? {})).to.include.members(['200', '401', '403', 'default']);
    } finally {
      await h.close();
    }
  });

  it('documents the refresh-cookie header and cookie, and both 200 bodies, only with the cookies option', async () => {
    const on = await startHarness({ cookies: true });
    const off = await startHarness();
    try {
      const doc = (await request(on.app).get('/auth/openapi.json')).body as Doc;
      const params = (path: string, d = doc) => d.paths[path]?.post?.parameters?.map((p) => `${p.in}:${p.name}`);
      expect(params('/refresh')).to.deep.equal(['header:X-Auth-Transport', 'cookie:gatehouse_refresh']);
      expect(params('/logout')).to.deep.equal(['header:X-Auth-Transport', 'cookie:gatehouse_refresh']);
      for (const path of ['/signin', '/setup-org', '/switch-org', '/mfa/verify']) expect(params(path), path).to.deep.equal(['header:X-Auth-Transport']);
      expect(doc.paths['/refresh']?.post?.responses['200']?.content?.['application/json']?.schema).to.deep.equal({
        anyOf: [{ $ref: '#/components/schemas/TokenPair' }, { $ref: '#/components/schemas/CookieSession' }],
      });
      expect(Object.keys(doc.paths['/refresh']?.post?.responses ?? {})).to.include('403');
      const plain = (await request(off.app).get('/auth/openapi.json')).body as Doc;
      for (const path of ['/refresh', '/logout', '/signin']) expect(params(path, plain), path).to.equal(undefined);
      expect(plain.paths['/refresh']?.post?.responses['200']?.content?.['application/json']?.schema).to.deep.equal({ $ref: '#/components/schemas/TokenPair' });
      expect((plain.components as { schemas: Json }).schemas.CookieSession).to.equal(undefined);
    } finally {
      await on.close();
      await off.close();
    }
  });

  it('the schema checker used below rejects what the document forbids', async () => {
    const h = await startHarness();
    try {
      const doc = h.auth.openApiDocument('/auth') as unknown as Doc;
      const user = { $ref: '#/components/schemas/User' };
      const good = { id: 'u', email: 'a@b.co', username: null, first_name: null, last_name: null, organizationId: 'o', roles: ['owner'] };
      expect(validate(user, good, doc)).to.deep.equal([]);
      expect(validate(user, { ...good, extra: 1 }, doc)).to.have.length(1);
      expect(validate(user, { ...good, roles: ['root'] }, doc)).to.have.length(1);
      const { email: _email, ...missing } = good;
      expect(validate(user, missing, doc)[0]).to.contain('email');
      expect(validate({ $ref: '#/components/schemas/Invitation' }, { id: 'i', role: 'member', email: null, expiresAt: 'tomorrow', createdAt: new Date().toISOString(), createdBy: 'u' }, doc)[0]).to.contain(
        'date-time',
      );
      expect(validate({ type: 'string', weird: 1 }, 'x', doc)[0]).to.contain('unsupported');
    } finally {
      await h.close();
    }
  });

  describe('responses of the routes validate against the document', function () {
    this.timeout(30_000);
    let h: Harness;
    let doc: Doc;
    let inbox: Inbox;
    const checked = new Map<string, Set<number>>();

    before(async () => {
      inbox = await startInbox();
      h = await startHarness({
        mail: { mailer: createSmtpMailer(inbox.url), from: 'auth@example.com', limits: false },
        realtime: { url: 'ws://127.0.0.1:1/mqtt' },
        cookies: true,
        tokens: { algorithm: 'RS256', privateKey: rsaKey(), kid: 'k1' },
        google: { clientId: 'cid', clientSecret: 'secret', redirectUri: 'http://127.0.0.1/cb', issuer: 'http://127.0.0.1:1', allowInsecureRequests: true, timeout: '1s' },
        passkeys: { rpID: 'localhost', origins: ['http://localhost'] },
      });
      doc = (await request(h.app).get('/auth/openapi.json')).body as Doc;
    });
    after(async () => {
      await h.close();
      await inbox.close();
    });

    /**
     * Sends a request to a documented route and checks the answer against the
     * document: its status must be listed (or covered by `default` for errors), its
     * media type must match, and its body must validate against the schema.
     */
    async function call(method: 'get' | 'post' | 'patch' | 'delete', template: string, params: Record<string, string> = {}, init: { body?: object; token?: string; headers?: Record<string, string> } = {}) {
      const path = template.replace(/\{(\w+)\}/g, (_m, key: string) => encodeURIComponent(params[key] ?? ''));
      let req = request(h.app)[method](`/auth${path}`);
      if (init.token) req = req.set('Authorization', `Bearer ${init.token}`);
      for (const [k, v] of Object.entries(init.headers ?? {})) req = req.set(k, v);
      const res = init.body === undefined ? await req : await req.send(init.body);

      // A query string in `template` is sent, not looked up.
      const route = template.split('?')[0]!;
      const operation = doc.paths[route]?.[method];
      expect(operation, `${method.toUpperCase()} ${template} is documented`).to.not.equal(undefined);
      const documented = operation!.responses[String(res.status)] ?? (res.status >= 400 ? operation!.responses.default : undefined);
      expect(documented, `${method.toUpperCase()} ${template} documents ${res.status}: ${JSON.stringify(res.body)}`).to.not.equal(undefined);
      if (res.status === 204) {
        expect(res.text).to.equal('');
      } else {
        const [mediaType, { schema }] = Object.entries(documented!.content ?? {})[0] ?? ['none', { schema: {} }];
        expect(res.headers['content-type'], `${template} ${res.status}`).to.contain(mediaType);
        expect(validate(schema, res.body, doc), `${method.toUpperCase()} ${template} ${res.status}`).to.deep.equal([]);
      }
      const key = `${method.toUpperCase()} ${route}`;
      if (!checked.has(key)) checked.set(key, new Set());
      checked.get(key)!.add(res.status);
      return res;
    }

    it('replays a representative request per route, success and failure', async () => {
      const totpAt = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });
      await call('get', '/.well-known/jwks.json');
      await call('get', '/openapi.json');

      // Accounts.
      const id = unique();
      const email = `owner-${id}@example.com`;
      const signup = await call('post', '/signup', {}, { body: { email, password: PASSWORD, action: 'create', orgCreateProps: { name: `Org ${id}`, slug: `org-${id}` } } });
      const orgId = signup.body.organizationId as string;
      await call('post', '/signup', {}, { body: { email, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Again', slug: `again-${id}` } } });
      await call('post', '/signup', {}, { body: { email: 'not-an-email', password: 'x', action: 'create' } });
      await call('post', '/signin', {}, { body: { email, password: 'wrong password' } });
      let pair = (await call('post', '/signin', {}, { body: { email, password: PASSWORD } })).body as { access_token: string; refresh_token: string };
      pair = (await call('post', '/refresh', {}, { body: { refresh_token: pair.refresh_token } })).body;
      await call('post', '/refresh', {}, { body: { refresh_token: 'nonsense' } });
      // The cookie transport: the access token and its lifetime in the body, the refresh token in a cookie.
      const viaCookie = await call('post', '/signin', {}, { body: { email, password: PASSWORD }, headers: { 'X-Auth-Transport': 'cookie' } });
      const cookie = ((viaCookie.headers['set-cookie'] as unknown as string[] | undefined)?.[0] ?? '').split(';')[0] as string;
      expect((await call('post', '/refresh', {}, { headers: { 'X-Auth-Transport': 'cookie', Cookie: cookie } })).status).to.equal(200);
      expect((await call('post', '/refresh', {}, { headers: { 'X-Auth-Transport': 'cookie', Cookie: cookie, Origin: 'https://evil.example' } })).status).to.equal(403);
      expect((await call('post', '/signin', {}, { body: { email, password: PASSWORD }, headers: { 'X-Auth-Transport': 'cookie', Origin: 'https://evil.example' } })).status).to.equal(403);
      const owner = pair.access_token;
      await call('get', '/me', {}, { token: owner });
      await call('get', '/me');

      // Organizations, members and invitations.
      await call('get', '/orgs', {}, { token: owner });
      const invitation = await call('post', '/orgs/{orgId}/invitations', { orgId }, { token: owner, body: { role: 'admin' } });
      await call('get', '/orgs/{orgId}/invitations', { orgId }, { token: owner });
      const memberEmail = `member-${id}@example.com`;
      const joined = await call('post', '/signup', {}, { body: { email: memberEmail, password: PASSWORD, action: 'join', invitationCode: invitation.body.code } });
      const member = (await call('post', '/signin', {}, { body: { email: memberEmail, password: PASSWORD } })).body.access_token as string;
      await call('get', '/orgs/{orgId}/members', { orgId }, { token: member });
      await call('get', '/orgs/{orgId}/members', { orgId: 'no-such-org' }, { token: member });
      await call('patch', '/orgs/{orgId}/members/{userId}', { orgId, userId: joined.body.id }, { token: owner, body: { role: 'member' } });
      const spare = await call('post', '/orgs/{orgId}/invitations', { orgId }, { token: owner, body: {} });
      await call('delete', '/orgs/{orgId}/invitations/{invitationId}', { orgId, invitationId: spare.body.id }, { token: owner });
      await call('delete', '/orgs/{orgId}/invitations/{invitationId}', { orgId, invitationId: spare.body.id }, { token: owner });
      const second = await call('post', '/setup-org', {}, { token: member, body: { action: 'create', orgCreateProps: { name: 'Side', slug: `side-${id}` } } });
      await call('post', '/switch-org', {}, { token: second.body.access_token, body: { orgId } });
      await call('post', '/api-keys', {}, { token: member, body: { name: 'members may not' } });
      await call('delete', '/orgs/{orgId}/members/{userId}', { orgId, userId: joined.body.id }, { token: owner });

      // API keys, and a call made with one.
      const key = await call('post', '/api-keys', {}, { token: owner, body: { name: 'ci', role: 'admin', expiresAt: new Date(Date.now() + 86_400_000).toISOString() } });
      await call('get', '/me', {}, { headers: { 'X-API-Key': key.body.key, 'X-Tenant-Id': orgId } });
      await call('get', '/iot-credentials', {}, { headers: { 'X-API-Key': key.body.key, 'X-Tenant-Id': orgId } });
      await call('post', '/iot-credentials', {}, { token: owner });
      await call('get', '/iot-credentials', {}, { token: owner, headers: {} });
      await call('get', '/api-keys', {}, { token: owner });
      await call('delete', '/api-keys/{id}', { id: key.body.id }, { token: owner });
      await call('delete', '/api-keys/{id}', { id: key.body.id }, { token: owner });

      // The audit log of what happened above, and its chain.
      const audit = await call('get', '/orgs/{orgId}/audit', { orgId }, { token: owner });
      expect(audit.body.entries.length).to.be.above(0);
      await call('get', '/orgs/{orgId}/audit?limit=1&action=api_key.revoked', { orgId }, { token: owner });
      await call('get', '/orgs/{orgId}/audit?since=yesterday', { orgId }, { token: owner });
      await call('get', '/orgs/{orgId}/audit', { orgId }, { token: member });
      await call('get', '/orgs/{orgId}/audit/verify', { orgId }, { token: owner });
      await call('get', '/me/audit', {}, { token: owner });
      await call('get', '/me/audit?since=yesterday', {}, { token: owner });
      await call('get', '/orgs/{orgId}/audit/verify', { orgId: 'no-such-org' }, { token: owner });

      // Webhooks: an endpoint, its delivery log (one finished delivery, written as the worker would) and a redelivery.
      await call('post', '/orgs/{orgId}/webhooks', { orgId }, { token: owner, body: { url: 'ftp://nowhere.example' } });
      const hook = (await call('post', '/orgs/{orgId}/webhooks', { orgId }, { token: owner, body: { url: 'https://hooks.example.com/in', events: ['no.such_event'] } })).body;
      await call('get', '/orgs/{orgId}/webhooks', { orgId }, { token: owner });
      await call('get', '/orgs/{orgId}/webhooks/{id}', { orgId, id: hook.id }, { token: owner });
      await call('get', '/orgs/{orgId}/webhooks/{id}', { orgId, id: 'nope' }, { token: owner });
      await call('patch', '/orgs/{orgId}/webhooks/{id}', { orgId, id: hook.id }, { token: owner, body: { enabled: false } });
      await call('patch', '/orgs/{orgId}/webhooks/{id}', { orgId, id: hook.id }, { token: owner, body: {} });
      await call('post', '/orgs/{orgId}/webhooks/{id}/rotate-secret', { orgId, id: hook.id }, { token: owner });
      await h.storage.knex('auth_webhook_deliveries').insert({ id: `whd-${id}`, endpoint_id: hook.id, event_id: `evt-${id}`, event_type: 'no.such_event', payload: '{}', status: 'failed', attempts: 8, next_attempt_at: 0, last_status_code: 500, last_error: 'HTTP 500', created_at: Date.now() });
      await call('get', '/orgs/{orgId}/webhooks/{id}/deliveries', { orgId, id: hook.id }, { token: owner });
      await call('get', '/orgs/{orgId}/webhooks/{id}/deliveries', { orgId, id: hook.id }, { token: member });
      await call('post', '/orgs/{orgId}/webhooks/{id}/deliveries/{deliveryId}/redeliver', { orgId, id: hook.id, deliveryId: `whd-${id}` }, { token: owner });
      await call('post', '/orgs/{orgId}/webhooks/{id}/deliveries/{deliveryId}/redeliver', { orgId, id: hook.id, deliveryId: 'nope' }, { token: owner });
      await call('delete', '/orgs/{orgId}/webhooks/{id}', { orgId, id: hook.id }, { token: owner });
      await call('delete', '/orgs/{orgId}/webhooks/{id}', { orgId, id: hook.id }, { token: owner });
      await call('get', '/orgs/{orgId}/policy', { orgId }, { token: owner });
      await call('get', '/orgs/{orgId}/policy', { orgId }, { token: member });
      await call('patch', '/orgs/{orgId}/policy', { orgId }, { token: owner, body: { maxSessionAge: 5 } });
      await call('patch', '/orgs/{orgId}/policy', { orgId }, { token: owner, body: { requireMfa: false, apiKeyMaxLifetime: null } });

      // Custom roles (an empty vocabulary here: a role with no permissions).
      const role = (await call('post', '/orgs/{orgId}/roles', { orgId }, { token: owner, body: { name: 'viewer', permissions: [] } })).body;
      await call('post', '/orgs/{orgId}/roles', { orgId }, { token: owner, body: { name: 'viewer', permissions: ['no:such'] } });
      await call('get', '/orgs/{orgId}/roles', { orgId }, { token: owner });
      await call('get', '/orgs/{orgId}/roles', { orgId: 'no-such-org' }, { token: owner });
      await call('patch', '/orgs/{orgId}/roles/{roleId}', { orgId, roleId: role.id }, { token: owner, body: { description: 'reads' } });
      await call('patch', '/orgs/{orgId}/roles/{roleId}', { orgId, roleId: role.id }, { token: owner, body: {} });
      await call('delete', '/orgs/{orgId}/roles/{roleId}', { orgId, roleId: role.id }, { token: owner });
      await call('delete', '/orgs/{orgId}/roles/{roleId}', { orgId, roleId: role.id }, { token: owner });

      // MFA: enrol, the sign-in step, and turning it off.
      await call('get', '/mfa', {}, { token: owner });
      const setup = await call('post', '/mfa/totp/setup', {}, { token: owner });
      const now = Date.now();
      await call('post', '/mfa/totp/enable', {}, { token: owner, body: { code: '000000' } });
      await call('post', '/mfa/totp/enable', {}, { token: owner, body: { code: await totpAt(setup.body.secret, now) } });
      await call('post', '/mfa/totp/setup', {}, { token: owner });
      const challenge = await call('post', '/signin', {}, { body: { email, password: PASSWORD } });
      expect(challenge.status).to.equal(403);
      // The next time step: a code is spent once, and ±1 step of drift is allowed.
      await call('post', '/mfa/verify', {}, { body: { mfa_token: challenge.body.mfa_token, code: await totpAt(setup.body.secret, now + 30_000) } });
      await call('post', '/mfa/verify', {}, { body: { mfa_token: challenge.body.mfa_token, code: '123456' } });
      await call('get', '/mfa', {}, { token: owner });
      await call('post', '/mfa/totp/disable', {}, { token: owner, body: { password: PASSWORD } });

      // Step-up: renewing the sign-in behind the token.
      await call('post', '/reauthenticate', {}, { token: owner, body: { password: 'not the password' } });
      await call('post', '/reauthenticate', {}, { token: owner, body: { password: PASSWORD } });

      // Passkeys, with a software authenticator in place of the browser's.
      const made = createPasskey((await call('post', '/passkeys/registration/options', {}, { token: owner })).body);
      const passkeyId = (await call('post', '/passkeys/registration/verify', {}, { token: owner, body: { credential: made.credential, name: 'Laptop' } })).body.id as string;
      await call('post', '/passkeys/registration/verify', {}, { token: owner, body: { credential: made.credential } });
      await call('get', '/passkeys', {}, { token: owner });
      const assertion = assertPasskey(made.passkey, (await call('post', '/passkeys/authentication/options', {}, { body: { email } })).body);
      expect((await call('post', '/passkeys/authentication/verify', {}, { body: { credential: assertion } })).status).to.equal(200);
      await call('post', '/passkeys/authentication/verify', {}, { body: { credential: assertion } });
      const viaCookieAssertion = assertPasskey(made.passkey, (await call('post', '/passkeys/authentication/options', {}, { body: {} })).body);
      expect((await call('post', '/passkeys/authentication/verify', {}, { body: { credential: viaCookieAssertion }, headers: { 'X-Auth-Transport': 'cookie' } })).status).to.equal(200);
      await call('delete', '/passkeys/{id}', { id: passkeyId }, { token: owner });
      await call('delete', '/passkeys/{id}', { id: passkeyId }, { token: owner });

      // Google: the provider is unreachable here, so only the error path is exercised (and the nonce, which needs no provider).
      await call('get', '/google/nonce');
      await call('post', '/google', {}, { body: { code: 'abc' } });

      // Sessions: listing, ending the others, ending one.
      await call('get', '/sessions', {}, { token: owner });
      await call('delete', '/sessions', {}, { token: owner });
      await call('delete', '/sessions/{id}', { id: 'no-such-session' }, { token: owner });
      // The member's session in the org they were removed from has ended; the one in their own org lives.
      const sideToken = second.body.access_token as string;
      const memberSessions = (await call('get', '/sessions', {}, { token: sideToken })).body.sessions as Array<{ id: string }>;
      await call('delete', '/sessions/{id}', { id: memberSessions[0]?.id ?? '' }, { token: sideToken });

      // Handing an org over, deleting it, deleting an account.
      const bossEmail = `boss-${id}@example.com`;
      const bossOrg = (await call('post', '/signup', {}, { body: { email: bossEmail, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Boss', slug: `boss-${id}` } } })).body
        .organizationId as string;
      const boss = (await call('post', '/signin', {}, { body: { email: bossEmail, password: PASSWORD } })).body.access_token as string;
      const heirCode = (await call('post', '/orgs/{orgId}/invitations', { orgId: bossOrg }, { token: boss, body: {} })).body.code as string;
      const heirEmail = `heir-${id}@example.com`;
      const heirId = (await call('post', '/signup', {}, { body: { email: heirEmail, password: PASSWORD, action: 'join', invitationCode: heirCode } })).body.id as string;
      const heir = (await call('post', '/signin', {}, { body: { email: heirEmail, password: PASSWORD } })).body.access_token as string;
      await call('delete', '/me', {}, { token: boss, body: { password: PASSWORD } });
      await call('post', '/orgs/{orgId}/transfer', { orgId: bossOrg }, { token: boss, body: { userId: heirId } });
      await call('post', '/orgs/{orgId}/transfer', { orgId: bossOrg }, { token: boss, body: { userId: heirId } });
      await call('delete', '/orgs/{orgId}', { orgId: bossOrg }, { token: heir, body: { password: 'not the password' } });
      await call('delete', '/orgs/{orgId}', { orgId: bossOrg }, { token: heir, body: { password: PASSWORD } });
      // Deleting the org ended the boss's session scoped to it: a new sign-in (in no org now) deletes the account.
      const bossAgain = (await call('post', '/signin', {}, { body: { email: bossEmail, password: PASSWORD } })).body.access_token as string;
      await call('delete', '/me', {}, { token: bossAgain, body: { password: PASSWORD } });

      // The account by mail: verification, reset, password and email change, with the tokens of the mails that arrived.
      const mailEmail = `mail-${id}@example.com`;
      const newPassword = 'a brand new passphrase';
      await call('post', '/signup', {}, { body: { email: mailEmail, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Mail', slug: `mail-${id}` } } });
      const firstLink = await inbox.next(mailEmail, /Verify your/);
      let mailUser = (await call('post', '/signin', {}, { body: { email: mailEmail, password: PASSWORD } })).body.access_token as string;
      await call('post', '/email/verification', {}, { token: mailUser });
      await call('post', '/email/verify', {}, { body: { token: firstLink.token } });
      await call('post', '/email/verify', {}, { body: { token: (await inbox.next(mailEmail, /Verify your/)).token } });
      await call('post', '/email/verification', {}, { token: mailUser });
      await call('post', '/password/forgot', {}, { body: { email: mailEmail } });
      await call('post', '/password/reset', {}, { body: { token: 'A'.repeat(43), password: newPassword } });
      await call('post', '/password/reset', {}, { body: { token: (await inbox.next(mailEmail, /Reset your/)).token, password: newPassword } });
      mailUser = (await call('post', '/signin', {}, { body: { email: mailEmail, password: newPassword } })).body.access_token as string;
      await call('post', '/password/change', {}, { token: mailUser, body: { currentPassword: 'not the password', newPassword: PASSWORD } });
      await call('post', '/password/change', {}, { token: mailUser, body: { currentPassword: newPassword, newPassword: PASSWORD } });
      await call('post', '/email/change', {}, { token: mailUser, body: { newEmail: mailEmail, password: PASSWORD } });
      const moved = `moved-${id}@example.com`;
      await call('post', '/email/change', {}, { token: mailUser, body: { newEmail: moved, password: PASSWORD } });
      await call('post', '/email/verify', {}, { body: { token: (await inbox.next(moved, /Confirm your new/)).token } });
      await call('get', '/me', {}, { token: mailUser });

      await call('post', '/logout', {}, { token: owner, body: {} });
      await call('get', '/me', {}, { token: owner });
    });

    it('covered every documented operation, with a success for each (Google needs a live provider)', () => {
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const method of Object.keys(ops)) {
          const key = `${method.toUpperCase()} ${path}`;
          const statuses = [...(checked.get(key) ?? [])];
          expect(statuses, `${key} was replayed`).to.not.be.empty;
          if (key !== 'POST /google') expect(statuses.some((s) => s < 300), `${key} answered a success (${statuses.join(', ')})`).to.equal(true);
        }
      }
    });
  });
});
