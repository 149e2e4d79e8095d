import { z } from 'zod';
import { isAllowedRedirectUrl, REDIRECT_URL_RULE, type AppSignInResult, type Applications } from '../core/applications.js';
import { AuthError } from '../errors.js';
import { endpoint, type AnyEndpoint } from '../http/endpoint.js';
import { accountEndpoints } from '../http/routes/accounts.js';
import * as s from '../http/schemas.js';
import type { AuthContext } from '../http/auth-context.js';
import { pairView } from '../http/views.js';
import { managementEndpoints, under } from './shared.js';
import type { Preset } from './types.js';

const loginBody = z.strictObject({ email: s.email, password: s.anyPassword, url: z.string().trim().min(1).max(2048).optional() });

const applicationBody = z.strictObject({
  name: z.string().trim().min(1, 'is required').max(200),
  url: z.string().trim().min(1, 'is required').max(2048),
  redirectUrl: z.url({ message: 'must be a URL' }).max(2048).refine(isAllowedRedirectUrl, REDIRECT_URL_RULE).optional(),
});
const appParams = z.strictObject({ appId: s.id });
const grantParams = z.strictObject({ appId: s.id, userId: s.id });
const verifyBody = s.verifyMfaBody;

function displayName(user: { firstName: string | null; lastName: string | null; username: string | null; email: string }): string {
  const full = [user.firstName, user.lastName].filter(Boolean).join(' ');
  return full || user.username || user.email;
}

function loginReply(result: AppSignInResult) {
  if (result.kind === 'mfa_required') {
    throw new AuthError('mfa_required', 'a second factor is needed: POST /api/auth/mfa/verify with mfa_token and a code', { mfa_token: result.mfaToken });
  }
  return { status: 200, body: { name: displayName(result.user), token: result.access.token, redirectUrl: result.app.redirectUrl } };
}

function activeOrg(auth: AuthContext): string {
  if (auth.orgId === null) throw new AuthError('org_required', 'applications belong to an organization: create or join one first');
  return auth.orgId;
}

const appView = (app: Awaited<ReturnType<Applications['register']>>) => ({
  appId: app.id,
  name: app.name,
  url: app.url,
  redirectUrl: app.redirectUrl,
  createdAt: new Date(app.createdAt).toISOString(),
});

/**
 * Axonize's REST API login (seed 002): sign-in to one application, named by the
 * `appId` header or by `url` in the body, answering `{name, token, redirectUrl}`;
 * 401 for wrong credentials and for no access alike, 403 when a second factor is
 * needed. Mount it at the root. Applications are managed under /api/applications; the
 * account routes (signup, signin, refresh, logout, me, orgs, API keys, MFA) live under /api/auth.
 */
export const axonize: Preset = {
  name: 'axonize',
  tokens: { accessTtl: '12h' },
  endpoints: (ctx) => {
    const { applications } = ctx.services;
    const own: AnyEndpoint[] = [
      endpoint({
        method: 'post',
        path: '/api/auth/login',
        summary: 'Sign in to one application (header `appId`, or `url` in the body): {name, token, redirectUrl}',
        auth: 'none',
        body: loginBody,
        async handler({ body, req, client }) {
          const appId = req.get('appId');
          if (appId === undefined && body.url === undefined) {
            throw new AuthError('invalid_request', 'name the application with the `appId` header or `url` in the body', {
              errors: [{ path: 'url', message: 'is required without an appId header' }],
            });
          }
          const selector = appId !== undefined ? { appId } : { url: body.url as string };
          return loginReply(await applications.signin(body.email, body.password, selector, client));
        },
      }),
      endpoint({
        method: 'post',
        path: '/api/auth/mfa/verify',
        summary: 'Second step of a sign-in with MFA: mfa_token plus a TOTP or recovery code → {name, token, redirectUrl} for an application sign-in, else {access_token, refresh_token}',
        auth: 'none',
        body: verifyBody,
        async handler({ body, client }) {
          const factor = body.code !== undefined ? { code: body.code } : { recoveryCode: body.recoveryCode ?? '' };
          const result = await applications.completeMfa(body.mfa_token, factor, client);
          // A challenge from /api/auth/signin (no application) ends in the usual pair.
          return result.kind === 'session' ? { status: 200, body: pairView(result.tokens) } : loginReply(result);
        },
      }),
      endpoint({
        method: 'post',
        path: '/api/applications',
        summary: 'Register an application of the active organization (owners and admins); answers with its appId',
        auth: 'jwt',
        body: applicationBody,
        async handler({ auth, body, client }) {
          return { status: 201, body: appView(await applications.register(auth.userId, activeOrg(auth), body, client)) };
        },
      }),
      endpoint({
        method: 'get',
        path: '/api/applications',
        summary: "The active organization's applications",
        auth: 'jwt',
        async handler({ auth }) {
          return { status: 200, body: { applications: (await applications.list(auth.userId, activeOrg(auth))).map(appView) } };
        },
      }),
      endpoint({
        method: 'delete',
        path: '/api/applications/:appId',
        summary: 'Delete an application and everyone’s access to it (owners and admins)',
        auth: 'jwt',
        params: appParams,
        async handler({ auth, params, client }) {
          await applications.remove(auth.userId, activeOrg(auth), params.appId, client);
          return { status: 204 };
        },
      }),
      endpoint({
        method: 'get',
        path: '/api/applications/:appId/users',
        summary: 'Who may sign in to the application (owners and admins)',
        auth: 'jwt',
        params: appParams,
        async handler({ auth, params }) {
          return { status: 200, body: { userIds: await applications.listGrants(auth.userId, activeOrg(auth), params.appId) } };
        },
      }),
      endpoint({
        method: 'put',
        path: '/api/applications/:appId/users/:userId',
        summary: 'Give a member of the organization access to the application (owners and admins)',
        auth: 'jwt',
        params: grantParams,
        async handler({ auth, params, client }) {
          await applications.grant(auth.userId, activeOrg(auth), params.appId, params.userId, client);
          return { status: 204 };
        },
      }),
      endpoint({
        method: 'delete',
        path: '/api/applications/:appId/users/:userId',
        summary: "Take away a user's access to the application (owners and admins)",
        auth: 'jwt',
        params: grantParams,
        async handler({ auth, params, client }) {
          await applications.revokeGrant(auth.userId, activeOrg(auth), params.appId, params.userId, client);
          return { status: 204 };
        },
      }),
    ];
    const accountRoutes = new Set(['/signup', '/signin', '/refresh', '/logout']);
    const accounts = accountEndpoints(ctx.services).filter((ep) => accountRoutes.has(ep.path)) as AnyEndpoint[];
    const shared = managementEndpoints(ctx).filter((ep) => ep.path !== '/mfa/verify');
    return [...own, ...under('/api/auth', [...accounts, ...shared])];
  },
};
