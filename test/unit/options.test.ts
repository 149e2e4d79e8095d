import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { createAuthRouter, type AuthRouterOptions } from 'gatehouse-auth';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { claimsOf, SECRET, signupWithOrg, startHarness } from '../helpers/harness.js';
import { tokenIdKey } from '../../src/tokens/token-ids.js';

describe('createAuthRouter options', () => {
  let dir: string;
  let storage: KnexStorage;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-options-'));
    storage = createKnexStorage({ filename: join(dir, 'auth.sqlite') });
  });
  after(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const make = (overrides: Partial<AuthRouterOptions> | Record<string, unknown>) =>
    createAuthRouter({ storage, tokens: { secret: SECRET }, passwords: { cost: 4 }, logger: { warn: () => {}, error: () => {} }, ...overrides } as AuthRouterOptions);

  /** Expects a TypeError whose message matches every pattern. */
  function expectTypeError(fn: () => unknown, ...patterns: RegExp[]): void {
    let thrown: unknown;
    try {
      fn();
    } catch (err) {
      thrown = err;
    }
    expect(thrown, 'expected a TypeError').to.be.instanceOf(TypeError);
    for (const p of patterns) expect((thrown as TypeError).message).to.match(p);
  }

  it('accepts valid options (the baseline the other cases change one thing of)', () => {
    const auth = make({});
    expect(auth.requireAuth).to.be.a('function');
    auth.close();
  });

  it('permissions and rolePermissions: bad names, duplicates, unknown roles and names outside the vocabulary throw', () => {
    expect(make({ permissions: ['projects:read', 'billing.v2:manage'], rolePermissions: { admin: '*', member: ['projects:read'] } }).requireAuth).to.be.a('function');
    expectTypeError(() => make({ permissions: 'projects:read' }), /options\.permissions must be an array/);
    expectTypeError(() => make({ permissions: ['projects'] }), /options\.permissions\[0\]/, /"projects"/);
    expectTypeError(() => make({ permissions: ['projects:read', 'has space:x'] }), /options\.permissions\[1\]/);
    expectTypeError(() => make({ permissions: [42] }), /options\.permissions\[0\]/);
    expectTypeError(() => make({ permissions: ['a:b', 'a:b'] }), /lists "a:b" twice/);
    expectTypeError(() => make({ permissions: ['a:b'], rolePermissions: ['a:b'] }), /options\.rolePermissions must be an object/);
    expectTypeError(() => make({ permissions: ['a:b'], rolePermissions: { editor: ['a:b'] } }), /rolePermissions\.editor is not a role/);
    expectTypeError(() => make({ permissions: ['a:b'], rolePermissions: { member: ['a:c'] } }), /rolePermissions\.member names "a:c", which is not in options\.permissions/);
    expectTypeError(() => make({ rolePermissions: { admin: ['a:b'] } }), /rolePermissions\.admin names "a:b"/);
    expectTypeError(() => make({ permissions: ['a:b'], rolePermissions: { owner: 'all' } }), /rolePermissions\.owner must be '\*' or an array/);
  });

  it('throws without options', () => {
    expectTypeError(() => createAuthRouter(undefined as never), /options/);
  });

  it('throws without storage, or with something that is not a storage adapter', () => {
    expectTypeError(() => make({ storage: undefined }), /options\.storage is required/);
    expectTypeError(() => make({ storage: {} }), /options\.storage/);
    expectTypeError(() => make({ storage: { users: {} } }), /options\.storage/);
  });

  it('throws without tokens', () => {
    expectTypeError(() => make({ tokens: undefined }), /options\.tokens is required/);
    expectTypeError(() => make({ tokens: 'secret' }), /options\.tokens/);
  });

  it('throws on a short or missing secret, naming tokens.secret', () => {
    expectTypeError(() => make({ tokens: { secret: 'too-short' } }), /tokens\.secret/, /32 bytes/);
    expectTypeError(() => make({ tokens: {} }), /tokens\.secret/);
    expectTypeError(() => make({ tokens: { accessTtl: '15m' } }), /tokens\.secret/);
  });

  it('throws when refreshTtl is not longer than accessTtl', () => {
    expectTypeError(() => make({ tokens: { secret: SECRET, accessTtl: '1h', refreshTtl: '1h' } }), /tokens\.refreshTtl/, /tokens\.accessTtl/);
    expectTypeError(() => make({ tokens: { secret: SECRET, accessTtl: '2h', refreshTtl: '30m' } }), /tokens\.refreshTtl/);
    expectTypeError(() => make({ tokens: { secret: SECRET, accessTtl: 3600, refreshTtl: '60m' } }), /tokens\.refreshTtl/);
  });

  it('throws when sessionMaxAge is shorter than refreshTtl', () => {
    expectTypeError(() => make({ tokens: { secret: SECRET, refreshTtl: '14d', sessionMaxAge: '13d' } }), /tokens\.sessionMaxAge/, /tokens\.refreshTtl/);
    // The default sessionMaxAge (30d) is shorter than a 60d refreshTtl.
    expectTypeError(() => make({ tokens: { secret: SECRET, refreshTtl: '60d' } }), /tokens\.sessionMaxAge/);
    // Equal is allowed.
    make({ tokens: { secret: SECRET, refreshTtl: '20d', sessionMaxAge: '20d' } }).close();
  });

  it('throws on bad durations, naming the option', () => {
    for (const bad of ['10x', -1, 0, '', '15', 'm', '-5m', '1.5.5h', ' 15m', Number.NaN, Number.POSITIVE_INFINITY, '0s']) {
      expectTypeError(() => make({ tokens: { secret: SECRET, accessTtl: bad } }), /tokens\.accessTtl/);
    }
    expectTypeError(() => make({ tokens: { secret: SECRET, refreshTtl: '10x' } }), /tokens\.refreshTtl/);
    expectTypeError(() => make({ tokens: { secret: SECRET, sessionMaxAge: 0 } }), /tokens\.sessionMaxAge/);
    expectTypeError(() => make({ invitations: { ttl: '7days' } }), /invitations\.ttl/);
    expectTypeError(() => make({ invitations: { maxTtl: -1 } }), /invitations\.maxTtl/);
    expectTypeError(() => make({ revocation: { pollInterval: '5 s' } }), /revocation\.pollInterval/);
    expectTypeError(() => make({ revocation: { maxStaleness: 0 } }), /revocation\.maxStaleness/);
  });

  it('throws when maxStaleness is not longer than pollInterval', () => {
    expectTypeError(() => make({ revocation: { pollInterval: '10s', maxStaleness: '10s' } }), /revocation\.maxStaleness/, /revocation\.pollInterval/);
    expectTypeError(() => make({ revocation: { pollInterval: '2m', maxStaleness: '60s' } }), /revocation\.maxStaleness/);
    make({ revocation: { pollInterval: '10s', maxStaleness: '11s' } }).close();
  });

  it('throws when invitations.ttl exceeds invitations.maxTtl', () => {
    expectTypeError(() => make({ invitations: { ttl: '31d' } }), /invitations\.ttl/);
  });

  it('throws on an unknown emailVerification mode or a bad mail token lifetime, naming the option', () => {
    expectTypeError(() => make({ emailVerification: 'always' as never }), /emailVerification/);
    expectTypeError(() => make({ mailTokens: { resetPasswordTtl: '30 minutes' } }), /mailTokens\.resetPasswordTtl/);
  });

  it("throws on an invalid bcrypt cost, naming passwords.cost", () => {
    expectTypeError(() => make({ passwords: { cost: 3 } }), /passwords\.cost/);
  });

  it('accepts duration strings: accessTtl 15m, refreshTtl 2h, sessionMaxAge 30d show in the token claims', async () => {
    const h = await startHarness({ tokens: { secret: SECRET, accessTtl: '15m', refreshTtl: '2h', sessionMaxAge: '30d' } });
    try {
      const u = await signupWithOrg(h.app);
      const access = claimsOf(u.access);
      expect(access.exi).to.equal(15 * 60);
      expect((access.exp as number) - (access.iat as number)).to.equal(15 * 60);
      const refresh = claimsOf(u.refresh);
      expect(refresh.exi).to.equal(2 * 3600);
      const row = await h.storage.refreshTokens.find(tokenIdKey(refresh.jti as string));
      expect(row?.familyExpiresAt).to.be.within(Date.now() + 30 * 86400_000 - 60_000, Date.now() + 30 * 86400_000);
      expect(row?.expiresAt).to.equal((refresh.exp as number) * 1000);
    } finally {
      await h.close();
    }
  });

  it('accepts other units and plain seconds: accessTtl 2h → exi 7200, 90 → exi 90', async () => {
    for (const [accessTtl, seconds] of [
      ['2h', 7200],
      [90, 90],
      ['45s', 45],
    ] as const) {
      const h = await startHarness({ tokens: { secret: SECRET, accessTtl, refreshTtl: '30d', sessionMaxAge: '30d' } });
      try {
        const u = await signupWithOrg(h.app);
        expect(claimsOf(u.access).exi, String(accessTtl)).to.equal(seconds);
        expect(claimsOf(u.refresh).exi).to.equal(30 * 86400);
        expect((await request(h.app).get('/api/hello').set('Authorization', `Bearer ${u.access}`)).status).to.equal(200);
      } finally {
        await h.close();
      }
    }
  });
});
