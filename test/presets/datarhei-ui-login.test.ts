import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createAuthRouter } from 'gatehouse-auth';
import { createExampleApp } from '../../example-app/app.js';
import { claimsOf, SECRET } from '../helpers/harness.js';
import { call } from '../helpers/server.js';

/** The Core versions restreamer-ui accepts: `Core = '^16.11.0'` in its src/version.js (restreamer-ui 1.14). */
const UI_CORE_RANGE_BASE = '16.11.0';

/** Whether `version` satisfies the caret range `^base` for a base with major ≥ 1: same major, not below base. */
function satisfiesCaret(version: string, base: string): boolean {
  const parse = (v: string) => /^(\d+)\.(\d+)\.(\d+)$/.exec(v)?.slice(1).map(Number) as [number, number, number] | undefined;
  const v = parse(version);
  const b = parse(base);
  if (!v || !b) return false;
  return v[0] === b[0] && (v[1] > b[1] || (v[1] === b[1] && v[2] >= b[2]));
}

/**
 * The login sequence of datarhei's Restreamer UI (src/utils/restreamer.js: Validate, Login,
 * About, RefreshToken and its retry after a 401), replayed over HTTP against the example app
 * as `PRESET=datarhei npm run example` composes it.
 */
describe('datarhei Restreamer UI login sequence against the example app (PRESET=datarhei)', () => {
  const username = 'admin';
  const password = 'Demo-password-1';
  let dir: string;
  let server: Server;
  let base: string;
  let example: ReturnType<typeof createExampleApp>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-datarhei-ui-'));
    example = createExampleApp({ databaseFile: join(dir, 'example.sqlite'), secret: SECRET, bcryptCost: 4, preset: 'datarhei' });
    await example.auth.ready();
    await example.auth.services.accounts.signup({ email: 'admin@example.com', username, password }, { action: 'create', org: { name: 'Core', slug: 'core' } });
    server = example.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    await example.auth.close();
    await example.storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An access token of the same account that expired an hour ago, as a UI left open would hold. */
  async function expiredAccessToken(): Promise<string> {
    const past = createAuthRouter({ storage: example.storage, preset: 'datarhei', passwords: { cost: 4 }, tokens: { secret: SECRET }, clock: { now: () => Date.now() - 3_600_000 } });
    const old = await past.services.accounts.signinWithUsername(username, password);
    await past.close();
    if (old.kind !== 'tokens') throw new Error('expected tokens');
    return old.tokens.accessToken;
  }

  it('Validate → Login → About → refresh → 401, refresh and retry, as restreamer.js runs them', async () => {
    // Validate(): no token yet, so the anonymous about; an empty `id` tells the UI to show its login form.
    const anonymous = await call(base, '/api');
    expect(anonymous.status).to.equal(200);
    expect(anonymous.body).to.have.all.keys('app', 'auths', 'version');
    expect(anonymous.body).to.include({ app: 'datarhei-core' });
    expect(anonymous.body.auths).to.deep.equal(['localjwt']);

    // Login(): api.js posts JSON and expects JSON back.
    const login = await call(base, '/api/login', { json: { username, password } });
    expect(login.status).to.equal(200);
    expect(login.headers.get('content-type')).to.match(/application\/json/);
    const { access_token: access, refresh_token: refresh } = login.body as { access_token: string; refresh_token: string };
    // _setAccessToken() schedules the next refresh from `exi`.
    expect(claimsOf(access).exi).to.be.a('number').above(60);

    // About() with the Bearer token: the UI refuses an empty id ("Couldn't load API details")
    // and, in Compatibility(), a version outside its range ("incompatible core").
    const about = await call(base, '/api', { headers: { Authorization: `Bearer ${access}` } });
    expect(about.status).to.equal(200);
    expect(about.body).to.include({ app: 'datarhei-core' });
    expect(about.body.id).to.be.a('string').that.is.not.empty;
    const version = about.body.version as { number: string };
    expect(satisfiesCaret(version.number, UI_CORE_RANGE_BASE), `version ${version.number} in ^${UI_CORE_RANGE_BASE}`).to.equal(true);

    // RefreshToken(): the refresh token as Bearer on a GET.
    const renewed = await call(base, '/api/login/refresh', { headers: { Authorization: `Bearer ${refresh}` } });
    expect(renewed.status).to.equal(200);
    expect(renewed.body).to.have.all.keys('access_token');

    // _call(): a 401 on a guarded route triggers RefreshToken() and one retry with the new token.
    const stale = await expiredAccessToken();
    const refused = await call(base, '/api/v3/process', { headers: { Authorization: `Bearer ${stale}` } });
    expect(refused.status).to.equal(401);
    expect(refused.body).to.have.all.keys('code', 'message', 'details');
    const again = await call(base, '/api/login/refresh', { headers: { Authorization: `Bearer ${refresh}` } });
    expect(again.status).to.equal(200);
    const retried = await call(base, '/api/v3/process', { headers: { Authorization: `Bearer ${again.body.access_token as string}` } });
    expect(retried.status).to.equal(200);
    expect(retried.body).to.deep.equal([]);
  });

  it('answers /api/v3/ routes the example does not serve with 404 in Core’s error shape, after the guard', async () => {
    const { body } = await call(base, '/api/login', { json: { username, password } });
    const auth = { Authorization: `Bearer ${body.access_token as string}` };
    for (const [method, path] of [
      ['GET', '/api/v3/skills'],
      ['GET', '/api/v3/config'],
      ['PUT', '/api/v3/config'],
      ['POST', '/api/v3/process'],
      ['GET', '/api/v3'],
    ] as const) {
      const res = await call(base, path, { method, headers: auth });
      expect(res.status, `${method} ${path}`).to.equal(404);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(res.body).to.have.all.keys('code', 'message', 'details');
      expect(res.body.code).to.equal(404);
      expect(res.body.details).to.deep.equal(['not_found']);
      expect(res.body.message).to.include(path);
    }
    const anonymous = await call(base, '/api/v3/skills');
    expect(anonymous.status).to.equal(401);
    expect(anonymous.body.code).to.equal(401);
  });
});
