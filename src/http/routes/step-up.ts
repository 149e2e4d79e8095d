import { z } from 'zod';
import type { Services } from '../../core/index.js';
import { endpoint } from '../endpoint.js';
import * as s from '../schemas.js';
import * as r from '../responses.js';

/** The current password, or a code from the authenticator app when TOTP is on: exactly one. */
export const reauthenticateBody = z
  .strictObject({ password: s.anyPassword.optional(), code: s.totpCode.optional() })
  .superRefine((body, ctx) => {
    if ((body.password === undefined) === (body.code === undefined)) ctx.addIssue({ code: 'custom', path: ['password'], message: 'send exactly one of password, code' });
  });

const freshAccessToken = z.object({ access_token: z.string() });

/** Renewing the proof that step-up routes (TOTP setup and enable, API key creation, making someone owner) ask for. */
export function stepUpEndpoints(services: Services) {
  const { stepUp } = services;
  return [
    endpoint({
      method: 'post',
      path: '/reauthenticate',
      summary:
        'Confirm the signed-in user again (password, or TOTP code when TOTP is on): a new access token of the same session whose `auth_time` is now, for the routes that need a recent sign-in',
      auth: 'jwt',
      responses: { 200: freshAccessToken, 401: r.problem, 409: r.problem, 429: r.problem },
      body: reauthenticateBody,
      async handler({ auth, body, client }) {
        const proof = body.password !== undefined ? { password: body.password } : { code: body.code ?? '' };
        const access = await stepUp.reauthenticate(auth, proof, client);
        return { status: 200, body: { access_token: access.token } };
      },
    }),
  ];
}
