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
