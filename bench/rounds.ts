/**
 * Ratios to a bare reference measured in alternating rounds (bench/run.ts, bench/outside.ts).
 *
 * On a shared machine the bare reference alone moved by 40 % within one run, so one
 * long run of a scenario against one bare run beside it gave a ratio that flipped
 * between PASS and FAIL with the same code. Instead the scenario and the bare route
 * alternate in short rounds, in pairs whose order flips from one pair to the next
 * (bare X, X bare, bare X, …: ABBA), and each round of the scenario is divided by the
 * bare round of its pair. The figure is the median of those ratios, which one burst of
 * other work on the machine (one spoilt round) does not move; the lowest and highest
 * say how steady it was.
 *
 * Why pairs and not each round against the mean of the bare rounds on both sides: other
 * work only ever slows a round down, and a slowed bare round would then raise two
 * ratios while a slowed scenario round lowers one, so the median would lean upwards. In
 * a pair every round counts once, on its own side. A drift that is linear in time raises
 * the ratio of a bare-first pair as much as it lowers that of the next, scenario-first
 * one, so over an even number of pairs it cancels.
 */
import { num } from './process.js';

/**
 * Rounds of each scenario, as many as pairs (BENCH_ROUNDS, default `fallback`; an even
 * number balances the pairs' order), and seconds per round (see roundSecondsOf).
 */
export function roundSettings(duration: number, fallback: number): { rounds: number; roundSeconds: number } {
  const rounds = Math.max(1, Math.round(num('BENCH_ROUNDS', fallback)));
  const roundSeconds = roundSecondsOf(duration);
  return { rounds, roundSeconds };
}

/** BENCH_ROUND_SECONDS, default a fifth of `duration` (BENCH_DURATION; 2 s of the default 10), at least 1 s. */
export function roundSecondsOf(duration: number): number {
  const seconds = num('BENCH_ROUND_SECONDS', Math.max(1, duration / 5));
  if (seconds <= 0) throw new Error('BENCH_ROUND_SECONDS must be above 0');
  return seconds;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export interface RatioSummary {
  /** The median of the per-pair ratios: the target's figure. */
  median: number;
  min: number;
  max: number;
  /** All the scenario's rounds over all their bare partners (mean rps over mean rps): beside the median, a check that it is not skewed. */
  pooled: number;
  /** One per pair, in the order they ran. */
  ratios: number[];
}

/** Pair `pair` (0-based, counted over a scenario's whole schedule) runs bare first when even. */
export function bareFirst(pair: number): boolean {
  return pair % 2 === 0;
}

/**
 * The pairs of `runs`: each run of a pair carries the pair's number (`pairOf`), unique
 * over everything passed in; returns [scenario round, bare round] per pair, in the
 * order the pairs ran.
 */
export function pairUp<T>(runs: readonly T[], pairOf: (run: T) => number | undefined, isBare: (run: T) => boolean): Array<[T, T]> {
  const byPair = new Map<number, T[]>();
  for (const run of runs) {
    const pair = pairOf(run);
    if (pair === undefined) continue;
    byPair.set(pair, [...(byPair.get(pair) ?? []), run]);
  }
  return [...byPair.values()].map((members) => {
    const bare = members.filter(isBare);
    const scenario = members.filter((run) => !isBare(run));
    if (members.length !== 2 || bare.length !== 1) throw new Error('a pair of rounds is one scenario round and one bare round');
    return [scenario[0] as T, bare[0] as T];
  });
}

/** The ratio of each pair's scenario round to its bare round (by `value`, e.g. req/s), and their median, spread and pooled ratio. */
export function pairRatios<T>(pairs: ReadonlyArray<readonly [T, T]>, value: (run: T) => number): RatioSummary {
  if (pairs.length === 0) throw new Error('no pairs of rounds');
  const ratios = pairs.map(([x, bare]) => value(x) / value(bare));
  return {
    median: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    pooled: pairs.reduce((sum, [x]) => sum + value(x), 0) / pairs.reduce((sum, [, bare]) => sum + value(bare), 0),
    ratios,
  };
}
