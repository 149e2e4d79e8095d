/**
 * A small JSON Schema (2020-12) checker for the subset the OpenAPI document uses,
 * written for the tests so that responses are checked against the published
 * document itself, not against the zod schemas it was generated from. Unknown
 * keywords are reported, never skipped, so the checker cannot pass by ignoring a rule.
 */

type Schema = Record<string, unknown> | boolean;

const ANNOTATIONS = new Set(['description', 'title', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly', '$schema', 'id']);
const HANDLED = new Set([
  '$ref',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'allOf',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
]);

const FORMATS: Record<string, (v: string) => boolean> = {
  'date-time': (v) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v)),
  email: (v) => /^[^\s@]+@[^\s@]+$/.test(v),
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value);
  return typeOf(value) === type;
}

/** Resolves `#/a/b` references against `root` (the OpenAPI document). */
function resolve(root: unknown, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (node === undefined) throw new Error(`$ref ${ref} does not resolve`);
  }
  return node as Schema;
}

/** Problems of `value` against `schema`, each with its JSON path; empty when it conforms. */
export function validate(schema: Schema, value: unknown, root: unknown, path = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value is allowed here`];
  const errors: string[] = [];
  const fail = (message: string) => errors.push(`${path}: ${message}`);

  for (const key of Object.keys(schema)) {
    if (!HANDLED.has(key) && !ANNOTATIONS.has(key)) fail(`unsupported schema keyword "${key}"`);
  }
  if (typeof schema.$ref === 'string') errors.push(...validate(resolve(root, schema.$ref), value, root, path));

  if (schema.type !== undefined) {
    const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];
    if (!types.some((t) => hasType(value, t))) return [...errors, `${path}: expected ${types.join(' or ')}, got ${typeOf(value)}`];
  }
  if (schema.enum !== undefined && !(schema.enum as unknown[]).some((e) => e === value)) fail(`${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && schema.const !== value) fail(`expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);

  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) fail(`shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) fail(`longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) fail(`does not match ${schema.pattern}`);
    if (typeof schema.format === 'string') {
      const check = FORMATS[schema.format];
      if (!check) fail(`unsupported format "${schema.format}"`);
      else if (!check(value)) fail(`is not a valid ${schema.format}: ${JSON.stringify(value)}`);
    }
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`above ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) fail(`not above ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) fail(`not below ${schema.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail(`fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) fail(`more than ${schema.maxItems} items`);
    if (schema.items !== undefined) value.forEach((item, i) => errors.push(...validate(schema.items as Schema, item, root, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in object)) fail(`missing required property "${key}"`);
    for (const [key, item] of Object.entries(object)) {
      if (schema.propertyNames !== undefined) errors.push(...validate(schema.propertyNames as Schema, key, root, `${path}[${JSON.stringify(key)}]`));
      if (key in properties) errors.push(...validate(properties[key] as Schema, item, root, `${path}.${key}`));
      else if (schema.additionalProperties !== undefined) errors.push(...validate(schema.additionalProperties as Schema, item, root, `${path}.${key}`));
    }
  }

  for (const sub of (schema.allOf ?? []) as Schema[]) errors.push(...validate(sub, value, root, path));
  if (schema.anyOf !== undefined) {
    const results = (schema.anyOf as Schema[]).map((sub) => validate(sub, value, root, path));
    if (!results.some((r) => r.length === 0)) fail(`matches none of anyOf: ${results.map((r) => r.join(', ')).join(' | ')}`);
  }
  if (schema.oneOf !== undefined) {
    const results = (schema.oneOf as Schema[]).map((sub) => validate(sub, value, root, path));
    const passing = results.filter((r) => r.length === 0).length;
    if (passing !== 1) fail(`matches ${passing} of oneOf, expected exactly 1: ${results.map((r) => r.join(', ')).join(' | ')}`);
  }
  return errors;
}
