import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import express, { type Express } from 'express';

const here = import.meta.dirname;
const web = join(here, 'web');

/**
 * Bundles the page's TypeScript with esbuild in memory. Done at start rather than as
 * a build step, so a fresh clone needs only `npm install && npm run example`.
 * `gatehouse-source` makes `gatehouse-auth/client` resolve to src/ like the server does;
 * the browser platform picks mqtt's browser build.
 */
async function bundle(): Promise<Map<string, string>> {
  const result = await build({
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
  });
  return new Map(result.outputFiles.map((file) => [file.path.replace(/^.*\//, ''), file.text]));
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
  app.get('/docs', (_req, res) => res.sendFile(join(web, 'public/docs.html')));
  app.use('/docs/assets', express.static(swaggerUi, { index: false }));
  // The links in mails (gatehouse's default URL templates) open the page, which reads the token.
  app.get(['/verify-email', '/reset-password', '/accept-invitation'], (_req, res) => {
    // The token is in the query string: tell the browser not to pass the URL on to anyone.
    res.set('referrer-policy', 'no-referrer').sendFile(join(web, 'public/index.html'));
  });
  app.use(express.static(join(web, 'public'), { index: 'index.html' }));
}
