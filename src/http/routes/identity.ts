import { z } from 'zod';
import type { Services } from '../../core/index.js';
import type { GoogleSignInInput } from '../../core/identities.js';
import { bodyTransport, type PairTransport } from '../cookies.js';
import { endpoint } from '../endpoint.js';
import { signInReply } from '../sign-in-reply.js';
import * as r from '../responses.js';

const nonce = z.string().min(1).max(512);

const googleNonce = z.object({ nonce: z.string(), expiresAt: z.iso.datetime({ offset: true }) });

/**
 * An authorization code (with the PKCE verifier and redirect URI the client used), or an
 * ID token it already holds; an ID token needs `nonce`, one from GET /google/nonce.
 */
export const googleBody = z
  .strictObject({
    code: z.string().min(1, 'is required').max(2048).optional(),
    // RFC 7636: 43-128 characters of [A-Z a-z 0-9 - . _ ~].
    codeVerifier: z
      .string()
      .regex(/^[A-Za-z0-9\-._~]{43,128}$/, 'must be a PKCE code verifier: 43-128 letters, digits, "-", ".", "_" or "~"')
      .optional(),
    redirectUri: z.string().min(1).max(2048).optional(),
    idToken: z.string().min(1, 'is required').max(8192).optional(),
    nonce: nonce.optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.code === undefined) === (body.idToken === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['code'], message: 'send exactly one of code, idToken' });
    }
    if (body.idToken !== undefined) {
      for (const field of ['codeVerifier', 'redirectUri'] as const) {
        if (body[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'goes with code, not idToken' });
      }
    }
  });

function googleInput(body: z.output<typeof googleBody>): GoogleSignInInput {
  if (body.idToken !== undefined) return { idToken: body.idToken, nonce: body.nonce };
  return { code: body.code ?? '', codeVerifier: body.codeVerifier, redirectUri: body.redirectUri, nonce: body.nonce };
}

/** Sign-in through Google; mounted when the `google` option is set. Pairs are answered as `cookies` says. */
export function identityEndpoints(services: Services, cookies: PairTransport = bodyTransport) {
  const { identities } = services;
  return [
    endpoint({
      method: 'get',
      path: '/google/nonce',
      summary: 'A single-use nonce (10 minutes) for signing in with an ID token: have Google put it in the token, then POST /google with {idToken, nonce}',
      auth: 'none',
      responses: { 200: googleNonce },
      async handler() {
        const { nonce, expiresAt } = identities.issueGoogleNonce();
        return { status: 200, body: { nonce, expiresAt: new Date(expiresAt).toISOString() } };
      },
    }),
    endpoint({
      method: 'post',
      path: '/google',
      summary: 'Sign in or up with Google: an authorization code or an ID token. `needsOrg: true` while the user has no organization (then POST /setup-org)',
      auth: 'none',
      responses: {
        200: cookies.enabled ? r.externalSignInOrCookie : r.externalSignIn,
        401: r.problem,
        403: cookies.enabled ? r.mfaRequiredOrProblem : r.mfaRequired,
        409: r.problem,
        502: r.problem,
      },
      body: googleBody,
      documentedParameters: cookies.parameters(false),
      async handler({ body, req, client }) {
        const reply = cookies.replier(req);
        const { result, needsOrg } = await identities.signInWithGoogle(googleInput(body), client);
        return signInReply(result, needsOrg ? { needsOrg: true } : {}, reply);
      },
    }),
  ];
}
