import type { Request } from 'express';
import type { TokenPair } from '../core/sessions.js';
import { AuthError } from '../errors.js';
import type { DocumentedParameter, Reply } from './endpoint.js';
import { cookieSessionView, pairView } from './views.js';

/** The `cookies` router option: `true` for the defaults. */
export interface CookieOptions {
  /** Name of the refresh-token cookie. Default 'gatehouse_refresh'. */
  name?: string;
  /** 'strict' (default) or 'lax'. */
  sameSite?: 'strict' | 'lax';
  /**
   * Origins (`https://app.example.com`) whose requests may use the cookie when they send an
   * `Origin` header. Default: only the router's own origin (Host and protocol of the request).
   * A list replaces that default: include the API's own origin when pages served there call it too.
   */
  allowedOrigins?: string[];
}

/** The resolved `cookies` option. */
export interface CookieConfig {
  name: string;
  sameSite: 'Strict' | 'Lax';
  /** Normalized origins, or null for the request's own origin. */
  allowedOrigins: string[] | null;
}

/** The header a client sends to have its refresh token kept in a cookie. */
export const TRANSPORT_HEADER = 'X-Auth-Transport';

// RFC 6265 cookie-name (a token) and the characters a cookie value may hold unquoted.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const COOKIE_VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;

function normalizeOrigin(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url.origin;
}

/** Checks the `cookies` option; null when cookies are off. Throws a TypeError that says what to set. */
export function resolveCookieOptions(value: CookieOptions | boolean | undefined, presetName: string, presetServesCookies: boolean): CookieConfig | null {
  if (value === undefined || value === false) return null;
  if (value !== true && (typeof value !== 'object' || value === null)) throw new TypeError('options.cookies must be true or an object { name?, sameSite?, allowedOrigins? }');
  if (!presetServesCookies) {
    throw new TypeError(`options.cookies: the ${JSON.stringify(presetName)} preset has refresh routes of its own that do not read cookies; use the default preset or leave cookies off`);
  }
  const options: CookieOptions = value === true ? {} : value;
  const name = options.name ?? 'gatehouse_refresh';
  if (!COOKIE_NAME.test(name)) throw new TypeError(`options.cookies.name must be a cookie name (letters, digits, "-", "_", …), not ${JSON.stringify(name)}`);
  const sameSite = options.sameSite ?? 'strict';
  if (sameSite !== 'strict' && sameSite !== 'lax') throw new TypeError(`options.cookies.sameSite must be 'strict' or 'lax', not ${JSON.stringify(sameSite)}`);
  let allowedOrigins: string[] | null = null;
  if (options.allowedOrigins !== undefined) {
    if (!Array.isArray(options.allowedOrigins)) throw new TypeError('options.cookies.allowedOrigins must be an array of origins such as "https://app.example.com"');
    allowedOrigins = options.allowedOrigins.map((origin) => {
      const normalized = typeof origin === 'string' ? normalizeOrigin(origin) : null;
      // A path would never match an Origin header, so it is a mistake to say so now rather than a silent 403 later.
      if (normalized === null || !(origin === normalized || origin === `${normalized}/`)) {
        throw new TypeError(`options.cookies.allowedOrigins: ${JSON.stringify(origin)} is not an origin such as "https://app.example.com" (scheme, host and port only)`);
      }
      return normalized;
    });
  }
  return { name, sameSite: sameSite === 'strict' ? 'Strict' : 'Lax', allowedOrigins };
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** The value of one cookie of the request, without a dependency: the first one of that name (the most specific path). */
function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value === '' ? undefined : value;
  }
  return undefined;
}

/** The origin the request was sent to, from its Host and protocol (honouring `trust proxy`). */
function ownOrigin(req: Request): string | null {
  const host = req.get('host');
  return host === undefined ? null : normalizeOrigin(`${req.protocol}://${host}`);
}

/** Answers with a pair (and `extra` members), in the way the request asked for. */
export type PairReply = (pair: TokenPair, extra?: Record<string, unknown>) => Reply;

/**
 * How a route answers with a token pair and where `/refresh` and `/logout` find the
 * refresh token: in the JSON body, or (with the `cookies` option and the
 * `X-Auth-Transport: cookie` header) in an HttpOnly cookie.
 */
