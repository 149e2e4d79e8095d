import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { z } from 'zod';
import type { ClientInfo } from '../core/client-info.js';
import { RequestClient } from './request-client.js';
import { AuthError, type FieldError } from '../errors.js';
import type { AuthContext } from './auth-context.js';
import { findNulCharacters } from './input-checks.js';
import { bodyReadError } from './problem.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Reply {
  status: number;
  body?: unknown;
  /** Sent instead of a JSON body, chunk by chunk as they come (an export). */
  stream?: { contentType: string; chunks: AsyncIterable<string> };
}

/** A header or cookie a route reads, for the OpenAPI document only (nothing checks it). */
export interface DocumentedParameter {
  name: string;
  in: 'header' | 'cookie';
  description: string;
  /** Allowed values; any string without. */
  enum?: readonly string[];
}

/** 'none': public; 'jwt': a Bearer access token; 'any': a Bearer access token or an API key. */
export type AuthMode = 'none' | 'jwt' | 'any';

/**
 * Answers by HTTP status: the zod schema of the body, or null for none (204). Only
 * documentation: handlers are not checked at run time. Statuses >= 400 are sent as
 * application/problem+json; generic ones (400 for bad input, 401/403 for guarded
 * routes, 5xx) are added by the OpenAPI generator.
 */
export type EndpointResponses = Readonly<Partial<Record<number, z.ZodType | null>>>;

/** What a handler receives: the parsed body, params and query, and the caller when the route is guarded. */
export interface HandlerInput<Body, Params, Query, Mode extends AuthMode> {
  body: Body;
  params: Params;
  query: Query;
  auth: Mode extends 'none' ? undefined : AuthContext;
  req: Request;
  /** The request's IP and user agent, for the services that record them (sessions, the audit log). */
  client: ClientInfo;
}

/**
 * One route: its path, who may call it, the schemas of what it accepts and the
 * handler, declared together so validation (and later the API description) come
 * from one definition.
 */
export interface Endpoint<
  BodySchema extends z.ZodType | undefined = z.ZodType | undefined,
  ParamsSchema extends z.ZodType | undefined = z.ZodType | undefined,
  QuerySchema extends z.ZodType | undefined = z.ZodType | undefined,
  Mode extends AuthMode = AuthMode,
> {
  method: HttpMethod | HttpMethod[];
  path: string;
  summary: string;
  auth: Mode;
  body?: BodySchema;
  /** When true, a missing body is read as `{}`. */
  bodyOptional?: boolean;
  /**
   * Accepts tokens limited to one application (claim `app`, `AuthContext.appId`). Without
   * it they get 403 `application_token_not_allowed`: such a token is for the application's
   * own API, not for managing the account, its organizations or keys.
   */
  appTokens?: boolean;
  /**
   * The route ends the session of its access token (logout): an already revoked token
   * passes the guard too (signature, expiry and type are still checked), so a retried
   * call answers as the first one did. Only with `auth: 'jwt'`.
   */
  endsSession?: boolean;
  params?: ParamsSchema;
  query?: QuerySchema;
  /** Headers and cookies the handler reads itself, for the OpenAPI document. */
  documentedParameters?: readonly DocumentedParameter[];
  /** Documented answers for the OpenAPI document; see EndpointResponses. */
  responses?: EndpointResponses;
  /**
   * Needs a recent sign-in (step-up, `stepUp.maxAge`), checked after the guard and the
   * schemas: `true`, or a test of the parsed body for changes only some values make
   * sensitive. Without one: 403 `reauthentication_required`.
   */
  stepUp?: true | ((body: BodySchema extends z.ZodType ? z.output<BodySchema> : undefined) => boolean);
  handler: (
    input: HandlerInput<
      BodySchema extends z.ZodType ? z.output<BodySchema> : undefined,
      ParamsSchema extends z.ZodType ? z.output<ParamsSchema> : undefined,
      QuerySchema extends z.ZodType ? z.output<QuerySchema> : undefined,
      Mode
    >,
  ) => Promise<Reply>;
}

/** Declares an endpoint with its types inferred from the schemas. */
export function endpoint<
  BodySchema extends z.ZodType | undefined = undefined,
  ParamsSchema extends z.ZodType | undefined = undefined,
  QuerySchema extends z.ZodType | undefined = undefined,
  Mode extends AuthMode = 'none',
>(def: Endpoint<BodySchema, ParamsSchema, QuerySchema, Mode>): Endpoint<BodySchema, ParamsSchema, QuerySchema, Mode> {
  return def;
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  // Before the schema, so no string reaches storage with a NUL (PostgreSQL refuses it in text: a 500).
  const nul = findNulCharacters(value);
  if (nul.length > 0) throw new AuthError('invalid_request', `the request ${what} is invalid`, { errors: nul.map((path) => ({ path, message: 'must not contain a NUL character' })) });
  const result = schema.safeParse(value);
  if (!result.success) throw new AuthError('invalid_request', `the request ${what} is invalid`, { errors: fieldErrors(result.error) });
  return result.data;
}

