import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { AuthError } from '../errors.js';
import type { AnyEndpoint, AuthMode, HttpMethod } from './endpoint.js';
import type { ErrorBodyWriter } from './problem.js';
import * as r from './responses.js';
import { packageVersion } from '../version.js';

/** @inline */
type JsonSchema = Record<string, unknown>;

/** What the document needs of a route: an Endpoint without its handler, or a plain route the router serves. */
export type DocumentedRoute = Pick<AnyEndpoint, 'method' | 'path' | 'summary' | 'auth' | 'body' | 'bodyOptional' | 'params' | 'query' | 'documentedParameters' | 'responses'>;

export interface OpenApiOptions {
  /** Where the router is mounted (`req.baseUrl`), the document's server URL. */
  basePath: string;
  /** False when API keys are accepted without `X-Tenant-Id`. Default true. */
  requireTenantId?: boolean;
  title?: string;
  version?: string;
  /**
   * How errors are written when not as problem+json (a preset's own error body):
   * every 4xx/5xx is documented with this media type and schema (null: not described).
   */
  errors?: { mediaType: string; schema: z.ZodType | null };
}

/** The error format of a preset's ErrorBodyWriter, asked of the writer itself; undefined for problem+json. */
export function errorFormat(writer: ErrorBodyWriter | undefined): OpenApiOptions['errors'] {
  if (writer === undefined) return undefined;
  return { mediaType: writer(new AuthError('invalid_request', 'sample')).contentType, schema: null };
}

// Operations are grouped by the first path segment; unknown segments get a tag of their own.
const TAGS: Record<string, string> = {
  signup: 'Accounts',
  signin: 'Accounts',
  refresh: 'Accounts',
  logout: 'Accounts',
  me: 'Accounts',
  'setup-org': 'Accounts',
  'switch-org': 'Accounts',
  google: 'Accounts',
  orgs: 'Organizations',
  'api-keys': 'API keys',
  mfa: 'MFA',
  'iot-credentials': 'Realtime',
  '.well-known': 'Discovery',
  'openapi.json': 'Discovery',
};

// The first known segment wins, so routes a preset serves under a prefix (/api/auth/orgs) keep their group.
const tagOf = (path: string) => {
  const segments = path.split('/').filter(Boolean);
  const known = segments.find((segment) => TAGS[segment] !== undefined);
  return known ? (TAGS[known] as string) : (segments[0]?.replace(/^\./, '') ?? 'Other');
};

const SECURITY: Record<Exclude<AuthMode, 'none'>, (tenant: boolean) => Array<Record<string, string[]>>> = {
  jwt: () => [{ bearerAuth: [] }],
  any: (tenant) => [{ bearerAuth: [] }, tenant ? { apiKey: [], tenantId: [] } : ({ apiKey: [] } as Record<string, string[]>)],
};

/**
 * Converts one zod schema, moving its named sub-schemas into `components.schemas`.
 * Request schemas are read as input (before transforms), responses as output.
 */
function converter(components: Record<string, JsonSchema>) {
  return (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const json = z.toJSONSchema(schema, {
      io,
      ...(io === 'output' ? { metadata: r.metadata } : {}),
      // zod adds a regex next to `format: date-time` and safe-integer bounds to every int: noise for readers.
      override: ({ jsonSchema: js }) => {
        if (js.format === 'date-time') delete js.pattern;
        if (js.minimum === Number.MIN_SAFE_INTEGER) delete js.minimum;
        if (js.maximum === Number.MAX_SAFE_INTEGER) delete js.maximum;
      },
    }) as JsonSchema;
    const { $schema: _schema, $defs, ...rest } = json;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
      const moved = relink(def) as JsonSchema;
      if (components[id] !== undefined && JSON.stringify(components[id]) !== JSON.stringify(moved)) {
        throw new Error(`openapi: two different schemas are named ${id}`);
      }
      components[id] = moved;
    }
    return relink(rest) as JsonSchema;
  };
}

/** Points `#/$defs/X` references at `#/components/schemas/X`. */
function relink(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(relink);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace('#/$defs/', '#/components/schemas/') : relink(v)]),
  );
}

function parameters(route: DocumentedRoute, convert: ReturnType<typeof converter>) {
  const out: JsonSchema[] = [];
  const pathSchema = route.params ? convert(route.params, 'input') : { properties: {} };
  for (const name of route.path.match(/:(\w+)/g) ?? []) {
    const key = name.slice(1);
    const schema = (pathSchema.properties as Record<string, JsonSchema>)[key] ?? { type: 'string' };
    out.push({ name: key, in: 'path', required: true, schema });
  }
  if (route.query) {
    const query = convert(route.query, 'input');
    const required = (query.required ?? []) as string[];
    for (const [name, schema] of Object.entries((query.properties ?? {}) as Record<string, JsonSchema>)) {
      out.push({ name, in: 'query', required: required.includes(name), schema });
    }
  }
  for (const p of route.documentedParameters ?? []) {
    out.push({ name: p.name, in: p.in, required: false, description: p.description, schema: p.enum ? { type: 'string', enum: [...p.enum] } : { type: 'string' } });
  }
  return out;
}

