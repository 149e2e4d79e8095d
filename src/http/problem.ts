import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { AuthError, StorageUnavailableError } from '../errors.js';
import type { Logger } from '../ports.js';

/** Turns anything thrown into an AuthError; unknown errors become `internal_error` and are logged. */
export function toAuthError(err: unknown, logger: Logger): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof StorageUnavailableError) return new AuthError('storage_unavailable', 'the auth store is unavailable; try again shortly');
  const parserError = fromBodyParser(err);
  if (parserError) return parserError;
  // Express could not decode a path parameter (`/orgs/%ff/members`): bad input, not a fault.
  if (err instanceof URIError) return new AuthError('invalid_request', 'the request path is not validly percent-encoded');
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

/**
 * An error of the JSON body parser, made stable where body-parser leaves it untyped: a
 * compressed body that does not decompress reaches us as the raw zlib error (code
 * `Z_DATA_ERROR`, `Z_BUF_ERROR`, a Brotli `ERR_…`), which is bad input, not a fault to log.
 */
export function bodyReadError(req: Request, err: unknown): unknown {
  const typed = typeof err === 'object' && err !== null && 'type' in err;
  const encoding = req.headers['content-encoding'];
  if (!typed && encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    return new AuthError('invalid_request', 'the request body could not be decompressed');
  }
  return err;
}

/** How an error is written: content type and body. Presets whose clients expect another shape supply their own. */
export type ErrorBodyWriter = (error: AuthError) => { contentType: string; body: unknown };

/** RFC 9457 problem document with the stable `code`, field `errors` and any other details. */
export const problemBody: ErrorBodyWriter = (error) => {
  const { errors, retryAfter: _retryAfter, ...rest } = error.details ?? {};
  return {
    contentType: 'application/problem+json',
    body: {
      type: `urn:gatehouse:error:${error.code}`,
      title: STATUS_CODES[error.status] ?? 'Error',
      status: error.status,
      code: error.code,
      detail: error.message,
      ...(errors ? { errors } : {}),
      ...rest,
    },
  };
};

/** Writes the error with its status (and Retry-After when throttled). */
export function sendProblem(res: Response, error: AuthError, write: ErrorBodyWriter = problemBody): void {
  if (error.code === 'too_many_attempts' && typeof error.details?.retryAfter === 'number') {
    res.setHeader('Retry-After', String(error.details.retryAfter));
  }
  const { contentType, body } = write(error);
  res.status(error.status).type(contentType).json(body);
}

export function problemHandler(logger: Logger, write: ErrorBodyWriter = problemBody): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    sendProblem(res, toAuthError(err, logger), write);
  };
}
