import type { Services } from '../../core/index.js';
import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import * as s from '../schemas.js';
import { deletionBody, deletionProof } from './account-deletion.js';
import { invitationView, memberView, myOrgView } from '../views.js';
import * as r from '../responses.js';

const transferBody = z.strictObject({ userId: s.id });

export const transferred = z.object({
  orgId: z.string(),
  userId: z.string(),
  role: z.literal('owner'),
  previousOwner: z.object({ userId: z.string(), role: z.literal('admin') }),
});

/** Organizations, their members and invitations. Non-members get 404 for an org, never its data. */
export function orgEndpoints(services: Services) {
  const { orgs, invitations, accountDeletion, sessions } = services;

  return [
    endpoint({
      method: 'get',
      path: '/orgs',
      summary: "The signed-in user's organizations, with their role in each and whether the organization's policy gives this session a token for it (`access`)",
      auth: 'jwt',
      responses: { 200: r.myOrgs },
      async handler({ auth }) {
        const method = auth.via === 'api_key' ? 'api_key' : await sessions.methodOfSession(auth.sessionId);
        return { status: 200, body: { organizations: (await orgs.listMine(auth.userId, method)).map(myOrgView) } };
      },
    }),
    endpoint({
      method: 'get',
      path: '/orgs/:orgId/members',
      summary: 'Members of an organization (any member may list them)',
      auth: 'jwt',
      responses: { 200: r.members, 404: r.problem },
      params: s.orgParams,
      async handler({ auth, params }) {
        return { status: 200, body: { members: (await orgs.listMembers(auth.userId, params.orgId)).map(memberView) } };
      },
    }),
    endpoint({
      method: 'patch',
      path: '/orgs/:orgId/members/:userId',
      summary:
        "Change a member's role (owners only; the last owner cannot be demoted); `customRoleId` with role `member` gives one of the org's custom roles. Making someone owner needs a recent sign-in (step-up)",
      auth: 'jwt',
      responses: { 200: r.roleChanged, 403: r.problem, 404: r.problem, 409: r.problem },
      params: s.memberParams,
      body: s.changeRoleBody,
      stepUp: (body) => body.role === 'owner',
      async handler({ auth, params, body, client }) {
        const customRoleId = body.customRoleId ?? null;
        await orgs.changeRole(auth.userId, params.orgId, params.userId, body.role, customRoleId, client);
        const custom = body.customRoleId === undefined ? {} : { customRoleId };
        return { status: 200, body: { userId: params.userId, orgId: params.orgId, role: body.role, ...custom } };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/orgs/:orgId/members/:userId',
      summary: 'Remove a member, or leave (admins remove members; only owners remove admins and owners)',
      auth: 'jwt',
      responses: { 204: null, 404: r.problem, 409: r.problem },
      params: s.memberParams,
      async handler({ auth, params, client }) {
        await orgs.removeMember(auth.userId, params.orgId, params.userId, client);
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/orgs/:orgId',
      summary:
        'Delete the organization (owners; confirm with `password`, or `code` when TOTP is on) with its memberships, invitations, API keys and applications; every session scoped to it ends',
      auth: 'jwt',
      responses: { 204: null, 401: r.problem, 403: r.problem, 404: r.problem, 429: r.problem },
      params: s.orgParams,
      body: deletionBody,
      bodyOptional: true,
      async handler({ auth, params, body, client }) {
        await accountDeletion.deleteOrg({ userId: auth.userId, authTime: auth.authTime }, params.orgId, deletionProof(body), client);
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'post',
      path: '/orgs/:orgId/transfer',
      summary: 'Hand the organization over (owners; needs a recent sign-in): the member `userId` becomes owner, the caller becomes admin',
      auth: 'jwt',
      responses: { 200: transferred, 403: r.problem, 404: r.problem },
      params: s.orgParams,
      body: transferBody,
      stepUp: true,
      async handler({ auth, params, body, client }) {
        await orgs.transferOwnership(auth.userId, params.orgId, body.userId, client);
        return { status: 200, body: { orgId: params.orgId, userId: body.userId, role: 'owner' as const, previousOwner: { userId: auth.userId, role: 'admin' as const } } };
      },
    }),
    endpoint({
      method: 'post',
      path: '/orgs/:orgId/invitations',
      summary: 'Invite someone (owners and admins); with `email` the code is mailed there too (unless `sendEmail: false`); the code is shown only in this response',
      auth: 'jwt',
      responses: { 201: r.createdInvitation, 404: r.problem },
      params: s.orgParams,
      body: s.createInvitationBody,
      bodyOptional: true,
      async handler({ auth, params, body, client }) {
        const { invitation, code } = await invitations.create(auth.userId, params.orgId, body, client);
        return { status: 201, body: { ...invitationView(invitation), code } };
      },
    }),
    endpoint({
      method: 'get',
      path: '/orgs/:orgId/invitations',
      summary: 'Pending invitations of an organization (owners and admins), without their codes',
      auth: 'jwt',
      responses: { 200: r.invitations, 404: r.problem },
      params: s.orgParams,
      async handler({ auth, params }) {
        return { status: 200, body: { invitations: (await invitations.list(auth.userId, params.orgId)).map(invitationView) } };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/orgs/:orgId/invitations/:invitationId',
      summary: 'Revoke a pending invitation (owners and admins)',
      auth: 'jwt',
      responses: { 204: null, 404: r.problem },
      params: s.invitationParams,
      async handler({ auth, params, client }) {
        await invitations.revoke(auth.userId, params.orgId, params.invitationId, client);
        return { status: 204 };
      },
    }),
  ];
}
