import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import { createAuthRouter, datarhei, DEFAULT_CORE_VERSION, type AuthRouter, type AuthRouterOptions } from 'gatehouse-auth';
import { SECRET } from '../helpers/harness.js';
import { call, startPresetServer, type PresetServer } from '../helpers/server.js';

const RFC3339_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const username = 'admin';
const password = 'YOUR_PASSWORD-1';

/** A clock the test moves by hand. */
function manualClock(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

async function withAccount(srv: PresetServer): Promise<string> {
  await srv.auth.services.accounts.signup({ email: 'admin@example.com', password, username }, { action: 'create', org: { name: 'Core', slug: 'core' } });
  return accessToken(srv.baseUrl);
}

async function accessToken(baseUrl: string): Promise<string> {
  const { body } = await call(baseUrl, '/api/login', { json: { username, password } });
  return body.access_token as string;
}

/** Another router on the same storage, listening: a second process of the same installation. */
async function secondInstance(srv: PresetServer, options: Partial<AuthRouterOptions>): Promise<{ baseUrl: string; auth: AuthRouter; close(): Promise<void> }> {
  const auth = createAuthRouter({ storage: srv.storage, preset: 'datarhei', passwords: { cost: 4 }, tokens: { secret: SECRET }, ...options } as AuthRouterOptions);
  const app = express();
  app.use(auth);
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    auth,
    async close() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await auth.close();
    },
  };
}

