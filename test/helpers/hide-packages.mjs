/* global process */
// Preloaded with `node --import` in a child process: makes the packages named in
// GATEHOUSE_HIDE_PACKAGES (comma-separated) unresolvable, as in a host that has not
// installed them. Module resolution itself fails (for `import()` and
// `import.meta.resolve`), so the code under test runs unchanged.
// With GATEHOUSE_HIDE_WHILE set to a file path they are hidden only while that file
// exists: deleting it makes the next import succeed, as after a failed load.
import { register } from 'node:module';

const hidden = (process.env.GATEHOUSE_HIDE_PACKAGES ?? '').split(',').filter(Boolean);
const whileFile = process.env.GATEHOUSE_HIDE_WHILE ?? null;

const hooks = `
import { existsSync } from 'node:fs';
let hidden = [];
let whileFile = null;
export function initialize(data) { hidden = data.hidden; whileFile = data.whileFile; }
export async function resolve(specifier, context, next) {
  if (hidden.some((name) => specifier === name || specifier.startsWith(name + '/')) && (whileFile === null || existsSync(whileFile))) {
    const err = new Error("Cannot find package '" + specifier + "' (hidden by test/helpers/hide-packages.mjs)");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`;

register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { hidden, whileFile } });
