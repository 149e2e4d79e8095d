import type { AnyEndpoint } from '../http/endpoint.js';
import { accountEndpoints } from '../http/routes/accounts.js';
import { managementEndpoints } from './shared.js';
import type { Preset } from './types.js';

/** The default contract (AxonPush): snake_case tokens, orgs at sign-up, problem+json errors. Mount it at /auth. */
export const axonpush: Preset = {
  name: 'axonpush',
  ownsMountPath: true,
  servesCookies: true,
  endpoints: (ctx) => {
    const own = new Set(['/signup', '/signin', '/refresh', '/logout']);
    return [
      ...(accountEndpoints(ctx.services, ctx.cookies).filter((ep) => own.has(ep.path)) as AnyEndpoint[]),
      ...managementEndpoints(ctx),
    ];
  },
};
