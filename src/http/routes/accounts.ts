import type { Services } from '../../core/index.js';
import type { OrgChoice } from '../../core/accounts.js';
import { endpoint } from '../endpoint.js';
import { createLocalSignin } from '../local-signin.js';
import * as s from '../schemas.js';
import { orgView, pairView, userView } from '../views.js';

function orgChoice(body: { action: 'create'; orgCreateProps: { name: string; slug: string; description?: string | undefined } } | { action: 'join'; invitationCode: string }): OrgChoice {
  return body.action === 'create' ? { action: 'create', org: body.orgCreateProps } : { action: 'join', invitationCode: body.invitationCode };
}

/** Sign-up, sign-in, token rotation, logout and the signed-in user's own account. */
export function accountEndpoints(services: Services) {
  const { accounts, sessions, orgs } = services;
  const localSignin = createLocalSignin(accounts);

  return [
    endpoint({
      method: 'post',
      path: '/signup',
      summary: 'Create an account, with a new organization or by joining one with an invitation code',
      authenticated: false,
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
      summary: 'Sign in with email and password',
      authenticated: false,
      body: s.signinBody,
      async handler({ body, req }) {
        req.body = body;
        const result = await localSignin(req);
        return { status: 200, body: pairView(result.tokens) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/refresh',
      summary: 'Exchange a refresh token for a new pair; the old refresh token stops working',
      authenticated: false,
      body: s.refreshBody,
      async handler({ body }) {
        return { status: 200, body: pairView(await sessions.refresh(body.refresh_token)) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/logout',
      summary: 'End the session: the access token and its refresh family stop working',
      authenticated: true,
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
      summary: 'The signed-in user, the organization the token is scoped to, and the role there',
      authenticated: true,
      async handler({ auth }) {
        const { user, org, role } = await accounts.describe(auth.userId, auth.orgId);
        return { status: 200, body: { ...userView(user, org?.id ?? null, role), organization: org ? orgView(org) : null, role } };
      },
    }),
    endpoint({
      method: 'post',
      path: '/setup-org',
      summary: 'Create or join an organization (for example after an external sign-in); returns a pair scoped to it',
      authenticated: true,
      body: s.setupOrgBody,
      async handler({ body, auth }) {
        return { status: 200, body: pairView(await orgs.setup(auth.userId, orgChoice(body))) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/switch-org',
      summary: 'A new pair scoped to another organization the user belongs to',
      authenticated: true,
      body: s.switchOrgBody,
      async handler({ body, auth }) {
        return { status: 200, body: pairView(await orgs.switchTo(auth.userId, body.orgId)) };
      },
    }),
  ];
}
