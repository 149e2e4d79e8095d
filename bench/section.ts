import { resolve } from 'node:path';

/**
 * What a benchmark module beside run.ts reports: figures printed under its title and
 * targets checked with PASS/FAIL in the summary. Each module exports one
 * `async function bench…(): Promise<BenchSection>` that starts and stops whatever it needs.
 */
export interface Target {
  name: string;
  measured: string;
  goal: string;
  pass: boolean;
}

export interface BenchSection {
  /** Heading printed above the lines, e.g. 'revocation across instances (PostgreSQL LISTEN/NOTIFY)'. */
  title: string;
  /** Figures, one per line, already formatted. */
  lines: string[];
  targets: Target[];
  /** Raw figures written into bench/results/latest.json under the section's title. */
  data?: unknown;
}

/**
 * A figure checked against `goal` (at least, or at most with `atMost`), as a target prints
 * it: two decimals, or three when two would round it onto the other side of its goal
 * (0.3996 against 0.40 prints 0.400, not a failing 0.40).
 */
export function figure(value: number, goal: number, atMost = false): string {
  const two = value.toFixed(2);
  const passes = (v: number) => (atMost ? v <= goal : v >= goal);
  return passes(value) === passes(Number(two)) ? two : value.toFixed(3);
}

/** A target as the reports print it: `PASS  name: measured (goal …)`. */
export function targetLine(t: Target): string {
  return `${t.pass ? 'PASS' : 'FAIL'}  ${t.name}: ${t.measured} (goal ${t.goal})`;
}

/**
 * Runs a section on its own when its module is the one Node started (`npx tsx bench/<name>.ts`),
 * and does nothing when run.ts imports it: prints the section, and exits 1 when a target fails.
 */
export async function runAlone(moduleFile: string, bench: () => Promise<BenchSection>): Promise<void> {
  if (!process.argv[1] || resolve(process.argv[1]) !== moduleFile) return;
  const section = await bench();
  console.log(`\n${section.title}`);
  for (const line of section.lines) console.log(`  ${line}`);
  console.log('');
  for (const t of section.targets) console.log(`  ${targetLine(t)}`);
  // Exit rather than wait for handles a section may leave (pools, agents): its work is done.
  process.exit(section.targets.every((t) => t.pass) ? 0 : 1);
}
