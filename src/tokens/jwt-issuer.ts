import { createHmac, createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AuthError } from '../errors.js';
import { timeOrderedId } from './token-ids.js';
import type { Clock, SignInput, SignedToken, TokenClaims, TokenIssuer, TokenUse } from '../ports.js';

export type SymmetricAlgorithm = 'HS256';
export type AsymmetricAlgorithm = 'RS256' | 'ES256';

interface CommonJwtOptions {
  /** `iss` of every token; verification requires it. Default 'gatehouse'. */
  issuer?: string;
  /**
   * `aud` of every token; verification requires it. Default 'gatehouse'. `null` leaves
   * `aud` out (for wire contracts whose clients expect an exact claim set).
   */
  audience?: string | null;
  clock?: Clock;
}

export interface HmacJwtOptions extends CommonJwtOptions {
  algorithm?: SymmetricAlgorithm;
  /** At least 32 bytes. A shorter secret is refused at startup. */
  secret: string | Buffer;
}

export interface KeyPairJwtOptions extends CommonJwtOptions {
  algorithm: AsymmetricAlgorithm;
  /** PEM string or KeyObject. */
  privateKey: string | KeyObject;
  /** Derived from the private key when omitted. */
  publicKey?: string | KeyObject;
  /** Key id, put in every token header and in the JWKS. */
  kid: string;
}

export type JwtIssuerOptions = HmacJwtOptions | KeyPairJwtOptions;

export const MIN_SECRET_BYTES = 32;

/**
 * The `typ` header of each kind of token (RFC 8725 §3.11). Access tokens use `at+jwt`
 * (RFC 9068), so a resource server that checks `typ` with a generic JWT library refuses
 * the other kinds, which share the issuer, audience and keys but not the purpose.
 */
export const TOKEN_TYPES: Readonly<Record<TokenUse, string>> = {
  access: 'at+jwt',
  refresh: 'refresh+jwt',
  mfa: 'mfa+jwt',
  realtime: 'realtime+jwt',
};

function toKeyObject(key: string | KeyObject, make: (k: string) => KeyObject): KeyObject {
  return typeof key === 'string' ? make(key) : key;
}

/**
 * The default TokenIssuer, on jsonwebtoken. Keys are turned into KeyObjects once:
 * jsonwebtoken otherwise rebuilds a key from a string secret on every verify, which
 * would dominate the cost of a guarded request.
 */
