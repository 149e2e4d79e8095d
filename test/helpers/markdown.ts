import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { delimiter, dirname } from 'node:path';

/** What a walkthrough printed, and how it ended. */
export interface BashRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The bodies of the fenced code blocks tagged `lang` in the section of `markdown`
 * under `heading` (e.g. '## Quick start'), up to the next heading of the same or a
 * higher level. Found by heading, not by line number, so the docs can grow around it.
 */
export function codeBlocksInSection(markdown: string, heading: string, lang: string): string[] {
  const level = /^#+/.exec(heading)?.[0].length;
  if (!level) throw new Error(`not a Markdown heading: ${heading}`);
  const lines = markdown.split(/\r?\n/);
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start === -1) throw new Error(`no "${heading}" section`);

  const blocks: string[] = [];
  let fence: { marker: string; body: string[]; wanted: boolean } | null = null;
  for (const line of lines.slice(start + 1)) {
    if (fence) {
      if (line.trim() === fence.marker) {
        if (fence.wanted) blocks.push(fence.body.join('\n'));
        fence = null;
      } else fence.body.push(line);
      continue;
    }
    // A '#' line inside a fence is a shell comment, so headings are only looked for outside fences.
    const headingLevel = /^(#{1,6})\s/.exec(line)?.[1]?.length;
    if (headingLevel !== undefined && headingLevel <= level) break;
    const [, marker, info] = /^(`{3,}|~{3,})\s*([\w+-]*)/.exec(line) ?? [];
    if (marker) fence = { marker, body: [], wanted: info === lang };
  }
  if (fence) throw new Error(`unclosed code block in "${heading}"`);
  return blocks;
}

/** Runs `script` in one bash that stops at the first failing command, as a careful reader's script would. */
export async function runBash(script: string, cwd: string): Promise<BashRun> {
  const child = spawn('bash', ['-c', `set -euo pipefail\n${script}`], {
    cwd,
    // The `json` helper runs `node`: the one running this test. curl must not send 127.0.0.1 to a proxy.
    env: { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
