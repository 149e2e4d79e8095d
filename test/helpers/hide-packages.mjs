/* global process */
// Preloaded with `node --import` in a child process: makes the packages named in
// GATEHOUSE_HIDE_PACKAGES (comma-separated) unresolvable, as in a host that has not
// installed them. Module resolution itself fails (for `import()` and
// `import.meta.resolve`), so the code under test runs unchanged.
import { register } from 'node:module';

const hidden = (process.env.GATEHOUSE_HIDE_PACKAGES ?? '').split(',').filter(Boolean);

const hooks = `
let hidden = [];
export function initialize(data) { hidden = data.hidden; }
export async function resolve(specifier, context, next) {
  if (hidden.some((name) => specifier === name || specifier.startsWith(name + '/'))) {
    const err = new Error("Cannot find package '" + specifier + "' (hidden by test/helpers/hide-packages.mjs)");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`;

register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { hidden } });
