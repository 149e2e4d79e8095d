/**
 * Turns bench and example-app TypeScript into plain JavaScript under dist/, so that a
 * measured server runs on the built package as it would in production: a TypeScript
 * loader in the measured process adds its own start-up work and memory to the figures.
 * The output sits inside the package (dist/<dir>/), so `gatehouse-auth` resolves to dist/
 * by its own name. No type check here: `npm run typecheck` covers these files.
 * (The same approach as run.ts's transpileServer(), which can adopt this module.)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

export const root = resolve(import.meta.dirname, '..');

/**
 * Every module of the example app (example-app/*.ts), so a new file the app imports is
 * transpiled with it; its browser part (web/) is bundled by demo-page.ts instead.
 */
export const EXAMPLE_APP_FILES: readonly string[] = readdirSync(join(root, 'example-app'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => `example-app/${name}`);

/** Throws unless `npm run build` has produced dist/. */
export function assertBuilt(): void {
  if (!existsSync(join(root, 'dist', 'src', 'index.js')) || !existsSync(join(root, 'dist', 'src', 'passwords', 'bcrypt-worker.js'))) {
    throw new Error('dist/ is missing or incomplete: run `npm run build` first (`npm run bench` does)');
  }
}

export interface BuildOptions {
  /** Files relative to the repository root, e.g. 'example-app/server.ts'. */
  files: readonly string[];
  /** Directory name under dist/, e.g. '.bench-outside'; emptied first. */
  outDir: string;
  /** Directories (relative to the root) linked into the output, for files a module reads beside itself (example-app/web). */
  links?: readonly string[];
}

/** Transpiles `files` into dist/<outDir>/ keeping their relative paths; returns that directory. */
export function transpileToDist({ files, outDir, links = [] }: BuildOptions): string {
  assertBuilt();
  const buildDir = join(root, 'dist', outDir);
  rmSync(buildDir, { recursive: true, force: true });
  for (const file of files) {
    const source = readFileSync(join(root, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
    });
    const out = join(buildDir, file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  for (const link of links) {
    const at = join(buildDir, link);
    mkdirSync(dirname(at), { recursive: true });
    symlinkSync(join(root, link), at, 'dir');
  }
  return buildDir;
}

/** Removes what transpileToDist() wrote. */
export function removeBuild(outDir: string): void {
  rmSync(join(root, 'dist', outDir), { recursive: true, force: true });
}
