import { z } from 'zod';
import type { Services } from '../../core/index.js';
import { endpoint } from '../endpoint.js';
import * as s from '../schemas.js';
import * as r from '../responses.js';

// A mailed token is 43 base64url characters; anything else is simply not one (401 invalid_token), but unbounded input is a 400.
const mailToken = z.string().trim().min(1, 'is required').max(200);

const verifyBody = z.strictObject({ token: mailToken });
const forgotBody = z.strictObject({ email: s.email });
const resetBody = z.strictObject({ token: mailToken, password: s.newPassword });
const changePasswordBody = z.strictObject({ currentPassword: s.anyPassword, newPassword: s.newPassword });
const changeEmailBody = z.strictObject({ newEmail: s.email, password: s.anyPassword });

const accepted = z.object({ accepted: z.literal(true) });
export const verified = z.object({ email: z.string(), emailVerified: z.literal(true) });

/** The same answer whether or not a mail went out: it tells nobody whether an address has an account. */
const ACCEPTED = { status: 202, body: { accepted: true as const } };

/**
 * The account lifecycle by mail: verifying the address, forgotten and changed passwords,
 * changing the address. Password and email changes take the current password in the
 * body: that is their step-up, so they need no recent sign-in.
 */
export function accountEmailEndpoints(services: Services) {
  const { emailVerification, emailChange, passwordRecovery } = services;
  return [
    endpoint({
      method: 'post',
      path: '/email/verification',
      summary: 'Mail a new verification link to the signed-in user’s address (earlier links stop working)',
      auth: 'jwt',
      responses: { 202: accepted, 409: r.problem, 429: r.problem },
      async handler({ auth, client }) {
        await emailVerification.request(auth.userId, client);
        return ACCEPTED;
      },
    }),
    endpoint({
      method: 'post',
      path: '/email/verify',
      summary: 'Use the token of a verification or email-change mail: the address is verified (or, for a change, the account moves to it); single use',
      auth: 'none',
      responses: { 200: verified, 401: r.problem, 409: r.problem },
      body: verifyBody,
      async handler({ body, client }) {
        return { status: 200, body: await emailVerification.verify(body.token, client) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/password/forgot',
      summary: 'Mail a password reset link when the address has an account; the answer is the same either way',
      auth: 'none',
      responses: { 202: accepted, 429: r.problem },
      body: forgotBody,
      async handler({ body, client }) {
        await passwordRecovery.forgot(body.email, client);
        return ACCEPTED;
      },
    }),
    endpoint({
      method: 'post',
      path: '/password/reset',
      summary: 'Set a new password with the token of a reset mail: every session of the user ends; single use, and older reset links die',
      auth: 'none',
      responses: { 204: null, 401: r.problem },
      body: resetBody,
      async handler({ body, client }) {
        await passwordRecovery.reset(body.token, body.password, client);
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'post',
      path: '/password/change',
      summary: 'Change the password, proving the current one (throttled like sign-in): the user’s other sessions end',
      auth: 'jwt',
      responses: { 204: null, 401: r.problem, 429: r.problem },
      body: changePasswordBody,
      async handler({ auth, body, client }) {
        await passwordRecovery.change({ userId: auth.userId, sessionId: auth.sessionId }, body.currentPassword, body.newPassword, client);
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'post',
      path: '/email/change',
      summary: 'Move the account to a new address, proving the password: a link goes to the new address, and POST /email/verify with its token makes the switch',
      auth: 'jwt',
      responses: { 202: accepted, 401: r.problem, 409: r.problem, 429: r.problem },
      body: changeEmailBody,
      async handler({ auth, body, client }) {
        await emailChange.request(auth.userId, body.newEmail, body.password, client);
        return ACCEPTED;
      },
    }),
  ];
}
