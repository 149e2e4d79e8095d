import type { Request } from 'express';
import { Strategy } from 'passport-strategy';
import { AuthError } from '../errors.js';
import type { ApiKeyPrincipal } from '../core/api-keys.js';

export interface ApiKeyStrategyOptions {
  /** Refuse a key sent without `X-Tenant-Id`. */
  requireTenantId: boolean;
}

/**
 * Authenticates `X-API-Key` (with `X-Tenant-Id`, the org the key must belong to).
 * Like passport's own strategies it only reads the request and reports success or
 * failure; the key rules live in the API-key service.
 */
export class ApiKeyStrategy extends Strategy {
  name = 'gatehouse-api-key';

  constructor(
    private readonly verify: (key: string, tenantId: string | undefined) => Promise<ApiKeyPrincipal>,
    private readonly options: ApiKeyStrategyOptions,
  ) {
    super();
  }

  override authenticate(req: Request): void {
    const key = req.get('x-api-key');
    const tenantId = req.get('x-tenant-id');
    if (!key) return this.fail(new AuthError('missing_token', 'send an API key in the `X-API-Key` header'), 401);
    if (tenantId === undefined && this.options.requireTenantId) {
      return this.fail(new AuthError('invalid_api_key', 'send the organization id in `X-Tenant-Id` with the API key'), 401);
    }
    this.verify(key, tenantId).then(
      (principal) => this.success(principal),
      (err: unknown) => (err instanceof AuthError && err.status === 401 ? this.fail(err, 401) : this.error(err as Error)),
    );
  }
}
