const NUL = '\u0000';
const MAX_REPORTED = 10;

/**
 * The dotted paths of the strings (object keys included) that contain a NUL character,
 * in a parsed body, path or query, at most ten. No field of ours has a use for one, and
 * PostgreSQL refuses it in text columns. Iterative, so a deeply nested body cannot
 * overflow the stack.
 */
export function findNulCharacters(value: unknown): string[] {
  const found: string[] = [];
  const pending: Array<[unknown, string]> = [[value, '']];
  while (pending.length > 0 && found.length < MAX_REPORTED) {
    const [current, path] = pending.pop() as [unknown, string];
    if (typeof current === 'string') {
      if (current.includes(NUL)) found.push(path);
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, child] of Object.entries(current)) {
        const childPath = path === '' ? key : `${path}.${key}`;
        if (key.includes(NUL)) found.push(childPath);
        else pending.push([child, childPath]);
      }
    }
  }
  return found.slice(0, MAX_REPORTED);
}
