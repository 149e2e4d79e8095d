import type { Request, RequestHandler, Router } from 'express';
import type { z } from 'zod';
import { AuthError, type FieldError } from '../errors.js';
import type { AuthContext } from './auth-context.js';

export type HttpMethod = 'get' | 'post' | 'patch' | 'delete';

export interface Reply {
  status: number;
  body?: unknown;
}

interface HandlerInput<Body, Params, Authenticated extends boolean> {
  body: Body;
  params: Params;
  auth: Authenticated extends true ? AuthContext : undefined;
  req: Request;
}

/**
 * One route: its path, who may call it, the schemas of what it accepts and the
 * handler, declared together so validation (and later the API description) come
 * from one definition.
 */
export interface Endpoint<
  BodySchema extends z.ZodType | undefined = z.ZodType | undefined,
  ParamsSchema extends z.ZodType | undefined = z.ZodType | undefined,
  Authenticated extends boolean = boolean,
> {
  method: HttpMethod;
  path: string;
  summary: string;
  authenticated: Authenticated;
  body?: BodySchema;
  /** When true, a missing body is read as `{}`. */
  bodyOptional?: boolean;
  params?: ParamsSchema;
  handler: (
    input: HandlerInput<
      BodySchema extends z.ZodType ? z.output<BodySchema> : undefined,
      ParamsSchema extends z.ZodType ? z.output<ParamsSchema> : undefined,
      Authenticated
    >,
  ) => Promise<Reply>;
}

/** Declares an endpoint with its types inferred from the schemas. */
export function endpoint<
  BodySchema extends z.ZodType | undefined = undefined,
  ParamsSchema extends z.ZodType | undefined = undefined,
  Authenticated extends boolean = false,
>(def: Endpoint<BodySchema, ParamsSchema, Authenticated>): Endpoint<BodySchema, ParamsSchema, Authenticated> {
  return def;
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new AuthError('invalid_request', `the request ${what} is invalid`, { errors: fieldErrors(result.error) });
  return result.data;
}

function readBody(req: Request, optional: boolean): unknown {
  if (req.body !== undefined) return req.body;
  if (req.headers['content-type'] !== undefined && !req.is(['application/json', 'application/*+json'])) {
    throw new AuthError('unsupported_media_type', 'send the body as JSON with `Content-Type: application/json`');
  }
  if (optional) return {};
  throw new AuthError('invalid_request', 'a JSON body is required', { errors: [{ path: '', message: 'a JSON object is required' }] });
}

/** Adds the endpoints to the router: guard when authenticated, then validation, then the handler. */
export function mountEndpoints(router: Router, endpoints: ReadonlyArray<Endpoint<z.ZodType | undefined, z.ZodType | undefined, boolean>>, guard: RequestHandler): void {
  for (const ep of endpoints) {
    const run: RequestHandler = async (req, res) => {
      const body = ep.body ? parse(ep.body, readBody(req, ep.bodyOptional ?? false), 'body') : undefined;
      const params = ep.params ? parse(ep.params, req.params, 'path') : undefined;
      const reply = await ep.handler({ body, params, auth: req.auth as never, req });
      if (reply.body === undefined) res.status(reply.status).end();
      else res.status(reply.status).json(reply.body);
    };
    const handlers = ep.authenticated ? [guard, run] : [run];
    router[ep.method](ep.path, ...handlers);
  }
}
