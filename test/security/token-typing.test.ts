import { generateKeyPairSync } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import jwt from 'jsonwebtoken';
import { generate } from 'otplib';
import request from 'supertest';
import { claimsOf, PASSWORD, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * Issue 11 item 19: each kind of token has its own `typ` header, so a resource server
 * that verifies with the published JWKS and a generic library tells an access token
 * from a refresh, MFA or realtime token without knowing gatehouse's `usefor` claim.
 */
describe('security: token typing', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let h: Harness;
  let server: Server;
  let baseUrl: string;
  let u: SignedUp;
  let tokens: { access: string; refresh: string; mfa: string; realtime: string };

  before(async () => {
    h = await startHarness({ tokens: { algorithm: 'RS256', privateKey, kid: 'rs256-test' }, realtime: { url: 'ws://127.0.0.1:8083/mqtt' } });
    server = await new Promise<Server>((resolve) => {
      const s = h.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    u = await signupWithOrg(h.app);
    const realtime = await request(h.app).get('/auth/iot-credentials').set(bearer(u.access));
    expect(realtime.status).to.equal(200);
    // A second user with TOTP on, for an mfa_token.
    const m = await signupWithOrg(h.app);
    const setup = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(m.access));
    expect(setup.status, setup.text).to.equal(200);
    const enabled = await request(h.app).post('/auth/mfa/totp/enable').set(bearer(m.access)).send({ code: await generate({ secret: setup.body.secret }) });
    expect(enabled.status, enabled.text).to.equal(200);
    const challenged = await request(h.app).post('/auth/signin').send({ email: m.email, password: PASSWORD });
    expect(challenged.status).to.equal(403);
    tokens = { access: u.access, refresh: u.refresh, mfa: challenged.body.mfa_token, realtime: realtime.body.authToken };
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await h.close();
  });

  // The resource-server snippet of docs/tokens-and-sessions.md ("Verifying access tokens in another
  // service"), with this server's URL.
  async function verifyAccessToken(token: string): Promise<JWTPayload> {
    const jwks = createRemoteJWKSet(new URL(`${baseUrl}/auth/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, jwks, {
      issuer: 'gatehouse',
      audience: 'gatehouse',
      algorithms: ['RS256'],
      typ: 'at+jwt',
    });
    return payload;
  }

  it('item 19: jose.jwtVerify with the published JWKS and typ at+jwt accepts an access token and refuses refresh, mfa and realtime tokens', async () => {
    expect((await verifyAccessToken(tokens.access)).sub).to.equal(u.userId);
    for (const kind of ['refresh', 'mfa', 'realtime'] as const) {
      const token = tokens[kind];
      // Same issuer, audience and key: only the type tells them apart.
      expect(claimsOf(token), kind).to.include({ iss: 'gatehouse', usefor: kind });
      let error: unknown;
      try {
        await verifyAccessToken(token);
      } catch (err) {
        error = err;
      }
      expect(error, kind).to.include({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'typ' });
    }
    expect(Object.fromEntries(Object.entries(tokens).map(([kind, token]) => [kind, decodeProtectedHeader(token).typ]))).to.deep.equal({
      access: 'at+jwt',
      refresh: 'refresh+jwt',
      mfa: 'mfa+jwt',
      realtime: 'realtime+jwt',
    });
  });

  it('item 19: gatehouse checks typ too: right claims and signature under another typ are refused', async () => {
    const retyped = (token: string, typ: string) => jwt.sign(claimsOf(token), privateKey, { algorithm: 'RS256', keyid: 'rs256-test', header: { alg: 'RS256', typ } });
    for (const typ of ['JWT', 'refresh+jwt']) {
      const hello = await request(h.app).get('/api/hello').set(bearer(retyped(tokens.access, typ)));
      expect(hello.status, typ).to.equal(401);
      expect(hello.body.code).to.equal('invalid_token');
    }
    const refresh = await request(h.app).post('/auth/refresh').send({ refresh_token: retyped(tokens.refresh, 'at+jwt') });
    expect(refresh.status).to.equal(401);
    expect(refresh.body.code).to.equal('invalid_token');
    // The same claims re-signed with their own type pass: the refusals are about typ.
    expect((await request(h.app).get('/api/hello').set(bearer(retyped(tokens.access, 'at+jwt')))).status).to.equal(200);
  });
});
