/** A duration: seconds as a number, or a string such as '90s', '15m', '12h', '30d'. */
export type Duration = number | `${number}${'s' | 'm' | 'h' | 'd'}`;

const unitSeconds = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Whole seconds of a Duration; throws a TypeError naming `option` when it is not a positive duration. */
export function toSeconds(value: Duration, option: string): number {
  let seconds: number;
  if (typeof value === 'number') {
    seconds = value;
  } else {
    const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(String(value));
    if (!match) throw new TypeError(`${option} must be a number of seconds or a string like '15m', '12h', '30d' (got ${JSON.stringify(value)})`);
    seconds = Number(match[1]) * unitSeconds[match[2] as keyof typeof unitSeconds];
  }
  if (!Number.isFinite(seconds) || seconds < 1) {
    throw new TypeError(`${option} must be at least one second (got ${JSON.stringify(value)})`);
  }
  return Math.floor(seconds);
}
