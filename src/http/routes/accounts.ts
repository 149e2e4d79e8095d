import type { Services } from '../../core/index.js';
import type { OrgChoice } from '../../core/accounts.js';
import { AuthError } from '../../errors.js';
import { bearerToken } from '../bearer.js';
import { bodyTransport, TRANSPORT_HEADER, type PairTransport } from '../cookies.js';
import { endpoint } from '../endpoint.js';
import { createLocalSignin } from '../local-signin.js';
import * as s from '../schemas.js';
import { signInReply } from '../sign-in-reply.js';
import { orgView, userView } from '../views.js';
import * as r from '../responses.js';

function orgChoice(body: { action: 'create'; orgCreateProps: { name: string; slug: string; description?: string | undefined } } | { action: 'join'; invitationCode: string }): OrgChoice {
  return body.action === 'create' ? { action: 'create', org: body.orgCreateProps } : { action: 'join', invitationCode: body.invitationCode };
}

/**
 * Sign-up, sign-in, token rotation, logout and the signed-in user's own account. `cookies`
 * answers pairs with the refresh token in a cookie when the request asks for it.
 */
export function accountEndpoints(services: Services, cookies: PairTransport = bodyTransport) {
  const { accounts, sessions, orgs, identities } = services;
  const localSignin = createLocalSignin(accounts);
  const pairResponse = cookies.enabled ? r.tokenPairOrCookie : r.tokenPair;
  // With cookies on, the token may come from the cookie instead: the body is optional then.
  const refreshBody = cookies.enabled ? s.refreshBody.partial() : s.refreshBody;

  return [
    endpoint({
      method: 'post',
      path: '/signup',
      summary: 'Create an account, with a new organization or by joining one with an invitation code',
      auth: 'none',
      responses: { 201: r.user, 409: r.problem },
      body: s.signupBody,
      async handler({ body, client }) {
        const { user, org, role } = await accounts.signup(
          { email: body.email, password: body.password, username: body.username, firstName: body.first_name, lastName: body.last_name },
          orgChoice(body),
          client,
        );
        return { status: 201, body: userView(user, org?.id ?? null, role) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/signin',
      summary: 'Sign in with email and password, or exchange an external issuer’s access token (Authorization: Bearer, no body)',
      auth: 'none',
      responses: { 200: pairResponse, 401: r.problem, 403: cookies.enabled ? r.mfaRequiredOrProblem : r.mfaRequired, 429: r.problem },
      body: s.signinBody,
      bodyOptional: true,
      documentedParameters: cookies.parameters(false),
      async handler({ body, req, client }) {
        const reply = cookies.replier(req);
        if (body.email === undefined || body.password === undefined) {
          const token = bearerToken(req);
          if (token !== undefined && identities.externalEnabled) return signInReply((await identities.exchangeExternalToken(token, client)).result, {}, reply);
          throw new AuthError('invalid_request', 'the request body is invalid', {
            errors: [
              { path: 'email', message: 'is required' },
              { path: 'password', message: 'is required' },
            ],
          });
        }
        req.body = body;
        return signInReply(await localSignin(req), {}, reply);
      },
    }),
    endpoint({
      method: 'post',
      path: '/refresh',
      summary: cookies.enabled
        ? `Exchange a refresh token (in the body, or with ${TRANSPORT_HEADER}: cookie in the cookie) for a new pair; the old refresh token stops working`
        : 'Exchange a refresh token for a new pair; the old refresh token stops working',
      auth: 'none',
      responses: cookies.enabled ? { 200: pairResponse, 401: r.problem, 403: r.problem } : { 200: r.tokenPair, 401: r.problem },
      body: refreshBody,
      bodyOptional: cookies.enabled,
      documentedParameters: cookies.parameters(true),
      async handler({ body, req, client }) {
        const viaCookie = cookies.usesCookie(req);
        const token = body.refresh_token ?? (viaCookie ? cookies.refreshCookie(req) : undefined);
        if (token === undefined) {
          if (viaCookie) throw new AuthError('missing_token', `no refresh cookie came: sign in with ${TRANSPORT_HEADER}: cookie first`);
          const hint = cookies.refreshCookie(req) === undefined ? '' : ` (the refresh cookie is read only with ${TRANSPORT_HEADER}: cookie)`;
          throw new AuthError('invalid_request', 'the request body is invalid', { errors: [{ path: 'refresh_token', message: `is required${hint}` }] });
        }
        const reply = cookies.replier(req);
        return reply(await sessions.refresh(token, client));
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
      documentedParameters: cookies.parameters(true),
      async handler({ body, auth, req, client }) {
        const viaCookie = cookies.usesCookie(req);
        await sessions.logout(
          { userId: auth.userId, orgId: auth.orgId, tokenId: auth.tokenId, familyId: auth.sessionId, expiresAt: auth.expiresAt },
          body.refresh_token ?? (viaCookie ? cookies.refreshCookie(req) : undefined),
          client,
        );
        if (viaCookie) cookies.clear(req);
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
      responses: { 200: pairResponse, 409: r.problem },
      body: s.setupOrgBody,
      documentedParameters: cookies.parameters(false),
      async handler({ body, auth, req, client }) {
        const reply = cookies.replier(req);
        return reply(await orgs.setup(auth.userId, orgChoice(body), auth.authTime ?? null, auth.sessionId, client));
      },
    }),
    endpoint({
      method: 'post',
      path: '/switch-org',
      summary: 'A new pair scoped to another organization the user belongs to',
      auth: 'jwt',
      responses: { 200: pairResponse, 404: r.problem },
      body: s.switchOrgBody,
      documentedParameters: cookies.parameters(false),
      async handler({ body, auth, req, client }) {
        const reply = cookies.replier(req);
        return reply(await orgs.switchTo(auth.userId, body.orgId, auth.authTime ?? null, auth.sessionId, client));
      },
    }),
  ];
}