function readBody(req: Request, optional: boolean): unknown {
  // What came is read from the headers, not from `req.body`: Express 4's JSON parser sets
  // `{}` when no body (or a non-JSON one) came, and a host's own parser may fill it from a
  // form. `req.is()` is null without a body, false for another (or no) media type.
  const type = req.is(['application/json', 'application/*+json']);
  if (type) return req.body;
  if (type === false && req.headers['content-type'] !== undefined) throw new AuthError('unsupported_media_type', 'send the body as JSON with `Content-Type: application/json`');
  if (optional) return {};
  throw new AuthError('invalid_request', 'a JSON body is required', { errors: [{ path: '', message: 'a JSON object is required' }] });
}

/**
 * Every answer is about one client's account and often holds credentials: it goes out with
 * `Cache-Control: no-store` (RFC 6749 §5.1 for token answers) and without the ETag
 * (a hash of the body) that `res.json` adds, a validator no cache may keep.
 */
function sendNoStore(res: Response, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json, 'utf8'));
  res.end(json, 'utf8');
}

/**
 * Writes the chunks as they come, waiting for the socket to drain, so a long export holds
 * one page in memory. Once the status is out an error can only cut the answer short.
 */
async function sendStream(res: Response, status: number, stream: NonNullable<Reply['stream']>): Promise<void> {
  res.statusCode = status;
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', stream.contentType);
  try {
    for await (const chunk of stream.chunks) {
      // A client gone away ends the loop (and with it the reads behind the iterator).
      if (res.destroyed) return;
      if (!res.write(chunk, 'utf8')) await drained(res);
    }
    res.end();
  } catch (err) {
    if (!res.headersSent) throw err;
    res.destroy(err instanceof Error ? err : undefined);
  }
}

function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export type AnyEndpoint = Endpoint<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined, AuthMode>;

export interface MountOptions {
  /** By auth mode, plus the guard of `endsSession` endpoints, which also passes revoked access tokens. */
  guards: Record<Exclude<AuthMode, 'none'> | 'endsSession', RequestHandler>;
  /** Awaited before each request is handled (storage migrated, revocations loaded). */
  ready: () => Promise<void>;
  /** Writes any failure as the active preset's error body. */
  writeError: (res: Response, err: unknown) => void;
  /** Throws unless the sign-in behind the credentials is recent enough, for endpoints with `stepUp`. */
  assertFresh?: (auth: AuthContext) => void;
}

/**
 * Adds the endpoints to the router. Everything (body parsing, readiness, errors) is
 * attached per route rather than to the router, so a router mounted at the root of a
 * host app leaves the host's own routes, bodies and errors alone.
 */
export function mountEndpoints(router: Router, endpoints: readonly AnyEndpoint[], { guards, ready, writeError, assertFresh }: MountOptions): void {
  const json = express.json({ limit: '32kb', type: ['application/json', 'application/*+json'] });
  const parseBody: RequestHandler = (req, res, next) => {
    // A request without a body (most GETs) skips the parser: body-parser's own test for it
    // (type-is's hasBody, the same two headers) comes only after per-request work of its own.
    if (req.headers['transfer-encoding'] === undefined && req.headers['content-length'] === undefined) return next();
    json(req, res, (err?: unknown) => (err ? writeError(res, bodyReadError(req, err)) : next()));
  };
  // Once storage and revocations are loaded they stay loaded (as in the guard): from then on no promise per request.
  let isReady = false;
  const prepare: RequestHandler = (req, res, next) => {
    if (isReady) return parseBody(req, res, next);
    ready().then(
      () => {
        isReady = true;
        parseBody(req, res, next);
      },
      (err: unknown) => writeError(res, err),
    );
  };
  for (const ep of endpoints) {
    const run: RequestHandler = (req, res) => {
      (async () => {
        if (req.auth?.appId !== undefined && !ep.appTokens) {
          throw new AuthError('application_token_not_allowed', 'a token limited to an application cannot be used here: sign in to the account for this');
        }
        const body = ep.body ? parse(ep.body, readBody(req, ep.bodyOptional ?? false), 'body') : undefined;
        const params = ep.params ? parse(ep.params, req.params, 'path') : undefined;
        const query = ep.query ? parse(ep.query, req.query, 'query') : undefined;
        if (ep.stepUp !== undefined && (ep.stepUp === true || ep.stepUp(body))) {
          if (!assertFresh || !req.auth) throw new AuthError('reauthentication_required', 'this change needs a recent sign-in');
          assertFresh(req.auth);
        }
        const reply = await ep.handler({ body, params, query, auth: req.auth as never, req, client: new RequestClient(req) });
        if (reply.stream) await sendStream(res, reply.status, reply.stream);
        else if (reply.body === undefined) res.status(reply.status).end();
        else sendNoStore(res, reply.status, reply.body);
      })().catch((err: unknown) => writeError(res, err));
    };
    const guard = ep.endsSession && ep.auth === 'jwt' ? guards.endsSession : ep.auth === 'none' ? undefined : guards[ep.auth];
    const handlers = guard ? [prepare, guard, run] : [prepare, run];
    for (const method of Array.isArray(ep.method) ? ep.method : [ep.method]) router[method](ep.path, ...handlers);
  }
}
