/**
 * The common-password list of zxcvbn (package @zxcvbn-ts/language-common, MIT, pinned):
 * about 49,000 passwords most often found in leaks, lowercase, most frequent first.
 * Loaded on first use (it is decompressed on load), and kept compactly: the package
 * holds it as 49,000 strings beside lists we do not use, so it is read once, sorted
 * into one string with an index, and the package is let go. Every object kept in the
 * heap adds to the cost of each garbage collection for the life of the process.
 */
import { createRequire } from 'node:module';
import { sep } from 'node:path';

// Shorter words only matter as the stem of a longer password (`Love12345!`), and a
// stem under this length would refuse random-looking passwords such as `ab4821…`.
const MIN_STEM = 4;

/** Sorted words joined by '\n'; `starts[i]` is where word i begins, `starts[n]` is past the end. */
interface WordList {
  text: string;
  starts: Uint32Array;
}

function load(): WordList {
  const require = createRequire(import.meta.url);
  const { dictionary } = require('@zxcvbn-ts/language-common') as { dictionary: Record<string, readonly string[] | undefined> };
  const passwords = dictionary['passwords-common'];
  // Required (CommonJS) rather than imported, so the package's modules can be dropped from
  // the cache and collected: an imported module's exports stay in the heap for good.
  for (const file of Object.keys(require.cache)) {
    if (file.includes(`${sep}@zxcvbn-ts${sep}`)) delete require.cache[file];
  }
  if (!passwords) throw new Error("@zxcvbn-ts/language-common has no 'passwords-common' list");
  // Code-unit order, the order `<` compares strings in.
  const words = [...new Set(passwords.filter((word) => word.length >= MIN_STEM))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const starts = new Uint32Array(words.length + 1);
  let at = 0;
  words.forEach((word, i) => {
    starts[i] = at;
    at += word.length + 1;
  });
  starts[words.length] = at;
  return { text: words.join('\n') + '\n', starts };
}

let list: WordList | undefined;

/** Binary search of the sorted list. */
function has({ text, starts }: WordList, word: string): boolean {
  let low = 0;
  let high = starts.length - 2;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const candidate = text.slice(starts[mid], (starts[mid + 1] as number) - 1);
    if (candidate === word) return true;
    if (candidate < word) low = mid + 1;
    else high = mid - 1;
  }
  return false;
}

/**
 * True when the password, ignoring case, is on the list, or is a listed word with
 * digits or symbols before or after it (`Password1!`, `2024dragon`).
 */
export async function isCommonPassword(password: string): Promise<boolean> {
  list ??= load();
  const lower = password.normalize('NFKC').toLowerCase();
  if (has(list, lower)) return true;
  const stem = lower.replace(/^[^\p{L}]+/u, '').replace(/[^\p{L}]+$/u, '');
  return stem.length >= MIN_STEM && has(list, stem);
}
