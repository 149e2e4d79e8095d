import type { Request } from 'express';
import { Strategy } from 'passport-strategy';
import { AuthError } from '../errors.js';

export interface ApiKeyStrategyOptions {
  /** Refuse a key sent without `X-Tenant-Id`. */
  requireTenantId: boolean;
}

/** The credentials of an API-key request. */
export interface ApiKeyCredentials {
  key: string;
  tenantId: string | undefined;
}

/**
 * `X-API-Key` and `X-Tenant-Id` of the request; throws a 401 AuthError when the key is
 * missing, or the tenant id is and must not be. Shared by the strategy and the guard's
 * same-tick path for keys already verified.
 */
export function apiKeyCredentials(req: Request, options: ApiKeyStrategyOptions): ApiKeyCredentials {
  const key = req.get('x-api-key');
  const tenantId = req.get('x-tenant-id');
  if (!key) throw new AuthError('missing_token', 'send an API key in the `X-API-Key` header');
  if (tenantId === undefined && options.requireTenantId) {
    throw new AuthError('invalid_api_key', 'send the organization id in `X-Tenant-Id` with the API key');
  }
  return { key, tenantId };
}

/**
 * Authenticates `X-API-Key` (with `X-Tenant-Id`, the org the key must belong to).
 * Like passport's own strategies it only reads the request and reports success or
 * failure; the key rules live in the API-key service.
 */
export class ApiKeyStrategy extends Strategy {
  name = 'gatehouse-api-key';

  constructor(
    private readonly verify: (key: string, tenantId: string | undefined, req: Request) => Promise<unknown>,
    private readonly options: ApiKeyStrategyOptions,
  ) {
    super();
  }

  override authenticate(req: Request): void {
    let credentials: ApiKeyCredentials;
    try {
      credentials = apiKeyCredentials(req, this.options);
    } catch (err) {
      return this.fail(err, 401);
    }
    this.verify(credentials.key, credentials.tenantId, req).then(
      (principal) => this.success(principal),
      (err: unknown) => (err instanceof AuthError && err.status === 401 ? this.fail(err, 401) : this.error(err as Error)),
    );
  }
}
