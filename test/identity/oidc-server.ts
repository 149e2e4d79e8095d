import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import type Provider from 'oidc-provider';

export const CLIENT_ID = 'gatehouse-test-client';
export const CLIENT_SECRET = 'test-client-secret-0123456789abcdefghij';
// Never followed: the helper reads the code off the Location header.
export const REDIRECT_URI = 'https://app.example.test/oauth/callback';
export const SIGNING_KID = 'test-signing-key';

/** Claims the provider reports for a subject; set per test. */
export interface TestAccount {
  email: string;
  email_verified: boolean;
  given_name?: string;
  family_name?: string;
}

export interface AuthorizeOptions {
  /** The account that logs in (must be in `accounts`). */
  sub: string;
  /** Default: a random nonce; null sends none. */
  nonce?: string | null;
  /** Default true: send an S256 code challenge and return the verifier. */
  pkce?: boolean;
  redirectUri?: string;
}

export interface AuthorizeResult {
  code: string;
  codeVerifier: string | undefined;
  nonce: string | undefined;
}

export interface OidcTestServer {
  issuer: string;
  accounts: Map<string, TestAccount>;
  /** The provider's signing key (private JWK), to sign ID tokens of our own in tests. */
  signingJwk: JWK;
  /** Requests per path, e.g. '/.well-known/openid-configuration'. */
  requests: Map<string, number>;
  /** While true every request gets 503, as if the provider were down. */
  down: boolean;
  /** Drives a full authorization code flow over HTTP and returns the code. */
  authorize(options: AuthorizeOptions): Promise<AuthorizeResult>;
  /** Redeems a code at the token endpoint as the client would, returning the ID token. */
  redeem(code: string, codeVerifier?: string): Promise<string>;
  /** Signs an ID token with the provider's key (or another), defaults filled in. */
  signIdToken(claims: JWTPayload, options?: { key?: JWK; kid?: string; alg?: string }): Promise<string>;
  close(): Promise<void>;
}

const base64url = (buf: Buffer) => buf.toString('base64url');

/** A cookie jar for one user agent: the latest value of each cookie, sent to every path. */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=.*1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * A real, certified OpenID Provider (oidc-provider) on 127.0.0.1 with one confidential
 * client, accounts the tests control and short-lived codes. Interactions (login and
 * consent) are answered by a handler of ours on the same server with
 * `interactionResult`, logging in the account named in `login_hint`.
 */
/**
 * oidc-provider 9 asks for Node 22 and prints "Unsupported runtime" when imported on
 * Node 20, our minimum, where these suites pass: that one line is dropped, no other.
 */
async function loadProvider(): Promise<typeof Provider> {
  const { warn } = console;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
    warn(...args);
  };
  try {
    return (await import('oidc-provider')).default;
  } finally {
    console.warn = warn;
  }
}

export async function startOidcServer(): Promise<OidcTestServer> {
  const Provider = await loadProvider();
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingJwk: JWK = { ...(await exportJWK(privateKey)), kid: SIGNING_KID, alg: 'RS256', use: 'sig' };
  const accounts = new Map<string, TestAccount>();
  const requests = new Map<string, number>();
  // Set once the server listens: the issuer URL needs its port.
  const late: { provider?: Provider; handle?: (req: IncomingMessage, res: ServerResponse) => void } = {};

  const state = { down: false };

  async function interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const p = late.provider as Provider;
    const details = await p.interactionDetails(req, res);
    let result: Record<string, unknown>;
    if (details.prompt.name === 'login') {
      result = { login: { accountId: String(details.params.login_hint) } };
    } else {
      const grant = new p.Grant({ accountId: details.session?.accountId ?? '', clientId: String(details.params.client_id) });
      grant.addOIDCScope(String(details.params.scope));
      const claims = details.prompt.details.missingOIDCClaims;
      if (Array.isArray(claims)) grant.addOIDCClaims(claims as string[]);
      result = { consent: { grantId: await grant.save() } };
    }
    const returnTo = await p.interactionResult(req, res, result, { mergeWithLastSubmission: false });
    res.writeHead(303, { Location: returnTo, 'Content-Length': '0' }).end();
  }

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (state.down) {
      res.writeHead(503).end();
      return;
    }
    if (path.startsWith('/interaction/')) {
      interaction(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(err));
      });
      return;
    }
    late.handle?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    async findAccount(_ctx: unknown, sub: string) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...account }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
    // Put the scope's claims into the ID token itself, as Google does.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    jwks: { keys: [signingJwk] },
    ttl: { AuthorizationCode: 30, IdToken: 300, AccessToken: 300, Interaction: 300, Session: 300, Grant: 300 },
  });
  // Koa reports errors it handled (bad codes in negative tests) on stderr unless told otherwise.
  provider.on('server_error', () => {});
  late.provider = provider;
  late.handle = provider.callback();

  async function authorize(options: AuthorizeOptions): Promise<AuthorizeResult> {
    const jar = new CookieJar();
    const nonce = options.nonce === null ? undefined : (options.nonce ?? base64url(randomBytes(16)));
    const codeVerifier = options.pkce === false ? undefined : base64url(randomBytes(32));
    const redirectUri = options.redirectUri ?? REDIRECT_URI;
    const url = new URL('/auth', issuer);
    url.search = new URLSearchParams({
      client_id: CLIENT_ID,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid email profile',
      login_hint: options.sub,
      ...(nonce === undefined ? {} : { nonce }),
      ...(codeVerifier === undefined
        ? {}
        : { code_challenge: base64url(createHash('sha256').update(codeVerifier).digest()), code_challenge_method: 'S256' }),
    }).toString();

    let next = url.href;
    for (let hop = 0; hop < 12; hop += 1) {
      const res = await fetch(next, { redirect: 'manual', headers: { cookie: jar.header() } });
      jar.store(res);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || location === null) {
        throw new Error(`authorization flow stopped at ${next}: ${res.status} ${await res.text()}`);
      }
      const target = new URL(location, next);
      if (target.href.startsWith(redirectUri)) {
        const error = target.searchParams.get('error');
        if (error) throw new Error(`authorization failed: ${error} ${target.searchParams.get('error_description') ?? ''}`);
        const code = target.searchParams.get('code');
        if (!code) throw new Error(`no code in ${target.href}`);
        return { code, codeVerifier, nonce };
      }
      next = target.href;
    }
    throw new Error('authorization flow did not reach the redirect URI');
  }

  async function redeem(code: string, codeVerifier?: string): Promise<string> {
    const res = await fetch(new URL('/token', issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT_URI,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        ...(codeVerifier === undefined ? {} : { code_verifier: codeVerifier }),
      }),
    });
    const body = (await res.json()) as { id_token?: string };
    if (!res.ok || !body.id_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
    return body.id_token;
  }

  async function signIdToken(claims: JWTPayload, options: { key?: JWK; kid?: string; alg?: string } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const alg = options.alg ?? 'RS256';
    const key = await importJWK(options.key ?? signingJwk, alg);
    return new SignJWT({ email_verified: true, ...claims })
      .setProtectedHeader({ alg, kid: options.kid ?? SIGNING_KID, typ: 'JWT' })
      .setIssuer(typeof claims.iss === 'string' ? claims.iss : issuer)
      .setAudience(claims.aud ?? CLIENT_ID)
      .setIssuedAt(claims.iat ?? now)
      .setExpirationTime(claims.exp ?? now + 300)
      .setSubject(claims.sub ?? 'signed-subject')
      .sign(key);
  }

  return {
    issuer,
    accounts,
    signingJwk,
    requests,
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    authorize,
    redeem,
    signIdToken,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