export function createJwtTokenIssuer(options: JwtIssuerOptions): TokenIssuer {
  const issuer = options.issuer ?? 'gatehouse';
  const audience = options.audience === null ? undefined : (options.audience ?? 'gatehouse');
  const clock = options.clock ?? { now: () => Date.now() };

  let algorithm: SymmetricAlgorithm | AsymmetricAlgorithm;
  let signingKey: KeyObject;
  let verifyKey: KeyObject;
  let kid: string | undefined;

  if ('privateKey' in options && options.privateKey !== undefined) {
    if (options.algorithm !== 'RS256' && options.algorithm !== 'ES256') {
      throw new TypeError(`tokens.algorithm must be 'RS256' or 'ES256' with a key pair (got ${String(options.algorithm)})`);
    }
    if (!options.kid) throw new TypeError('tokens.kid is required with a key pair: it names the key in the JWKS');
    algorithm = options.algorithm;
    signingKey = toKeyObject(options.privateKey, (k) => createPrivateKey(k));
    verifyKey = options.publicKey ? toKeyObject(options.publicKey, (k) => createPublicKey(k)) : createPublicKey(signingKey);
    const expectedType = algorithm === 'RS256' ? 'rsa' : 'ec';
    if (signingKey.asymmetricKeyType !== expectedType) {
      throw new TypeError(`tokens.privateKey is a ${String(signingKey.asymmetricKeyType)} key; ${algorithm} needs an ${expectedType} key`);
    }
    kid = options.kid;
  } else {
    const { secret } = options as HmacJwtOptions;
    if (options.algorithm !== undefined && options.algorithm !== 'HS256') {
      throw new TypeError(`tokens.algorithm ${String(options.algorithm)} needs privateKey and kid; with a secret only HS256 is allowed`);
    }
    if (secret === undefined || secret === null || (typeof secret !== 'string' && !Buffer.isBuffer(secret))) {
      throw new TypeError('tokens.secret is required: set it to a random string of at least 32 bytes (for example `openssl rand -base64 48`)');
    }
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new TypeError(`tokens.secret is ${bytes.length} bytes; it must be at least ${MIN_SECRET_BYTES} bytes (for example \`openssl rand -base64 48\`)`);
    }
    algorithm = 'HS256';
    signingKey = createSecretKey(bytes);
    verifyKey = signingKey;
  }

  // One options object per kind of token, built once: `header` sets its `typ`.
  const signOptions = {} as Record<TokenUse, jwt.SignOptions>;
  for (const use of Object.keys(TOKEN_TYPES) as TokenUse[]) {
    signOptions[use] = { algorithm, ...(kid === undefined ? {} : { keyid: kid }), header: { alg: algorithm, typ: TOKEN_TYPES[use] } };
  }
  const jwks = kid === undefined ? null : { keys: [{ ...verifyKey.export({ format: 'jwk' }), kid, alg: algorithm, use: 'sig' }] };
  // HS256 is signed here rather than by jwt.sign: the header of each kind is encoded once,
  // and what jsonwebtoken adds per call (option and claim validation, a payload copy, jws's
  // string handling) was about half the cost of a token. The bytes are the same as jwt.sign's.
  const hmacKey = algorithm === 'HS256' ? signingKey : undefined;
  const encodedHeaders = {} as Record<TokenUse, string>;
  for (const use of Object.keys(TOKEN_TYPES) as TokenUse[]) {
    encodedHeaders[use] = Buffer.from(JSON.stringify({ alg: algorithm, typ: TOKEN_TYPES[use] }), 'utf8').toString('base64url');
  }

  return {
    sign(input: SignInput): SignedToken {
      const now = clock.now();
      const iat = Math.floor(now / 1000);
      const exp = iat + input.ttl;
      const jti = timeOrderedId(now);
      // Built by assignment, not object spread: V8 gives a spread-built object a shape that
      // JSON.stringify (inside jwt.sign) handles about 15 times slower, ~12 µs per token.
      const payload: Record<string, unknown> = Object.assign({}, input.claims);
      payload.sub = input.sub;
      payload.usefor = input.usefor;
      payload.iss = issuer;
      if (audience !== undefined) payload.aud = audience;
      payload.iat = iat;
      payload.exp = exp;
      payload.exi = input.ttl;
      payload.jti = jti;
      let token: string;
      if (hmacKey === undefined) token = jwt.sign(payload, signingKey, signOptions[input.usefor]);
      else {
        const signingInput = `${encodedHeaders[input.usefor]}.${Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')}`;
        token = `${signingInput}.${createHmac('sha256', hmacKey).update(signingInput, 'utf8').digest('base64url')}`;
      }
      return { token, jti, iat, exp };
    },

    verify(token: string, use: TokenUse): TokenClaims {
      let decoded: jwt.Jwt;
      try {
        decoded = jwt.verify(token, verifyKey, {
          algorithms: [algorithm],
          issuer,
          ...(audience === undefined ? {} : { audience }),
          clockTimestamp: Math.floor(clock.now() / 1000),
          complete: true,
        });
      } catch (err) {
        if (err instanceof jwt.TokenExpiredError) throw new AuthError('token_expired', 'the token has expired');
        throw new AuthError('invalid_token', 'the token is malformed, has a bad signature or wrong claims');
      }
      const claims = decoded.payload;
      if (typeof claims === 'string' || typeof claims.exp !== 'number' || typeof claims.jti !== 'string' || typeof claims.sub !== 'string') {
        throw new AuthError('invalid_token', 'the token lacks required claims');
      }
      // Both checks: `typ` is what other JWT libraries can see, `usefor` what tokens of a custom issuer may only carry.
      if (decoded.header.typ !== TOKEN_TYPES[use] || claims.usefor !== use) {
        throw new AuthError('invalid_token', `the token is not meant for this use (expected typ "${TOKEN_TYPES[use]}" and usefor "${use}")`);
      }
      return claims as TokenClaims;
    },

    jwks: () => jwks,

    verification: () => ({ key: verifyKey, algorithms: [algorithm], issuer, audience, accessTokenType: TOKEN_TYPES.access }),
  };
}