export interface PairTransport {
  /** Whether the `cookies` option is on: routes then document both answers. */
  readonly enabled: boolean;
  /** The header (and, for `readsCookie`, the cookie) to describe in the OpenAPI document. */
  parameters(readsCookie: boolean): DocumentedParameter[] | undefined;
  /**
   * True when the request asks for the cookie transport. Only then is the cookie read or
   * set, so the `Origin` check runs here (403 `csrf_rejected`): call it before doing any work.
   */
  usesCookie(req: Request): boolean;
  /** How to answer this request with a pair; checks the request as `usesCookie` does, so call it first. */
  replier(req: Request): PairReply;
  /** The refresh token in the request's cookie (undefined with cookies off); a credential only after `usesCookie(req)` said yes. */
  refreshCookie(req: Request): string | undefined;
  /** Expires the cookie (logout). */
  clear(req: Request): void;
}

/** The pair in the JSON body, as every route answered before cookies. */
export const pairInBody: PairReply = (pair, extra = {}) => ({ status: 200, body: { ...pairView(pair), ...extra } });

/** Pairs always in the body: the cookies option is off (or the preset has no cookie routes). */
export const bodyTransport: PairTransport = {
  enabled: false,
  parameters: () => undefined,
  usesCookie: () => false,
  replier: () => pairInBody,
  refreshCookie: () => undefined,
  clear: () => {},
};

export function createPairTransport(config: CookieConfig | null): PairTransport {
  if (config === null) return bodyTransport;

  const setCookie = (req: Request, value: string, maxAge: number) => {
    // Browsers drop Secure cookies sent over plain http except to localhost, so only loopback development goes without.
    const secure = req.secure || !LOOPBACK.has(req.hostname);
    const path = req.baseUrl === '' ? '/' : req.baseUrl;
    // `append`, so a Set-Cookie of the host app (a session of its own) stays.
    req.res?.append('Set-Cookie', `${config.name}=${value}; Max-Age=${maxAge}; Path=${path}; HttpOnly${secure ? '; Secure' : ''}; SameSite=${config.sameSite}`);
  };

  const usesCookie = (req: Request): boolean => {
    const header = req.get(TRANSPORT_HEADER);
    if (header === undefined) return false;
    const mode = header.trim().toLowerCase();
    if (mode === 'body') return false;
    if (mode !== 'cookie') throw new AuthError('invalid_request', `${TRANSPORT_HEADER} must be "cookie" or "body"`, { errors: [{ path: TRANSPORT_HEADER, message: 'must be "cookie" or "body"' }] });
    const origin = req.get('origin');
    // No Origin: not a browser's cross-origin request. The custom header already keeps plain forms out.
    if (origin === undefined) return true;
    const normalized = normalizeOrigin(origin);
    const allowed = config.allowedOrigins ?? [ownOrigin(req)];
    if (normalized === null || !allowed.includes(normalized)) throw new AuthError('csrf_rejected', `requests from ${origin} may not use the refresh cookie`);
    return true;
  };

  return {
    enabled: true,
    parameters: (readsCookie) => [
      {
        name: TRANSPORT_HEADER,
        in: 'header',
        enum: ['cookie', 'body'],
        description: `\`cookie\`: the refresh token travels in the HttpOnly cookie \`${config.name}\` instead of the JSON body. An \`Origin\` header must then be an allowed origin (else 403 \`csrf_rejected\`)`,
      },
      ...(readsCookie
        ? [{ name: config.name, in: 'cookie' as const, description: `The refresh token, read only with \`${TRANSPORT_HEADER}: cookie\` (a body \`refresh_token\` wins)` }]
        : []),
    ],
    usesCookie,
    replier(req) {
      if (!usesCookie(req)) return pairInBody;
      return (pair, extra = {}) => {
        // A custom TokenIssuer's token could hold `;` or a space, which would end the value and forge attributes.
        if (!COOKIE_VALUE.test(pair.refreshToken)) throw new Error('the refresh token cannot be sent as a cookie value');
        setCookie(req, pair.refreshToken, Math.max(0, pair.refresh.exp - pair.refresh.iat));
        return { status: 200, body: { ...cookieSessionView(pair), ...extra } };
      };
    },
    refreshCookie: (req) => readCookie(req, config.name),
    clear: (req) => setCookie(req, '', 0),
  };
}
