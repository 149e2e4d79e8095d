import type { Services } from '../../core/index.js';
import { endpoint } from '../endpoint.js';
import * as s from '../schemas.js';
import { invitationView, memberView, myOrgView } from '../views.js';
import * as r from '../responses.js';

/** Organizations, their members and invitations. Non-members get 404 for an org, never its data. */
export function orgEndpoints(services: Services) {
  const { orgs, invitations } = services;

  return [
    endpoint({
      method: 'get',
      path: '/orgs',
      summary: "The signed-in user's organizations, with their role in each",
      auth: 'jwt',
      responses: { 200: r.myOrgs },
      async handler({ auth }) {
        return { status: 200, body: { organizations: (await orgs.listMine(auth.userId)).map(myOrgView) } };
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
      summary: "Change a member's role (owners only; the last owner cannot be demoted). Making someone owner needs a recent sign-in (step-up)",
      auth: 'jwt',
      responses: { 200: r.roleChanged, 403: r.problem, 404: r.problem, 409: r.problem },
      params: s.memberParams,
      body: s.changeRoleBody,
      stepUp: (body) => body.role === 'owner',
      async handler({ auth, params, body }) {
        await orgs.changeRole(auth.userId, params.orgId, params.userId, body.role);
        return { status: 200, body: { userId: params.userId, orgId: params.orgId, role: body.role } };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/orgs/:orgId/members/:userId',
      summary: 'Remove a member, or leave (admins remove members; only owners remove admins and owners)',
      auth: 'jwt',
      responses: { 204: null, 404: r.problem, 409: r.problem },
      params: s.memberParams,
      async handler({ auth, params }) {
        await orgs.removeMember(auth.userId, params.orgId, params.userId);
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'post',
      path: '/orgs/:orgId/invitations',
      summary: 'Invite someone (owners and admins); the code is shown only in this response',
      auth: 'jwt',
      responses: { 201: r.createdInvitation, 404: r.problem },
      params: s.orgParams,
      body: s.createInvitationBody,
      bodyOptional: true,
      async handler({ auth, params, body }) {
        const { invitation, code } = await invitations.create(auth.userId, params.orgId, body);
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
      async handler({ auth, params }) {
        await invitations.revoke(auth.userId, params.orgId, params.invitationId);
        return { status: 204 };
      },
    }),
  ];
}
