import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Response } from 'express';
import { AuthError, StorageUnavailableError } from '../errors.js';
import type { Logger } from '../ports.js';

/** Turns anything thrown into an AuthError; unknown errors become `internal_error` and are logged. */
export function toAuthError(err: unknown, logger: Logger): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof StorageUnavailableError) return new AuthError('storage_unavailable', 'the auth store is unavailable; try again shortly');
  const parserError = fromBodyParser(err);
  if (parserError) return parserError;
  // Only the error itself is logged: request bodies can hold passwords and tokens.
  logger.error('gatehouse: unexpected error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return new AuthError('internal_error', 'something went wrong on our side');
}

function fromBodyParser(err: unknown): AuthError | null {
  if (typeof err !== 'object' || err === null || !('type' in err)) return null;
  switch ((err as { type: unknown }).type) {
    case 'entity.parse.failed':
      return new AuthError('invalid_json', 'the request body is not valid JSON');
    case 'entity.too.large':
      return new AuthError('payload_too_large', 'the request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AuthError('unsupported_media_type', 'the request body must be UTF-8 JSON');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
    case 'stream.not.readable':
      return new AuthError('invalid_request', 'the request body could not be read');
    default:
      return null;
  }
}

/** Writes an RFC 9457 problem document with the stable `code`. */
export function sendProblem(res: Response, error: AuthError): void {
  if (error.code === 'too_many_attempts' && typeof error.details?.retryAfter === 'number') {
    res.setHeader('Retry-After', String(error.details.retryAfter));
  }
  const { errors, retryAfter: _retryAfter, ...rest } = error.details ?? {};
  res
    .status(error.status)
    .type('application/problem+json')
    .json({
      type: `urn:gatehouse:error:${error.code}`,
      title: STATUS_CODES[error.status] ?? 'Error',
      status: error.status,
      code: error.code,
      detail: error.message,
      ...(errors ? { errors } : {}),
      ...rest,
    });
}

export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    sendProblem(res, toAuthError(err, logger));
  };
}