/** datarhei Core's `GET /api`: MinimalAbout for anonymous callers, the full About with a valid access token. */
describe('preset datarhei: GET /api (Core’s about)', () => {
  describe('defaults', () => {
    let srv: PresetServer;
    let access: string;
    const start = Date.parse('2026-03-01T10:00:00.750Z');
    const clock = manualClock(start);
    before(async () => {
      srv = await startPresetServer({ preset: 'datarhei', clock });
      access = await withAccount(srv);
    });
    after(() => srv.close());

    it('with a valid access token: exactly Core’s About fields, with Core’s types', async () => {
      const res = await call(srv.baseUrl, '/api', { headers: { Authorization: `Bearer ${access}` } });
      expect(res.status).to.equal(200);
      expect(res.body).to.have.all.keys('app', 'auths', 'name', 'id', 'created_at', 'uptime_seconds', 'version');
      expect(res.body).to.include({ app: 'datarhei-core', name: 'gatehouse' });
      expect(res.body.auths).to.deep.equal(['localjwt']);
      expect(res.body.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      // Go's time.RFC3339, whole seconds: the first start, truncated.
      expect(res.body.created_at).to.equal('2026-03-01T10:00:00Z').and.match(RFC3339_SECONDS);
      expect(res.body.uptime_seconds).to.be.a('number');
      expect(Number.isInteger(res.body.uptime_seconds)).to.equal(true);
      const version = res.body.version as Record<string, unknown>;
      expect(version).to.have.all.keys('number', 'repository_commit', 'repository_branch', 'build_date', 'arch', 'compiler');
      expect(version.number).to.equal(DEFAULT_CORE_VERSION);
      for (const value of Object.values(version)) expect(value).to.be.a('string');
      expect(version.arch).to.match(/^[a-z0-9]+\/[a-z0-9]+$/);
      expect(version.compiler).to.match(/^gatehouse\/\S+ node\/\S+$/);
    });

    it('uptime_seconds counts whole seconds since this process started', async () => {
      const before = (await call(srv.baseUrl, '/api', { headers: { Authorization: `Bearer ${access}` } })).body;
      clock.advance(90_000);
      const later = (await call(srv.baseUrl, '/api', { headers: { Authorization: `Bearer ${access}` } })).body;
      expect((later.uptime_seconds as number) - (before.uptime_seconds as number)).to.equal(90);
      expect(later.created_at).to.equal(before.created_at);
      expect(later.id).to.equal(before.id);
    });

    it('without a token, or with a bad, wrong-use or expired one: Core’s MinimalAbout {app, auths, version: {number: "<major>.0.0"}}', async () => {
      const { body: pair } = await call(srv.baseUrl, '/api/login', { json: { username, password } });
      const expired = await (async () => {
        const past = createAuthRouter({ storage: srv.storage, preset: 'datarhei', passwords: { cost: 4 }, tokens: { secret: SECRET }, clock: { now: () => clock.now() - 3_600_000 } });
        const old = await past.services.accounts.signinWithUsername(username, password);
        await past.close();
        if (old.kind !== 'tokens') throw new Error('expected tokens');
        return old.tokens.accessToken;
      })();
      const headers: Array<Record<string, string>> = [
        {},
        { Authorization: 'Bearer nonsense' },
        { Authorization: `Bearer ${access}x` },
        { Authorization: `Bearer ${pair.refresh_token as string}` },
        { Authorization: `Bearer ${expired}` },
        { Authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` },
      ];
      for (const h of headers) {
        const res = await call(srv.baseUrl, '/api', { headers: h });
        expect(res.status, JSON.stringify(h)).to.equal(200);
        expect(res.body).to.deep.equal({ app: 'datarhei-core', auths: ['localjwt'], version: { number: '16.0.0' } });
      }
    });

    it('a revoked access token gets the anonymous about', async () => {
      const token = await accessToken(srv.baseUrl);
      const user = await srv.storage.users.findByUsername(username);
      await srv.auth.services.sessions.revokeAccessToken(token, user!.id);
      const res = await call(srv.baseUrl, '/api', { headers: { Authorization: `Bearer ${token}` } });
      expect(res.body).to.have.all.keys('app', 'auths', 'version');
    });
  });

  it('keeps id and created_at (the first start) across restarts and instances on the same store; uptime is per process', async () => {
    const first = manualClock(Date.parse('2026-03-01T10:00:00Z'));
    const srv = await startPresetServer({ preset: 'datarhei', clock: first });
    try {
      const access = await withAccount(srv);
      first.advance(120_000);
      const one = (await call(srv.baseUrl, '/api', { headers: { Authorization: `Bearer ${access}` } })).body;
      expect(one.uptime_seconds).to.equal(120);

      const later = manualClock(Date.parse('2026-03-02T08:30:00Z'));
      const other = await secondInstance(srv, { clock: later });
      try {
        const token = await accessToken(other.baseUrl);
        later.advance(5_000);
        const two = (await call(other.baseUrl, '/api', { headers: { Authorization: `Bearer ${token}` } })).body;
        expect(two.id).to.equal(one.id);
        expect(two.created_at).to.equal('2026-03-01T10:00:00Z');
        expect(two.uptime_seconds).to.equal(5);
      } finally {
        await other.close();
      }
    } finally {
      await srv.close();
    }
  });

  it('datarhei({ coreVersion, name, id }) sets what GET /api reports', async () => {
    const srv = await startPresetServer({ preset: datarhei({ coreVersion: '16.12.3', name: 'studio-1', id: 'core-studio-1' }) });
    try {
      const access = await withAccount(srv);
      const full = (await call(srv.baseUrl, '/api', { headers: { Authorization: `Bearer ${access}` } })).body;
      expect(full).to.include({ name: 'studio-1', id: 'core-studio-1' });
      expect((full.version as { number: string }).number).to.equal('16.12.3');
      expect((await call(srv.baseUrl, '/api')).body.version).to.deep.equal({ number: '16.0.0' });
    } finally {
      await srv.close();
    }
  });

  it("datarhei({ auth0 }) lists the Auth0 login in Core's form, the only one the Restreamer UI offers", async () => {
    const auth0 = { domain: 'studio.eu.auth0.com', audience: 'https://studio.example.com/api', clientId: 'Xy12abc' };
    const srv = await startPresetServer({ preset: datarhei({ auth0 }) });
    try {
      const entry = 'auth0 domain=studio.eu.auth0.com audience=https://studio.example.com/api clientid=Xy12abc';
      expect((await call(srv.baseUrl, '/api')).body.auths).to.deep.equal(['localjwt', entry]);
      // What the UI's Login.js does with it: split on spaces, then each pair on '='.
      const pairs = Object.fromEntries(entry.split(' ').slice(1).map((kv) => kv.split('=')));
      expect(pairs).to.deep.equal({ domain: auth0.domain, audience: auth0.audience, clientid: auth0.clientId });
    } finally {
      await srv.close();
    }
    expect(() => datarhei({ auth0: { ...auth0, audience: 'has space' } })).to.throw(TypeError, /auth0/);
    expect(() => datarhei({ auth0: { ...auth0, clientId: '' } })).to.throw(TypeError, /auth0/);
  });

  it('refuses bad options when the preset is made, saying what to set', () => {
    expect(() => datarhei({ coreVersion: 'v16' })).to.throw(TypeError, /coreVersion.*major\.minor\.patch/);
    expect(() => datarhei({ coreVersion: '16.11' })).to.throw(TypeError, /coreVersion/);
    expect(() => datarhei({ id: ' ' })).to.throw(TypeError, /id/);
    expect(() => datarhei({ name: 7 as unknown as string })).to.throw(TypeError, /name/);
  });
});
