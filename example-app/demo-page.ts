import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';
import express, { type Express } from 'express';

const here = import.meta.dirname;
const web = join(here, 'web');

// Runs in a child process (an ES module from a string: the example's files run as they are,
// by tsx or transpiled), so esbuild's JavaScript API and its service process stay out of
// the server: nothing of them is left in its heap, nor a process among its children.
const BUNDLER = `
process.once('message', async ({ esbuild, options }) => {
  const { build, stop } = await import(esbuild);
  let reply;
  try {
    const result = await build(options);
    reply = { files: result.outputFiles.map((file) => ({ path: file.path, contents: file.contents })) };
  } catch (err) {
    reply = { error: err instanceof Error ? err.message : String(err) };
  }
  await stop();
  process.send(reply, () => process.disconnect());
});
`;

type BundlerReply = { files: { path: string; contents: Uint8Array }[] } | { error: string };

/**
 * Bundles the page's TypeScript with esbuild in memory. Done at start rather than as
 * a build step, so a fresh clone needs only `npm install && npm run example`.
 * `gatehouse-source` makes `gatehouse-auth/client` resolve to src/ like the server does;
 * the browser platform picks mqtt's browser build. The files are kept as Buffers (about
 * 1.5 MB with the source maps): outside the JavaScript heap, which every garbage
 * collection of the server walks.
 */
async function bundle(): Promise<Map<string, Buffer>> {
  const options: BuildOptions = {
    entryPoints: { app: join(web, 'src/main.ts'), docs: join(web, 'src/docs.ts') },
    bundle: true,
    write: false,
    outdir: '/',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['gatehouse-source'],
    sourcemap: 'linked',
    logLevel: 'silent',
  };
  const child = spawn(process.execPath, ['--input-type=module', '-e', BUNDLER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  let reply: BundlerReply | undefined;
  child.once('message', (message: BundlerReply) => (reply = message));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  // 'disconnect' comes once every message has been read; 'exit' may come before.
  const drained = new Promise((resolve) => child.once('disconnect', resolve));
  child.send({ esbuild: import.meta.resolve('esbuild'), options });
  const code = await exited;
  await drained;
  if (reply === undefined) throw new Error(`the demo page bundler exited (${code}) without a result`);
  if ('error' in reply) throw new Error(`bundling the demo page failed: ${reply.error}`);
  return new Map(reply.files.map(({ path, contents }) => [path.replace(/^.*\//, ''), Buffer.from(contents.buffer, contents.byteOffset, contents.byteLength)]));
}

/**
 * Serves the demo page at `/` (and at the paths of the links in mails), its script and
 * stylesheet, and Swagger UI at `/docs` (swagger-ui-dist from node_modules: no CDN). Resolves once the bundle is built, so
 * a broken page fails the start instead of the first visit.
 */
export async function mountDemoPage(app: Express): Promise<void> {
  const files = await bundle();
  const swaggerUi = dirname(fileURLToPath(import.meta.resolve('swagger-ui-dist/package.json')));

  const script = (name: string) => (_req: express.Request, res: express.Response) => {
    res.type('text/javascript').send(files.get(name));
  };
  app.get('/app.js', script('app.js'));
  app.get('/docs.js', script('docs.js'));
  app.get(['/app.js.map', '/docs.js.map'], (req, res) => void res.type('application/json').send(files.get(req.path.slice(1))));
  // The receiver card shows the signature check it runs as its source (docs/webhooks.md quotes the same file).
  app.get('/demo/verify-webhook.ts', (_req, res) => res.type('text/plain').sendFile(join(web, 'src/verify-webhook.ts')));
  app.get('/docs', (_req, res) => res.sendFile(join(web, 'public/docs.html')));
  app.use('/docs/assets', express.static(swaggerUi, { index: false }));
  // The links in mails (gatehouse's default URL templates) open the page, which reads the token.
  app.get(['/verify-email', '/reset-password', '/accept-invitation'], (_req, res) => {
    // The token is in the query string: tell the browser not to pass the URL on to anyone.
    res.set('referrer-policy', 'no-referrer').sendFile(join(web, 'public/index.html'));
  });
  app.use(express.static(join(web, 'public'), { index: 'index.html' }));
}
