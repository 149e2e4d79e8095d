import { createHmac, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { AuthError, createJwtTokenIssuer, type SignedToken, type SignInput, type TokenIssuer } from 'gatehouse-auth';
import { claimsOf, signupWithOrg, startHarness, SECRET } from '../helpers/harness.js';

/** `sign` may return a promise by the TokenIssuer contract: await it as any caller must. */
async function sign(issuer: TokenIssuer, input: SignInput): Promise<SignedToken> {
  return issuer.sign(input);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Builds a JWT by hand, HMAC-signed with `key` (or unsigned for alg none). */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, key?: string | Buffer): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  if (key === undefined) return `${input}.`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

function expectAuthError(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected AuthError ${code}`).to.be.instanceOf(AuthError);
  expect((thrown as AuthError).code).to.equal(code);
  expect((thrown as AuthError).status).to.equal(401);
}

function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe('createJwtTokenIssuer', () => {
  describe('configuration', () => {
    it('refuses a secret shorter than 32 bytes, naming tokens.secret', () => {
      expect(() => createJwtTokenIssuer({ secret: 'x'.repeat(31) })).to.throw(TypeError, /tokens\.secret/);
      expect(() => createJwtTokenIssuer({ secret: Buffer.alloc(16) })).to.throw(TypeError, /tokens\.secret.*16 bytes/);
      // Bytes, not characters: 11 × '€' is 33 bytes.
      expect(() => createJwtTokenIssuer({ secret: '€'.repeat(11) })).not.to.throw();
      expect(() => createJwtTokenIssuer({ secret: 'x'.repeat(32) })).not.to.throw();
    });

    it('refuses a missing secret', () => {
      expect(() => createJwtTokenIssuer({} as never)).to.throw(TypeError, /tokens\.secret is required/);
      expect(() => createJwtTokenIssuer({ secret: undefined } as never)).to.throw(TypeError, /tokens\.secret/);
      expect(() => createJwtTokenIssuer({ secret: 12345 } as never)).to.throw(TypeError, /tokens\.secret/);
    });

    it('refuses a key pair without kid', () => {
      const { privateKey } = rsa();
      expect(() => createJwtTokenIssuer({ algorithm: 'RS256', privateKey } as never)).to.throw(TypeError, /tokens\.kid/);
      expect(() => createJwtTokenIssuer({ algorithm: 'ES256', privateKey: ec().privateKey, kid: '' })).to.throw(TypeError, /tokens\.kid/);
    });

    it('refuses a key of the wrong type for the algorithm', () => {
      expect(() => createJwtTokenIssuer({ algorithm: 'ES256', privateKey: rsa().privateKey, kid: 'k' })).to.throw(TypeError, /ES256/);
    });
  });

  describe('HS256', () => {
    let t = Date.UTC(2030, 0, 1);
    const issuer = createJwtTokenIssuer({ secret: SECRET, clock: { now: () => t } });

    it('round trip: the claims carry iss, aud, sub, jti, iat, exp, exi and usefor', async () => {
      const signed = await sign(issuer, { usefor: 'access', sub: 'user-1', ttl: 900, claims: { org: 'org-1', role: 'admin' } });
      expect(headerOf(signed.token)).to.include({ alg: 'HS256' });
      const claims = issuer.verify(signed.token, 'access');
      expect(claims).to.include({ iss: 'gatehouse', aud: 'gatehouse', sub: 'user-1', jti: signed.jti, usefor: 'access', org: 'org-1', role: 'admin' });
      expect(claims.iat).to.equal(Math.floor(t / 1000));
      expect(claims.exp).to.equal(claims.iat + 900);
      expect(claims.exi).to.equal(900);
      expect(signed).to.include({ iat: claims.iat, exp: claims.exp });
      // A UUIDv7 led by the signing time (ms), so refresh tokens' storage keys sort by age.
      expect(signed.jti).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(signed.jti.slice(0, 8) + signed.jti.slice(9, 13), 16)).to.equal(t);
      // Every token has its own jti.
      expect((await sign(issuer, { usefor: 'access', sub: 'user-1', ttl: 900 })).jti).not.to.equal(signed.jti);
    });

    it('registered claims cannot be overridden through extra claims', async () => {
      const signed = await sign(issuer, { usefor: 'access', sub: 'user-1', ttl: 60, claims: { sub: 'root', iss: 'evil', exp: 9999999999, usefor: 'refresh' } });
      const claims = issuer.verify(signed.token, 'access');
      expect(claims).to.include({ sub: 'user-1', iss: 'gatehouse', usefor: 'access' });
      expect(claims.exp).to.equal(claims.iat + 60);
    });

    it('verify with the wrong use → invalid_token', async () => {
      const access = (await sign(issuer, { usefor: 'access', sub: 'u', ttl: 900 })).token;
      const refresh = (await sign(issuer, { usefor: 'refresh', sub: 'u', ttl: 900 })).token;
      expectAuthError(() => issuer.verify(access, 'refresh'), 'invalid_token');
      expectAuthError(() => issuer.verify(refresh, 'access'), 'invalid_token');
      expect(issuer.verify(refresh, 'refresh').usefor).to.equal('refresh');
    });

    it('expired → token_expired (per the injected clock)', async () => {
      const signed = await sign(issuer, { usefor: 'access', sub: 'u', ttl: 60 });
      t += 59_000;
      expect(issuer.verify(signed.token, 'access').sub).to.equal('u');
      t += 2_000;
      expectAuthError(() => issuer.verify(signed.token, 'access'), 'token_expired');
    });

    it('a token signed with another secret → invalid_token', async () => {
      const other = createJwtTokenIssuer({ secret: `${SECRET}-other`, clock: { now: () => t } });
      const foreign = (await sign(other, { usefor: 'access', sub: 'u', ttl: 900 })).token;
      expectAuthError(() => issuer.verify(foreign, 'access'), 'invalid_token');
    });

    it('garbage, and a tampered payload → invalid_token', async () => {
      expectAuthError(() => issuer.verify('not-a-jwt', 'access'), 'invalid_token');
      expectAuthError(() => issuer.verify('', 'access'), 'invalid_token');
      const [head, , sig] = (await sign(issuer, { usefor: 'access', sub: 'u', ttl: 900 })).token.split('.');
      const payload = b64url({ ...claimsOf((await sign(issuer, { usefor: 'access', sub: 'u', ttl: 900 })).token), sub: 'admin' });
      expectAuthError(() => issuer.verify(`${head}.${payload}.${sig}`, 'access'), 'invalid_token');
    });

    it('an alg none token is refused', async () => {
      const claims = claimsOf((await sign(issuer, { usefor: 'access', sub: 'u', ttl: 900 })).token);
      expectAuthError(() => issuer.verify(forge({ alg: 'none', typ: 'at+jwt' }, claims), 'access'), 'invalid_token');
      expectAuthError(() => issuer.verify(forge({ alg: 'NONE', typ: 'at+jwt' }, claims), 'access'), 'invalid_token');
      // The same claims HMAC-signed with the right secret pass: the refusal is about alg.
      expect(issuer.verify(forge({ alg: 'HS256', typ: 'at+jwt' }, claims, SECRET), 'access').sub).to.equal('u');
    });

    it('wrong iss or wrong aud → invalid_token', async () => {
      const clock = { now: () => t };
      const otherIss = createJwtTokenIssuer({ secret: SECRET, issuer: 'someone-else', clock });
      const otherAud = createJwtTokenIssuer({ secret: SECRET, audience: 'another-api', clock });
      const wrongIss = (await sign(otherIss, { usefor: 'access', sub: 'u', ttl: 900 })).token;
      expectAuthError(() => issuer.verify(wrongIss, 'access'), 'invalid_token');
      const wrongAud = (await sign(otherAud, { usefor: 'access', sub: 'u', ttl: 900 })).token;
      expectAuthError(() => issuer.verify(wrongAud, 'access'), 'invalid_token');
      // And the other way round.
      const ours = (await sign(issuer, { usefor: 'access', sub: 'u', ttl: 900 })).token;
      expectAuthError(() => otherAud.verify(ours, 'access'), 'invalid_token');
    });

    it('a token without jti or sub → invalid_token', () => {
      const now = Math.floor(t / 1000);
      const base = { iss: 'gatehouse', aud: 'gatehouse', iat: now, exp: now + 60, usefor: 'access' };
      expectAuthError(() => issuer.verify(forge({ alg: 'HS256', typ: 'at+jwt' }, { ...base, sub: 'u' }, SECRET), 'access'), 'invalid_token');
      expectAuthError(() => issuer.verify(forge({ alg: 'HS256', typ: 'at+jwt' }, { ...base, jti: 'j' }, SECRET), 'access'), 'invalid_token');
    });

    it('its tokens are byte for byte what jsonwebtoken makes, and tokens jsonwebtoken signed verify here', async () => {
      const signed = await sign(issuer, { usefor: 'refresh', sub: 'u', ttl: 900, claims: { sid: 'f', auth_time: 5 } });
      const claims = claimsOf(signed.token);
      expect(jwt.sign(claims, SECRET, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'refresh+jwt' } })).to.equal(signed.token);
      const theirs = jwt.sign({ ...claims, jti: 'other-jti' }, SECRET, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'refresh+jwt' } });
      expect(issuer.verify(theirs, 'refresh')).to.include({ jti: 'other-jti', sid: 'f', auth_time: 5 });
      expect(jwt.verify(signed.token, SECRET, { algorithms: ['HS256'], issuer: 'gatehouse', audience: 'gatehouse', clockTimestamp: Math.floor(t / 1000) })).to.deep.equal(claims);
    });

    it('signs every kind of token byte for byte as jsonwebtoken does, non-ASCII claims included', async () => {
      const kinds = { access: 'at+jwt', refresh: 'refresh+jwt', mfa: 'mfa+jwt', realtime: 'realtime+jwt' } as const;
      for (const [usefor, typ] of Object.entries(kinds) as Array<[keyof typeof kinds, string]>) {
        const signed = await sign(issuer, { usefor, sub: 'u', ttl: 60, claims: { name: 'Zoë € 雪', nested: { list: [1, 'two'] } } });
        const claims = claimsOf(signed.token);
        expect(claims).to.include({ name: 'Zoë € 雪', usefor });
        expect(jwt.sign(claims, SECRET, { algorithm: 'HS256', header: { alg: 'HS256', typ } }), usefor).to.equal(signed.token);
        expect(issuer.verify(signed.token, usefor)).to.deep.equal(claims);
      }
    });

    it('refuses another encoding of the same signature, extra segments, a future nbf and an aud list without ours', async () => {
      const token = (await sign(issuer, { usefor: 'access', sub: 'u', ttl: 900 })).token;
      const [head, payload, sig] = token.split('.') as [string, string, string];
      // 32 bytes are 43 base64url characters: the last one carries 2 unused bits; flipping one keeps the bytes.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const sibling = alphabet[alphabet.indexOf(sig.at(-1) as string) ^ 1] as string;
      expect(Buffer.from(`${sig.slice(0, -1)}${sibling}`, 'base64url').equals(Buffer.from(sig, 'base64url'))).to.equal(true);
      expectAuthError(() => issuer.verify(`${head}.${payload}.${sig.slice(0, -1)}${sibling}`, 'access'), 'invalid_token');
      expectAuthError(() => issuer.verify(`${token}.`, 'access'), 'invalid_token');
      expectAuthError(() => issuer.verify(`${head}..${sig}`, 'access'), 'invalid_token');
      const claims = claimsOf(token);
      const now = Math.floor(t / 1000);
      expectAuthError(() => issuer.verify(forge({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, nbf: now + 60 }, SECRET), 'access'), 'invalid_token');
      expect(issuer.verify(forge({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, nbf: now }, SECRET), 'access').sub).to.equal('u');
      expectAuthError(() => issuer.verify(forge({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, aud: ['another-api'] }, SECRET), 'access'), 'invalid_token');
      expect(issuer.verify(forge({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, aud: ['another-api', 'gatehouse'] }, SECRET), 'access').sub).to.equal('u');
      // A payload that is not a JSON object, under a valid MAC.
      const input = `${b64url({ alg: 'HS256', typ: 'at+jwt' })}.${Buffer.from('"u"').toString('base64url')}`;
      expectAuthError(() => issuer.verify(`${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`, 'access'), 'invalid_token');
    });

    it('jwks() is null for a symmetric key', () => {
      expect(issuer.jwks()).to.equal(null);
      expect(issuer.verification().algorithms).to.deep.equal(['HS256']);
    });
  });

  for (const [algorithm, generate, kty] of [
    ['RS256', rsa, 'RSA'],
    ['ES256', ec, 'EC'],
  ] as const) {
    describe(algorithm, () => {
      let pair: { privateKey: KeyObject; publicKey: KeyObject };
      let issuer: TokenIssuer;
      before(() => {
        pair = generate();
        issuer = createJwtTokenIssuer({ algorithm, privateKey: pair.privateKey, kid: `${algorithm}-key-1` });
      });

      it('signs and verifies, with kid and alg in the header', async () => {
        const signed = await sign(issuer, { usefor: 'access', sub: 'user-9', ttl: 300, claims: { org: 'o' } });
        expect(headerOf(signed.token)).to.include({ alg: algorithm, kid: `${algorithm}-key-1` });
        expect(issuer.verify(signed.token, 'access')).to.include({ sub: 'user-9', org: 'o', exi: 300 });
        // Verifiable by anyone holding the public key.
        const verified = jwt.verify(signed.token, pair.publicKey, { algorithms: [algorithm], issuer: 'gatehouse', audience: 'gatehouse' });
        expect(verified).to.include({ sub: 'user-9' });
      });

      it('verifies tokens jsonwebtoken signed with the key pair, and refuses a re-encoded signature', async () => {
        const claims = claimsOf((await sign(issuer, { usefor: 'access', sub: 'u', ttl: 300 })).token);
        const theirs = jwt.sign({ ...claims, jti: 'theirs' }, pair.privateKey, { algorithm, keyid: `${algorithm}-key-1`, header: { alg: algorithm, typ: 'at+jwt' } });
        expect(issuer.verify(theirs, 'access').jti).to.equal('theirs');
        // Standard base64 with padding decodes to the same bytes, but is not the token that was signed.
        const [head, payload, sig] = theirs.split('.') as [string, string, string];
        const reencoded = Buffer.from(sig, 'base64url').toString('base64');
        expect(reencoded).not.to.equal(sig);
        expectAuthError(() => issuer.verify(`${head}.${payload}.${reencoded}`, 'access'), 'invalid_token');
      });

      it('accepts PEM strings as well as KeyObjects', async () => {
        const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
        const fromPem = createJwtTokenIssuer({ algorithm, privateKey: pem, kid: 'pem' });
        expect(issuer.verify((await sign(fromPem, { usefor: 'access', sub: 'u', ttl: 60 })).token, 'access').sub).to.equal('u');
      });

      it('jwks() has the public JWK with kid, alg and use, and no private parts', () => {
        const jwks = issuer.jwks();
        expect(jwks).not.to.equal(null);
        expect(jwks?.keys).to.have.length(1);
        const key = jwks?.keys[0] as Record<string, unknown>;
        expect(key).to.include({ kid: `${algorithm}-key-1`, alg: algorithm, use: 'sig', kty });
        for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.to.have.property(secret);
        const fromJwk = createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
        expect(fromJwk.equals(pair.publicKey)).to.equal(true);
      });

      it('refuses a token signed by another key pair', async () => {
        const other = createJwtTokenIssuer({ algorithm, privateKey: generate().privateKey, kid: `${algorithm}-key-1` });
        const foreign = (await sign(other, { usefor: 'access', sub: 'u', ttl: 60 })).token;
        expectAuthError(() => issuer.verify(foreign, 'access'), 'invalid_token');
      });

      it('refuses an HS256 token forged with its public key, and an alg none token', async () => {
        const claims = claimsOf((await sign(issuer, { usefor: 'access', sub: 'u', ttl: 900 })).token);
        const pem = pair.publicKey.export({ format: 'pem', type: 'spki' }).toString();
        const der = pair.publicKey.export({ format: 'der', type: 'spki' });
        const jwkText = JSON.stringify(pair.publicKey.export({ format: 'jwk' }));
        for (const key of [pem, der, jwkText]) {
          expectAuthError(() => issuer.verify(forge({ alg: 'HS256', typ: 'at+jwt', kid: `${algorithm}-key-1` }, claims, key), 'access'), 'invalid_token');
        }
        expectAuthError(() => issuer.verify(forge({ alg: 'none', typ: 'at+jwt', kid: `${algorithm}-key-1` }, claims), 'access'), 'invalid_token');
      });
    });
  }

  describe('through the router', () => {
    it('with RS256, serves the JWKS and its tokens verify against it with jsonwebtoken', async () => {
      const { privateKey } = rsa();
      const h = await startHarness({ tokens: { algorithm: 'RS256', privateKey, kid: 'router-key' } });
      try {
        const res = await request(h.app).get('/auth/.well-known/jwks.json');
        expect(res.status).to.equal(200);
        expect(res.headers['content-type']).to.match(/^application\/json/);
        expect(res.body.keys).to.have.length(1);
        const jwk = res.body.keys[0];
        expect(jwk).to.include({ kid: 'router-key', alg: 'RS256', use: 'sig', kty: 'RSA' });
        expect(jwk).not.to.have.property('d');

        const u = await signupWithOrg(h.app);
        expect(headerOf(u.access)).to.include({ alg: 'RS256', kid: 'router-key' });
        const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
        const claims = jwt.verify(u.access, key, { algorithms: ['RS256'], issuer: 'gatehouse', audience: 'gatehouse' }) as jwt.JwtPayload;
        expect(claims).to.include({ sub: u.userId, org: u.orgId, role: 'owner', usefor: 'access' });
        const hello = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${u.access}`);
        expect(hello.status).to.equal(200);

        // An HS256 token forged with the published key is refused by the guard.
        const pem = key.export({ format: 'pem', type: 'spki' }).toString();
        const forged = forge({ alg: 'HS256', typ: 'at+jwt', kid: 'router-key' }, claimsOf(u.access), pem);
        const refused = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${forged}`);
        expect(refused.status).to.equal(401);
        expect(refused.body.code).to.equal('invalid_token');
      } finally {
        await h.close();
      }
    });

    it('with HS256, /.well-known/jwks.json is a 404 and alg none tokens are refused by the guard', async () => {
      const h = await startHarness();
      try {
        const res = await request(h.app).get('/auth/.well-known/jwks.json');
        expect(res.status).to.equal(404);
        expect(res.body.code).to.equal('not_found');
        expect(res.body).not.to.have.property('keys');

        const u = await signupWithOrg(h.app);
        const none = forge({ alg: 'none', typ: 'at+jwt' }, claimsOf(u.access));
        const refused = await request(h.app).get('/api/hello').set('Authorization', `Bearer ${none}`);
        expect(refused.status).to.equal(401);
        expect(refused.body.code).to.equal('invalid_token');
      } finally {
        await h.close();
      }
    });
  });
});
