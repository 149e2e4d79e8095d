import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { unique } from './harness.js';

export const AUDIENCE = 'https://api.gatehouse.test';
export const KID = 'ext-key-1';

/** A local token issuer: an RSA key whose public half a tiny HTTP server publishes as a JWKS, counting requests. */
export interface LocalIssuer {
  /** Auth0 style, with the trailing slash; the JWKS is at `<issuer>.well-known/jwks.json`. */
  issuer: string;
  origin: string;
  requests: string[];
  down: boolean;
  sign(claims?: JWTPayload, options?: { kid?: string | null; key?: CryptoKey | Uint8Array; alg?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startLocalIssuer(): Promise<LocalIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const requests: string[] = [];
  const state = { down: false };
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (state.down) {
      res.writeHead(503).end();
    } else if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    } else {
      // Would serve keys of an attacker's choosing at any other path; it must never be asked.
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${origin}/`;
  return {
    issuer,
    origin,
    requests,
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    async sign(claims = {}, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const alg = options.alg ?? 'RS256';
      return new SignJWT({ ...claims })
        .setProtectedHeader({ alg, typ: 'JWT', ...(options.kid === null ? {} : { kid: options.kid ?? KID }) })
        .setIssuer(claims.iss ?? issuer)
        .setAudience(claims.aud ?? AUDIENCE)
        .setSubject(claims.sub ?? `auth0|${unique()}`)
        .setIssuedAt(claims.iat ?? now)
        .setExpirationTime(claims.exp ?? now + 600)
        .sign(options.key ?? privateKey);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

