import type { Services } from '../../core/index.js';
import type { OrgChoice } from '../../core/accounts.js';
import { AuthError } from '../../errors.js';
import { bearerToken } from '../bearer.js';
import { endpoint } from '../endpoint.js';
import { createLocalSignin } from '../local-signin.js';
import * as s from '../schemas.js';
import { signInReply } from '../sign-in-reply.js';
import { orgView, pairView, userView } from '../views.js';
import * as r from '../responses.js';

function orgChoice(body: { action: 'create'; orgCreateProps: { name: string; slug: string; description?: string | undefined } } | { action: 'join'; invitationCode: string }): OrgChoice {
  return body.action === 'create' ? { action: 'create', org: body.orgCreateProps } : { action: 'join', invitationCode: body.invitationCode };
}

/** Sign-up, sign-in, token rotation, logout and the signed-in user's own account. */
export function accountEndpoints(services: Services) {
  const { accounts, sessions, orgs, identities } = services;
  const localSignin = createLocalSignin(accounts);

  return [
    endpoint({
      method: 'post',
      path: '/signup',
      summary: 'Create an account, with a new organization or by joining one with an invitation code',
      auth: 'none',
      responses: { 201: r.user, 409: r.problem },
      body: s.signupBody,
      async handler({ body }) {
        const { user, org, role } = await accounts.signup(
          { email: body.email, password: body.password, username: body.username, firstName: body.first_name, lastName: body.last_name },
          orgChoice(body),
        );
        return { status: 201, body: userView(user, org?.id ?? null, role) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/signin',
      summary: 'Sign in with email and password, or exchange an external issuer’s access token (Authorization: Bearer, no body)',
      auth: 'none',
      responses: { 200: r.tokenPair, 401: r.problem, 403: r.mfaRequired, 429: r.problem },
      body: s.signinBody,
      bodyOptional: true,
      async handler({ body, req }) {
        if (body.email === undefined || body.password === undefined) {
          const token = bearerToken(req);
          if (token !== undefined && identities.externalEnabled) return signInReply((await identities.exchangeExternalToken(token)).result);
          throw new AuthError('invalid_request', 'the request body is invalid', {
            errors: [
              { path: 'email', message: 'is required' },
              { path: 'password', message: 'is required' },
            ],
          });
        }
        req.body = body;
        return signInReply(await localSignin(req));
      },
    }),
    endpoint({
      method: 'post',
      path: '/refresh',
      summary: 'Exchange a refresh token for a new pair; the old refresh token stops working',
      auth: 'none',
      responses: { 200: r.tokenPair, 401: r.problem },
      body: s.refreshBody,
      async handler({ body }) {
        return { status: 200, body: pairView(await sessions.refresh(body.refresh_token)) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/logout',
      summary: 'End the session: the access token and its refresh family stop working (repeating it answers 204 again)',
      auth: 'jwt',
      endsSession: true,
      appTokens: true,
      responses: { 204: null },
      body: s.logoutBody,
      bodyOptional: true,
      async handler({ body, auth }) {
        await sessions.logout(
          { userId: auth.userId, tokenId: auth.tokenId, familyId: auth.sessionId, expiresAt: auth.expiresAt },
          body.refresh_token,
        );
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'get',
      path: '/me',
      summary: 'The signed-in user (or the creator of the API key), the organization the credentials are scoped to, and the role there',
      auth: 'any',
      appTokens: true,
      responses: { 200: r.me },
      async handler({ auth }) {
        const { user, org, role } = await accounts.describe(auth.userId, auth.orgId);
        // An API key acts with its own (possibly lower) role, not its creator's.
        const effectiveRole = auth.via === 'api_key' ? auth.role : role;
        const body = { ...userView(user, org?.id ?? null, effectiveRole), emailVerified: user.emailVerifiedAt !== null, organization: org ? orgView(org) : null, role: effectiveRole, via: auth.via };
        return { status: 200, body };
      },
    }),
    endpoint({
      method: 'post',
      path: '/setup-org',
      summary: 'Create or join an organization (for example after an external sign-in); returns a pair scoped to it',
      auth: 'jwt',
      responses: { 200: r.tokenPair, 409: r.problem },
      body: s.setupOrgBody,
      async handler({ body, auth }) {
        return { status: 200, body: pairView(await orgs.setup(auth.userId, orgChoice(body), auth.authTime ?? null)) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/switch-org',
      summary: 'A new pair scoped to another organization the user belongs to',
      auth: 'jwt',
      responses: { 200: r.tokenPair, 404: r.problem },
      body: s.switchOrgBody,
      async handler({ body, auth }) {
        return { status: 200, body: pairView(await orgs.switchTo(auth.userId, body.orgId, auth.authTime ?? null)) };
      },
    }),
  ];
}
