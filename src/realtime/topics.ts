/**
 * Topic rules for realtime clients, shared by every broker integration (aedes,
 * EMQX, AWS IoT). A client holds a token bound to one topic prefix
 * (`<namespace>/<orgId>`) and may only touch topics strictly below it.
 *
 * The functions are pure and deny by default: anything they do not positively
 * recognise as "under the prefix" is refused.
 */

/** MQTT encodes topic lengths in two bytes (MQTT 3.1.1 §1.5.3). */
export const MAX_TOPIC_BYTES = 65_535;

const SHARE = '$share/';
const QUEUE = '$queue/';

/**
 * NUL is forbidden by the spec; other C0/C1 controls are "SHOULD NOT" there, and
 * we refuse them too: they only ever show up in fuzzing or log-injection attempts.
 */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** A lone surrogate cannot be encoded as UTF-8, so brokers would reject or mangle it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Text every topic, filter and prefix must be: well-formed, control-free, within the length limit. */
function isCleanText(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    !CONTROL_CHARS.test(value) &&
    !LONE_SURROGATE.test(value) &&
    Buffer.byteLength(value, 'utf8') <= MAX_TOPIC_BYTES
  );
}

/**
 * A literal level: non-empty (`a//b` is a distinct topic from `a/b` and only
 * invites confusion), wildcard-free, and not `.`/`..` (some bridges and HTTP
 * gateways normalise topics as paths, so `prefix/../other` could escape).
 */
function isLiteralLevel(level: string): boolean {
  return level.length > 0 && level !== '.' && level !== '..' && !level.includes('+') && !level.includes('#');
}

/**
 * A prefix is a sequence of literal levels that does not start with `$` (which
 * the spec reserves for broker-internal topics). Checked on every call so that a
 * malformed prefix can never widen what a client may touch.
 */
export function isValidPrefix(prefix: string): boolean {
  return isCleanText(prefix) && !prefix.startsWith('$') && prefix.split('/').every(isLiteralLevel);
}

/**
 * The levels after `<prefix>/`, or null when `value` is not strictly under the
 * prefix. Comparing against `prefix + '/'` (not `prefix`) is what keeps
 * `axonpush/org1` from reaching `axonpush/org10/...`, and also refuses `prefix`
 * itself, `prefix#` and `prefix+`.
 */
function levelsUnder(prefix: string, value: string): string[] | null {
  if (!isValidPrefix(prefix) || !value.startsWith(`${prefix}/`)) return null;
  return value.slice(prefix.length + 1).split('/');
}

/**
 * May a client bound to `prefix` PUBLISH to `topic`?
 *
 * Topic names carry no wildcards (the spec forbids them in PUBLISH), must be
 * clean UTF-8 of at most 65535 bytes, and every level after the prefix must be a
 * literal level. Anything starting with `$` (`$SYS/...`) fails because no valid
 * prefix starts with `$`.
 */
export function isAllowedTopic(prefix: string, topic: string): boolean {
  if (!isCleanText(topic)) return false;
  const levels = levelsUnder(prefix, topic);
  return levels !== null && levels.every(isLiteralLevel);
}

/**
 * A plain (non-shared) filter strictly under `prefix`. The prefix levels are
 * compared literally, so a wildcard can only appear after them: `+/org/x`,
 * `axonpush/+/x`, `axonpush/#` and bare `#` all fail, since each could match
 * another org. Wildcards must follow the spec: `+` is a whole level, `#` is a
 * whole level and the last one.
 */
function isAllowedPlainFilter(prefix: string, filter: string): boolean {
  const levels = levelsUnder(prefix, filter);
  if (levels === null) return false;
  return levels.every((level, i) => level === '+' || (level === '#' && i === levels.length - 1) || isLiteralLevel(level));
}

/**
 * May a client bound to `prefix` SUBSCRIBE with `filter`?
 *
 * Shared subscriptions (`$share/<group>/<filter>`, and EMQX's `$queue/<filter>`)
 * are allowed when the inner filter passes the plain check: the group only
 * names who shares the load, it does not widen what is received. The group must
 * be a literal level, so `$share//x` and `$share/+/x` fail, as does `$share/g`
 * (no filter at all). Every other `$` filter (`$SYS/#`, nested `$share`) fails.
 */
export function isAllowedFilter(prefix: string, filter: string): boolean {
  if (!isCleanText(filter)) return false;
  if (filter.startsWith(SHARE)) {
    const rest = filter.slice(SHARE.length);
    const slash = rest.indexOf('/');
    if (slash < 0) return false;
    const group = rest.slice(0, slash);
    const inner = rest.slice(slash + 1);
    return isLiteralLevel(group) && isAllowedPlainFilter(prefix, inner);
  }
  if (filter.startsWith(QUEUE)) {
    return isAllowedPlainFilter(prefix, filter.slice(QUEUE.length));
  }
  // A valid prefix never starts with `$`, so `$SYS/#` and nested `$share` fail here.
  return isAllowedPlainFilter(prefix, filter);
}
