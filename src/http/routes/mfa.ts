import type { Services } from '../../core/index.js';
import type { SecondFactor } from '../../core/mfa.js';
import { AuthError } from '../../errors.js';
import { endpoint } from '../endpoint.js';
import { bodyTransport, type PairTransport } from '../cookies.js';
import * as s from '../schemas.js';
import * as r from '../responses.js';

function factor(body: { code?: string | undefined; recoveryCode?: string | undefined }): SecondFactor {
  return body.code !== undefined ? { code: body.code } : { recoveryCode: body.recoveryCode ?? '' };
}

/** TOTP enrolment and the second step of a sign-in (answered as `cookies` says). */
export function mfaEndpoints(services: Services, cookies: PairTransport = bodyTransport) {
  const { mfa, accounts } = services;

  const currentUser = async (userId: string) => {
    const { user } = await accounts.describe(userId, null);
    return user;
  };

  return [
    endpoint({
      method: 'get',
      path: '/mfa',
      summary: 'Second-factor status of the signed-in user',
      auth: 'jwt',
      responses: { 200: r.mfaStatus },
      async handler({ auth }) {
        return { status: 200, body: await mfa.status(auth.userId) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/mfa/totp/setup',
      summary: 'Start TOTP enrolment: a new secret with its otpauth URL and QR code, pending until enabled. Needs a recent sign-in (step-up)',
      auth: 'jwt',
      stepUp: true,
      responses: { 200: r.totpEnrolment, 403: r.problem, 409: r.problem },
      async handler({ auth }) {
        return { status: 200, body: await mfa.setup(await currentUser(auth.userId)) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/mfa/totp/enable',
      summary: "Confirm enrolment with a code; returns 10 recovery codes, shown once. Signs out the user's other sessions. Needs a recent sign-in (step-up)",
      auth: 'jwt',
      stepUp: true,
      responses: { 200: r.recoveryCodes, 400: r.problem, 403: r.problem, 409: r.problem, 429: r.problem },
      body: s.enableTotpBody,
      async handler({ auth, body, client }) {
        return { status: 200, body: { recoveryCodes: await mfa.enable(auth.userId, body.code, auth.sessionId, client) } };
      },
    }),
    endpoint({
      method: 'post',
      path: '/mfa/totp/disable',
      summary: "Turn TOTP off with a code, a recovery code or the password. Signs out the user's other sessions",
      auth: 'jwt',
      responses: { 204: null, 401: r.problem, 409: r.problem, 429: r.problem },
      body: s.disableTotpBody,
      async handler({ auth, body, client }) {
        const proof = body.password !== undefined ? { password: body.password } : factor(body);
        await mfa.disable(await currentUser(auth.userId), proof, auth.sessionId, client);
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'post',
      path: '/mfa/verify',
      summary: 'Second step of a sign-in: the mfa_token from the 403 answer plus a TOTP or recovery code',
      auth: 'none',
      responses: cookies.enabled ? { 200: r.tokenPairOrCookie, 401: r.problem, 403: r.problem, 429: r.problem } : { 200: r.tokenPair, 401: r.problem, 429: r.problem },
      body: s.verifyMfaBody,
      documentedParameters: cookies.parameters(false),
      async handler({ body, req, client }) {
        const reply = cookies.replier(req);
        try {
          return reply(await mfa.verifyChallenge(body.mfa_token, factor(body), client));
        } catch (err) {
          // An expired challenge means starting over, which the client should be told plainly.
          if (err instanceof AuthError && err.code === 'token_expired') throw new AuthError('token_expired', 'the mfa_token has expired; sign in again');
          throw err;
        }
      },
    }),
  ];
}
