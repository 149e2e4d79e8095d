import { z } from 'zod';
import type { Services } from '../../core/index.js';
import type { StepUpProof } from '../../core/step-up.js';
import { endpoint } from '../endpoint.js';
import * as s from '../schemas.js';
import * as r from '../responses.js';

/**
 * The proof a deletion asks for: the password, or a TOTP code when TOTP is on; at most
 * one. None only for an account with neither (external sign-in), which then needs a
 * recent sign-in instead.
 */
export const deletionBody = z
  .strictObject({ password: s.anyPassword.optional(), code: s.totpCode.optional() })
  .superRefine((body, ctx) => {
    if (body.password !== undefined && body.code !== undefined) ctx.addIssue({ code: 'custom', path: ['code'], message: 'send one of password, code' });
  });

export function deletionProof(body: z.output<typeof deletionBody>): StepUpProof | undefined {
  if (body.password !== undefined) return { password: body.password };
  return body.code === undefined ? undefined : { code: body.code };
}

/** Deleting the signed-in user's account. */
export function accountDeletionEndpoints(services: Services) {
  const { accountDeletion } = services;
  return [
    endpoint({
      method: 'delete',
      path: '/me',
      summary:
        'Delete the account (confirm with `password`, or `code` when TOTP is on) with its identities, keys and sessions; an organization where it is the only member goes with it. 409 `last_owner` while it is the only owner of an organization with other members',
      auth: 'jwt',
      responses: { 204: null, 401: r.problem, 409: r.problem, 429: r.problem },
      body: deletionBody,
      bodyOptional: true,
      async handler({ auth, body, client }) {
        await accountDeletion.deleteAccount({ userId: auth.userId, authTime: auth.authTime }, deletionProof(body), client);
        return { status: 204 };
      },
    }),
  ];
}
