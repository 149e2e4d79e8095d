/**
 * The common-password list of zxcvbn (package @zxcvbn-ts/language-common, MIT, pinned):
 * about 49,000 passwords most often found in leaks, lowercase, most frequent first.
 * Loaded on first use (it is decompressed on import), and kept as a set.
 */

// Shorter words only matter as the stem of a longer password (`Love12345!`), and a
// stem under this length would refuse random-looking passwords such as `ab4821…`.
const MIN_STEM = 4;

let loading: Promise<ReadonlySet<string>> | undefined;

function commonPasswords(): Promise<ReadonlySet<string>> {
  loading ??= import('@zxcvbn-ts/language-common')
    .then(({ dictionary }) => new Set(dictionary['passwords-common'].filter((word) => word.length >= MIN_STEM)))
    .catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
  return loading;
}

/**
 * True when the password, ignoring case, is on the list, or is a listed word with
 * digits or symbols before or after it (`Password1!`, `2024dragon`).
 */
export async function isCommonPassword(password: string): Promise<boolean> {
  const list = await commonPasswords();
  const lower = password.normalize('NFKC').toLowerCase();
  if (list.has(lower)) return true;
  const stem = lower.replace(/^[^\p{L}]+/u, '').replace(/[^\p{L}]+$/u, '');
  return stem.length >= MIN_STEM && list.has(stem);
}
