/** A per-field problem of a 400 `invalid_request`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * A failed call. `code` is the server's stable error code (`email_taken`,
 * `token_revoked`, …) or one of the client's own: `signed_out` (no session to use),
 * `network_error` (fetch failed), `bad_response` (not the JSON the route documents).
 */
export class GatehouseError extends Error {
  override readonly name = 'GatehouseError';
  readonly code: string;
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  readonly errors: FieldProblem[];
  /** The whole problem document, for extra members such as `mfa_token` or `retryAfter`. */
  readonly body: Record<string, unknown> | undefined;

  constructor(code: string, message: string, init: { status?: number; errors?: FieldProblem[]; body?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.status = init.status ?? 0;
    this.errors = init.errors ?? [];
    this.body = init.body;
  }
}

export function isGatehouseError(err: unknown, code?: string): err is GatehouseError {
  return err instanceof GatehouseError && (code === undefined || err.code === code);
}

/** Reads an error answer: a problem document when the server sent one, otherwise a generic error. */
export async function errorFromResponse(res: Response): Promise<GatehouseError> {
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = await res.json();
    if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's HTML error page, say): fall through to the generic error.
  }
  const code = typeof body?.code === 'string' ? body.code : `http_${res.status}`;
  const detail = typeof body?.detail === 'string' ? body.detail : `${res.status} ${res.statusText}`.trim();
  const errors = Array.isArray(body?.errors) ? (body.errors as FieldProblem[]) : [];
  return new GatehouseError(code, detail, { status: res.status, errors, ...(body ? { body } : {}) });
}
