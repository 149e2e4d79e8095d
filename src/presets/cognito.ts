import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AuthError } from '../errors.js';
import { endpoint, type AnyEndpoint } from '../http/endpoint.js';
import * as s from '../http/schemas.js';
import type { Services } from '../core/index.js';
import type { TokenPair } from '../core/sessions.js';
import type { UserRecord } from '../ports.js';
import { managementEndpoints, under } from './shared.js';
import type { Preset } from './types.js';

const name = z.string().trim().min(1, 'is required').max(100);

const signupBody = z.strictObject({ email: s.email, password: s.newPassword, firstName: name, lastName: name });
const loginBody = z.strictObject({ email: s.email, password: s.anyPassword });
const refreshBody = z.strictObject({ refreshToken: z.string().min(1, 'is required').max(8192) });
const logoutBody = z.strictObject({ accessToken: z.string().min(1, 'is required').max(8192) });

/**
 * The idToken is the Bearer token for the API; the accessToken is a second token of
 * the same session, the one logout names. Both die together with the session.
 */
async function tokenPairOf(services: Services, pair: Pick<TokenPair, 'access' | 'familyId' | 'scope'>) {
  const accessToken = await services.sessions.signAccess(pair.scope, pair.familyId, { token_use: 'access' });
  return { idToken: pair.access.token, accessToken: accessToken.token };
}

async function loginBodyOf(services: Services, user: UserRecord, pair: TokenPair) {
  const apiKey = pair.scope.orgId === null ? null : await services.apiKeys.accountKey(user.id, pair.scope.orgId);
  return {
    ...(await tokenPairOf(services, pair)),
    refreshToken: pair.refreshToken,
    apiKey,
    firstName: user.firstName,
    lastName: user.lastName,
    email: user.email,
  };
}

/**
 * A Cognito-backed token API (seed 001): sign-up answers with a userId and an API key,
 * the account is active at once, passwords need upper, lower, digit and symbol,
 * tokens live one hour and refresh tokens are not rotated. Mount it at the root: the
 * routes are /auth/signup, /auth/login, /auth/refresh and /auth/logout; the shared
 * management routes (me, orgs, API keys, MFA …) live under /auth too.
 */
export const cognito: Preset = {
  name: 'cognito',
  tokens: { accessTtl: '1h', refreshTtl: '30d' },
  passwordPolicy: { minLength: 8, uppercase: true, lowercase: true, digit: true, symbol: true },
  apiKeyNeedsTenant: false,
  endpoints: (ctx) => {
    const { services } = ctx;
    const { accounts, sessions } = services;
    const own: AnyEndpoint[] = [
      endpoint({
        method: 'post',
        path: '/auth/signup',
        summary: 'Register an account (active at once); answers with its id and an API key for the x-api-key header',
        auth: 'none',
        body: signupBody,
        async handler({ body, client }) {
          // Each account gets an organization of its own, so API keys and roles work as everywhere else.
          const slug = `user-${randomBytes(6).toString('hex')}`;
          const { user, org } = await accounts.signup(
            { email: body.email, password: body.password, firstName: body.firstName, lastName: body.lastName },
            { action: 'create', org: { name: `${body.firstName} ${body.lastName}`, slug } },
            client,
          );
          const apiKey = await services.apiKeys.accountKey(user.id, (org as NonNullable<typeof org>).id);
          return { status: 200, body: { message: 'User registered successfully', userId: user.id, apiKey } };
        },
      }),
      endpoint({
        method: 'post',
        path: '/auth/login',
        summary: 'Sign in: idToken (the Bearer token, 1 h), accessToken, refreshToken, apiKey and the profile',
        auth: 'none',
        body: loginBody,
        async handler({ body, client }) {
          const result = await accounts.signin(body.email, body.password, client);
          if (result.kind === 'mfa_required') {
            throw new AuthError('mfa_required', 'a second factor is needed: POST /auth/mfa/verify with mfa_token and a code', { mfa_token: result.mfaToken });
          }
          return { status: 200, body: await loginBodyOf(services, result.user, result.tokens) };
        },
      }),
      endpoint({
        method: 'post',
        path: '/auth/refresh',
        summary: 'New idToken and accessToken; the refresh token stays valid',
        auth: 'none',
        body: refreshBody,
        async handler({ body, client }) {
          return { status: 200, body: await tokenPairOf(services, await sessions.renewAccess(body.refreshToken, client)) };
        },
      }),
      endpoint({
        method: 'post',
        path: '/auth/logout',
        summary: 'Invalidate the session: the idToken, the accessToken, the refresh token and the apiKey stop working',
        auth: 'jwt',
        endsSession: true,
        body: logoutBody,
        async handler({ auth, body, client }) {
          await sessions.revokeAccessToken(body.accessToken, auth.userId);
          await sessions.logout({ userId: auth.userId, tokenId: auth.tokenId, familyId: auth.sessionId, expiresAt: auth.expiresAt }, undefined, client);
          // The login answer's apiKey goes with the session: the next login hands out a new one.
          await services.apiKeys.revokeAccountKeys(auth.userId);
          return { status: 200, body: { message: 'Logged out successfully' } };
        },
      }),
      endpoint({
        method: 'post',
        path: '/auth/mfa/verify',
        summary: 'Second step of a login with MFA: mfa_token plus a TOTP or recovery code → the login answer',
        auth: 'none',
        body: s.verifyMfaBody,
        async handler({ body, client }) {
          const factor = body.code !== undefined ? { code: body.code } : { recoveryCode: body.recoveryCode ?? '' };
          const tokens = await services.mfa.verifyChallenge(body.mfa_token, factor, client);
          const { user } = await accounts.describe(tokens.scope.userId, null);
          return { status: 200, body: await loginBodyOf(services, user, tokens) };
        },
      }),
    ];
    const shared = managementEndpoints(ctx).filter((ep) => ep.path !== '/mfa/verify');
    return [...own, ...under('/auth', shared)];
  },
};

