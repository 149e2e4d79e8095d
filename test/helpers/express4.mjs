// Loaded with `--import` by `npm run test:express4`: with GATEHOUSE_TEST_EXPRESS=4, every
// import of `express` (the tests' host apps and the router itself, as the peer dependency
// resolves to the host's copy in a real app) gets the `express4` dev dependency instead.
import Module, { createRequire, register } from 'node:module';
import process from 'node:process';

const swap = (specifier) => (specifier === 'express' || specifier.startsWith('express/') ? `express4${specifier.slice(7)}` : specifier);

if (process.env.GATEHOUSE_TEST_EXPRESS === '4') {
  const { version } = createRequire(import.meta.url)('express4/package.json');
  if (!version.startsWith('4.')) throw new Error(`express4 resolves to express ${version}`);
  // ESM imports go through a resolve hook...
  register(
    'data:text/javascript,' +
      encodeURIComponent(`export async function resolve(s, context, next) {
        return next(s === 'express' || s.startsWith('express/') ? 'express4' + s.slice(7) : s, context);
      }`),
  );
  // ...but tsx compiles the test files (and what they import) to CommonJS when mocha
  // require()s them, and require() skips resolve hooks on Node 20: patch its resolver too.
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return resolveFilename.call(this, swap(request), ...rest);
  };
  process.stderr.write(`gatehouse tests: express resolves to express ${version}\n`);
}
