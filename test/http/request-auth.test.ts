import { IncomingMessage } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { setRequestAuth } from '../../src/http/request-auth.js';
import type { AuthContext } from '../../src/http/auth-context.js';
import { signupWithOrg, startHarness, type Harness } from '../helpers/harness.js';

// req.auth is an accessor on Express's shared request prototype (src/http/request-auth.ts):
// what a host sees of it must be what an own property gave.
describe('req.auth as the host sees it', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('holds each request its own credentials, with requests of two users in flight at once', async () => {
    const [a, b] = await Promise.all([signupWithOrg(h.app), signupWithOrg(h.app)]);
    // Each request waits until the other has been guarded too, so both values are set at the same time.
    let arrived = 0;
    let release!: () => void;
    const bothIn = new Promise<void>((resolve) => (release = resolve));
    h.app.get('/api/held', h.auth.requireAuth(), async (req, res) => {
      if (++arrived === 2) release();
      await bothIn;
      res.json({ userId: req.auth?.userId, orgId: req.auth?.orgId });
    });
    const ask = (access: string) => request(h.app).get('/api/held').set('Authorization', `Bearer ${access}`);
    const [ra, rb] = await Promise.all([ask(a.access), ask(b.access)]);
    expect(ra.body).to.deep.equal({ userId: a.userId, orgId: a.orgId });
    expect(rb.body).to.deep.equal({ userId: b.userId, orgId: b.orgId });
    // And a request that was not guarded has none.
    h.app.get('/api/open', (req, res) => res.json({ auth: req.auth ?? null }));
    expect((await request(h.app).get('/api/open')).body).to.deep.equal({ auth: null });
  });

  it('can be changed by a handler, and the next handler sees the change', async () => {
    const u = await signupWithOrg(h.app);
    h.app.get(
      '/api/changed',
      h.auth.requireAuth(),
      (req, _res, next) => {
        req.auth = { ...req.auth!, role: 'member' };
        next();
      },
      (req, res) => res.json({ role: req.auth?.role, userId: req.auth?.userId }),
    );
    const res = await request(h.app).get('/api/changed').set('Authorization', `Bearer ${u.access}`);
    expect(res.body).to.deep.equal({ role: 'member', userId: u.userId });
  });

  it('is still set in the parent app after a guard inside a mounted app passes the request on', async () => {
    const u = await signupWithOrg(h.app);
    const sub = express();
    sub.use(h.auth.requireAuth());
    const parent = express();
    parent.use('/auth', h.auth);
    parent.use('/sub', sub);
    parent.get('/sub/after', (req, res) => res.json({ userId: req.auth?.userId ?? null }));
    const res = await request(parent).get('/sub/after').set('Authorization', `Bearer ${u.access}`);
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ userId: u.userId });
  });

  it('leaves what another middleware set before the guard to be replaced, and Node’s own request prototype untouched', async () => {
    const u = await signupWithOrg(h.app);
    h.app.get(
      '/api/replaced',
      (req, _res, next) => {
        req.auth = { userId: 'someone-else' } as never;
        next();
      },
      h.auth.requireAuth(),
      (req, res) => res.json({ userId: req.auth?.userId }),
    );
    const res = await request(h.app).get('/api/replaced').set('Authorization', `Bearer ${u.access}`);
    expect(res.body).to.deep.equal({ userId: u.userId });
    expect(Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'auth')).to.equal(undefined);
  });

  it('keeps an own property on requests whose prototype cannot take the accessor, or that are no IncomingMessage', () => {
    const auth = { userId: 'u1', orgId: null, role: null, tokenId: 't', via: 'jwt', sessionId: undefined, expiresAt: 1 } satisfies AuthContext;
    const frozen = Object.freeze(Object.create(IncomingMessage.prototype) as object);
    const onFrozen = Object.create(frozen) as express.Request;
    setRequestAuth(onFrozen, auth);
    expect(Object.getOwnPropertyDescriptor(onFrozen, 'auth')?.value).to.equal(auth);
    const plain = {} as express.Request;
    setRequestAuth(plain, auth);
    expect(Object.getOwnPropertyDescriptor(plain, 'auth')?.value).to.equal(auth);
    expect(Object.getOwnPropertyDescriptor(Object.prototype, 'auth')).to.equal(undefined);
  });
});