function responses(route: DocumentedRoute, convert: ReturnType<typeof converter>, errors: OpenApiOptions['errors']) {
  const out: Record<string, JsonSchema> = {};
  // problem+json by default; a preset's own error body replaces every error schema.
  const errorContent = (schema: z.ZodType) =>
    errors ? { [errors.mediaType]: { schema: errors.schema ? convert(errors.schema, 'output') : {} } } : { 'application/problem+json': { schema: convert(schema, 'output') } };
  for (const [status, schema] of Object.entries(route.responses ?? {})) {
    const description = STATUS_CODES[Number(status)] ?? status;
    if (schema === null || schema === undefined) out[status] = { description };
    else if (Number(status) >= 400) out[status] = { description, content: errorContent(schema) };
    else out[status] = { description, content: { 'application/json': { schema: convert(schema, 'output') } } };
  }
  if (!Object.keys(out).some((status) => Number(status) < 400)) out['2XX'] = { description: 'Success (the body is not described for this route)' };
  const generic = (status: number, why: string) => {
    out[status] ??= { description: `${STATUS_CODES[status]}: ${why}`, content: errorContent(r.problem) };
  };
  if (route.body || route.params || route.query) generic(400, 'invalid input, with per-field `errors`');
  if (route.auth !== 'none') {
    generic(401, 'missing, invalid, expired or revoked credentials');
    generic(403, 'the role or organization does not allow it');
  }
  if (route.body) {
    generic(413, 'the body is larger than 32 kB');
    generic(415, 'the body is not JSON');
  }
  out.default = { description: 'Any other error (for example 429 when throttled, 503 when storage is down)', content: errorContent(r.problem) };
  return out;
}

const operationId = (method: HttpMethod, path: string) =>
  method + path.replace(/[^A-Za-z0-9:]+(.?)/g, (_m, c: string) => c.toUpperCase()).replace(/:(\w)/g, (_m, c: string) => `By${c.toUpperCase()}`);

/** An OpenAPI 3.1 document of exactly the routes given, from their zod schemas. */
export function buildOpenApiDocument(routes: readonly DocumentedRoute[], options: OpenApiOptions) {
  const schemas: Record<string, JsonSchema> = {};
  const convert = converter(schemas);
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const tags = new Set<string>();

  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const tag = tagOf(route.path);
    tags.add(tag);
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      const operation: JsonSchema = { operationId: operationId(method, route.path), summary: route.summary, tags: [tag] };
      const params = parameters(route, convert);
      if (params.length > 0) operation.parameters = params;
      if (route.body) {
        operation.requestBody = { required: !(route.bodyOptional ?? false), content: { 'application/json': { schema: convert(route.body, 'input') } } };
      }
      operation.responses = responses(route, convert, options.errors);
      if (route.auth !== 'none') operation.security = SECURITY[route.auth](options.requireTenantId ?? true);
      // Express serves the first route registered for a method and path: so does the document.
      (paths[path] ??= {})[method] ??= operation;
    }
  }

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'gatehouse auth API',
      version: options.version ?? packageVersion,
      description: options.errors
        ? 'Accounts, organizations, rotating tokens, API keys, MFA and realtime credentials.'
        : 'Accounts, organizations, rotating tokens, API keys, MFA and realtime credentials. Errors are application/problem+json with a stable `code`.',
    },
    servers: [{ url: options.basePath === '' ? '/' : options.basePath }],
    tags: [...tags].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from /signin, /refresh, /mfa/verify or /switch-org' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key from POST /api-keys' },
        tenantId: { type: 'apiKey', in: 'header', name: 'X-Tenant-Id', description: 'The id of the organization the API key belongs to' },
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

/** Plain routes the router serves next to its endpoints, described for the document. */
export const jwksRoute: DocumentedRoute = {
  method: 'get',
  path: '/.well-known/jwks.json',
  summary: 'Public keys that verify the tokens (RS256 or ES256 only)',
  auth: 'none',
  responses: { 200: z.object({ keys: z.array(z.looseObject({ kty: z.string(), kid: z.string(), alg: z.string(), use: z.string() })) }) },
};

export const openApiRoute: DocumentedRoute = {
  method: 'get',
  path: '/openapi.json',
  summary: 'This document: the routes of the active configuration',
  auth: 'none',
  responses: { 200: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.record(z.string(), z.looseObject({})) }) },
};
