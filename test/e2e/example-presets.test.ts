import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startInstance, type Instance } from '../helpers/instances.js';
import { call } from '../helpers/server.js';

/** `PRESET=<name> npm run example` with a demo account, as docs/presets.md shows, in a real process. */
describe('the example app with PRESET and DEMO_*', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-example-preset-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const env = (preset: string, extra: Record<string, string> = {}) => ({
    PRESET: preset,
    AUTH_DATABASE: join(dir, `${preset}.sqlite`),
    AUTH_SECRET: 'example-preset-test-secret-long-enough-0123456789',
    BCRYPT_COST: '4',
    DEMO_EMAIL: 'demo@example.com',
    DEMO_USERNAME: 'admin',
    DEMO_PASSWORD: 'Demo-password-1',
    ...extra,
  });

  it('datarhei: the demo account logs in at /api/login and calls /api/v3/', async () => {
    const instance: Instance = await startInstance(env('datarhei'));
    try {
      const login = await call(instance.url, '/api/login', { json: { username: 'admin', password: 'Demo-password-1' } });
      expect(login.status, instance.output()).to.equal(200);
      const guarded = await call(instance.url, '/api/v3/process', { headers: { Authorization: `Bearer ${login.body.access_token}` } });
      expect(guarded.status).to.equal(200);
    } finally {
      await instance.stop();
    }
  });

  it('axonize: DEMO_APP_URL registers an application, logs its appId, and the demo account signs in to it', async () => {
    const instance = await startInstance(env('axonize', { DEMO_APP_URL: 'demoapp.example.com' }));
    try {
      const appId = /appId ([0-9a-f-]{36})/.exec(instance.output())?.[1];
      expect(appId, instance.output()).to.be.a('string');
      const byHeader = await call(instance.url, '/api/auth/login', { json: { email: 'demo@example.com', password: 'Demo-password-1' }, headers: { appId: appId! } });
      expect(byHeader.status).to.equal(200);
      expect(byHeader.body).to.have.all.keys('name', 'token', 'redirectUrl');
      const byUrl = await call(instance.url, '/api/auth/login', { json: { email: 'demo@example.com', password: 'Demo-password-1', url: 'https://demoapp.example.com/' } });
      expect(byUrl.status).to.equal(200);
    } finally {
      await instance.stop();
    }
  });

  it('cognito: sign-up and login on /auth/*', async () => {
    const instance = await startInstance(env('cognito'));
    try {
      const signup = await call(instance.url, '/auth/signup', { json: { email: 'user@example.com', password: 'SecurePass1!', firstName: 'John', lastName: 'Doe' } });
      expect(signup.status, instance.output()).to.equal(200);
      const login = await call(instance.url, '/auth/login', { json: { email: 'user@example.com', password: 'SecurePass1!' } });
      expect(login.body).to.include.keys('idToken', 'accessToken', 'refreshToken', 'apiKey');
    } finally {
      await instance.stop();
    }
  });
});
