import { z } from 'zod';
import type { Services } from '../../core/index.js';
import type { OrgRoleRecord } from '../../ports.js';
import { endpoint } from '../endpoint.js';
import * as r from '../responses.js';
import * as s from '../schemas.js';

const iso = (ms: number) => new Date(ms).toISOString();
const isoDate = z.iso.datetime({ offset: true });

const name = z.string().trim().min(1, 'is required').max(64);
const description = z.string().trim().max(500).nullable();
const createBody = z.strictObject({ name, permissions: s.permissionList, description: description.optional() });
const updateBody = z
  .strictObject({ name: name.optional(), permissions: s.permissionList.optional(), description: description.optional() })
  .refine((b) => Object.keys(b).length > 0, { message: 'change at least one of name, permissions, description' });
const roleParams = z.strictObject({ orgId: s.id, roleId: s.id });

export const customRole = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  permissions: z.array(z.string()),
  createdAt: isoDate,
  updatedAt: isoDate,
});
r.metadata.add(customRole, { id: 'CustomRole', description: "A role an org's owners defined from the service's permissions; it sits at member level for gatehouse's own routes" });
const builtInRole = z.object({ name: z.enum(['owner', 'admin', 'member']), permissions: z.array(z.string()) });
export const roleList = z.object({ builtIn: z.array(builtInRole), custom: z.array(customRole), permissions: z.array(z.string()) });

const roleView = (role: OrgRoleRecord) => ({
  id: role.id,
  name: role.name,
  description: role.description,
  permissions: role.permissions,
  createdAt: iso(role.createdAt),
  updatedAt: iso(role.updatedAt),
});

/** Custom roles of an organization: any member lists them, owners define them. Non-members get 404 for the org. */
export function roleEndpoints(services: Services) {
  const { orgRoles } = services;
  const problems = { 403: r.problem, 404: r.problem } as const;

  return [
    endpoint({
      method: 'get',
      path: '/orgs/:orgId/roles',
      summary: "The organization's roles (any member): the built-in ones with the permissions they grant, its custom roles, and every permission of the service",
      auth: 'jwt',
      responses: { 200: roleList, 404: r.problem },
      params: s.orgParams,
      async handler({ auth, params }) {
        const { builtIn, custom } = await orgRoles.list(auth.userId, params.orgId);
        return { status: 200, body: { builtIn, custom: custom.map(roleView), permissions: [...orgRoles.config.vocabulary] } };
      },
    }),
    endpoint({
      method: 'post',
      path: '/orgs/:orgId/roles',
      summary: 'Define a custom role from the service’s permissions (owners); the name is unique in the organization',
      auth: 'jwt',
      responses: { 201: customRole, ...problems, 409: r.problem },
      params: s.orgParams,
      body: createBody,
      async handler({ auth, params, body, client }) {
        return { status: 201, body: roleView(await orgRoles.create(auth.userId, params.orgId, body, client)) };
      },
    }),
    endpoint({
      method: 'patch',
      path: '/orgs/:orgId/roles/:roleId',
      summary: 'Rename a custom role or change its permissions or description (owners); members holding it follow within the revocation poll interval',
      auth: 'jwt',
      responses: { 200: customRole, ...problems, 409: r.problem },
      params: roleParams,
      body: updateBody,
      async handler({ auth, params, body, client }) {
        return { status: 200, body: roleView(await orgRoles.update(auth.userId, params.orgId, params.roleId, body, client)) };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/orgs/:orgId/roles/:roleId',
      summary: 'Delete a custom role (owners); refused with 409 `role_in_use` while a member holds it',
      auth: 'jwt',
      responses: { 204: null, ...problems, 409: r.problem },
      params: roleParams,
      async handler({ auth, params, client }) {
        await orgRoles.remove(auth.userId, params.orgId, params.roleId, client);
        return { status: 204 };
      },
    }),
  ];
}
