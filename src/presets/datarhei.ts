import { z } from 'zod';
import { AuthError } from '../errors.js';
import { bearerToken } from '../http/bearer.js';
import { endpoint, type AnyEndpoint } from '../http/endpoint.js';
import type { ErrorBodyWriter } from '../http/problem.js';
import { signInReply } from '../http/sign-in-reply.js';
import { aboutEndpoint, resolveAboutOptions, type DatarheiOptions } from './datarhei-about.js';
import { managementEndpoints, under } from './shared.js';
import type { Preset, PresetContext } from './types.js';

export { DEFAULT_CORE_VERSION, type DatarheiOptions } from './datarhei-about.js';

// Both optional here: with neither, an Auth0 token in the Authorization header logs in.
const loginBody = z.strictObject({
  username: z.string().trim().min(1, 'is required').max(254).optional(),
  password: z.string().min(1, 'is required').max(1024).optional(),
});

/** datarhei's error body: `{code, message, details}` with the HTTP status as `code`; our stable code leads `details`. */
const errorBody: ErrorBodyWriter = (error) => ({
  contentType: 'application/json',
  body: {
    code: error.status,
    message: error.message,
    details: [error.code, ...(error.details?.errors ?? []).map((e) => (e.path ? `${e.path}: ${e.message}` : e.message))],
    ...(typeof error.details?.mfa_token === 'string' ? { mfa_token: error.details.mfa_token } : {}),
  },
});

/**
 * datarhei Core's API login (seed 003): username + password or an Auth0 token at
 * POST /api/login, the refresh token as Bearer at GET /api/login/refresh (not rotated:
 * clients keep the one they have), tokens with exactly iss, sub (username), iat, exp,
 * jti, exi and usefor, and Core's `GET /api` "about" (datarhei-about.ts). Mount it at
 * the root. Shared management routes live under /api/auth.
 *
 * `preset: 'datarhei'` is `datarhei()`; call it with options to set what `GET /api` reports.
 * Options are checked here, so a bad one fails at startup.
 */
export function datarhei(options: DatarheiOptions = {}): Preset {
  const about = resolveAboutOptions(options);
  return {
    name: 'datarhei',
    tokens: { accessTtl: '10m', refreshTtl: '24h', issuer: 'datarhei-core', audience: null, claims: 'minimal', subject: 'username' },
    errorBody,
    endpoints: (ctx) => [...ownEndpoints(ctx, about), ...under('/api/auth', managementEndpoints(ctx))],
  };
}

function ownEndpoints(ctx: PresetContext, about: ReturnType<typeof resolveAboutOptions>): AnyEndpoint[] {
  const { accounts, sessions, identities } = ctx.services;
  return [
    aboutEndpoint(ctx, about),
    endpoint({
      method: 'post',
      path: '/api/login',
      summary: 'Access and refresh token, by username and password or by an Auth0 access token as Bearer',
      auth: 'none',
      body: loginBody,
      bodyOptional: true,
      async handler({ body, req, client }) {
        const { username, password } = body;
        if (username === undefined && password === undefined) {
          const token = bearerToken(req);
          if (token !== undefined && identities.externalEnabled) return signInReply((await identities.exchangeExternalToken(token, client)).result);
        }
        if (username === undefined || password === undefined) {
          const missing = [...(username === undefined ? ['username'] : []), ...(password === undefined ? ['password'] : [])];
          throw new AuthError('invalid_request', 'username and password are required', {
            errors: missing.map((path) => ({ path, message: 'is required' })),
          });
        }
        return signInReply(await accounts.signinWithUsername(username, password, client));
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/login/refresh',
      summary: 'A new access token for the refresh token sent as Bearer',
      auth: 'none',
      async handler({ req, client }) {
        const token = bearerToken(req);
        if (token === undefined) throw new AuthError('missing_token', 'send the refresh token as `Authorization: Bearer <refresh_token>`');
        const { access } = await sessions.renewAccess(token, client);
        return { status: 200, body: { access_token: access.token } };
      },
    }),
  ];
}
