import { AuthError } from '../../errors.js';
import type { Services } from '../../core/index.js';
import type { AuthContext } from '../auth-context.js';
import { endpoint } from '../endpoint.js';
import * as s from '../schemas.js';
import { apiKeyView } from '../views.js';
import * as r from '../responses.js';

function activeOrg(auth: AuthContext): string {
  if (auth.orgId === null) throw new AuthError('org_required', 'API keys belong to an organization: create or join one first');
  return auth.orgId;
}

/** API keys of the org the access token is scoped to. Managed with a Bearer token only, never with a key. */
export function apiKeyEndpoints(services: Services) {
  const { apiKeys } = services;

  return [
    endpoint({
      method: 'post',
      path: '/api-keys',
      summary: 'Create an API key for the active organization (owners and admins); the key is shown only in this response. Needs a recent sign-in (step-up)',
      auth: 'jwt',
      stepUp: true,
      responses: { 201: r.createdApiKey, 403: r.problem },
      body: s.createApiKeyBody,
      async handler({ auth, body, client }) {
        const { record, key } = await apiKeys.create(auth.userId, activeOrg(auth), body, client);
        const { lastUsedAt: _lastUsedAt, createdBy: _createdBy, permissions, ...view } = apiKeyView(record);
        return { status: 201, body: { ...view, ...(permissions === null ? {} : { permissions }), key } };
      },
    }),
    endpoint({
      method: 'get',
      path: '/api-keys',
      summary: "The active organization's API keys, without secrets (owners and admins)",
      auth: 'jwt',
      responses: { 200: r.apiKeys },
      async handler({ auth }) {
        return { status: 200, body: { apiKeys: (await apiKeys.list(auth.userId, activeOrg(auth))).map(apiKeyView) } };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/api-keys/:id',
      summary: 'Revoke an API key of the active organization (owners and admins)',
      auth: 'jwt',
      responses: { 204: null, 404: r.problem },
      params: s.apiKeyParams,
      async handler({ auth, params, client }) {
        await apiKeys.revoke(auth.userId, activeOrg(auth), params.id, client);
        return { status: 204 };
      },
    }),
  ];
}
