import { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import type { AuthContext } from './auth-context.js';

/**
 * `req.auth`, kept without adding a property to the request object.
 *
 * Express gives every request object a hidden class of its own (two requests in flight
 * at the same middleware have different maps; under plain `node:http` they share one),
 * so V8 has no transition to reuse: each property added to a request builds a new
 * hidden class and descriptor array for that one object. For `req.auth` that measured
 * 1.5-2.2 KB more allocated and 0.7-0.9 KB more promoted to the old generation per
 * request (`--trace-gc-nvp`, 40,000 requests), garbage every young collection of the
 * host then carries.
 *
 * So `auth` is an accessor, defined once on the prototype every Express app's requests
 * share (the one right above `http.IncomingMessage.prototype`: Express's own request
 * object, so requests passed between mounted apps keep it), and the value lives in a
 * WeakMap keyed by the request. Anything that assigns `req.auth` (a handler changing it,
 * another library setting its own) goes through the same accessor. Node's own
 * `IncomingMessage.prototype` is never changed. A request without Express's prototype
 * in its chain, or with a frozen one, gets an own property as before; where a prototype
 * already defines `auth`, that definition is left to take the assignment.
 */
const values = new WeakMap<object, AuthContext | undefined>();
const seen = new WeakSet<object>();

const accessor: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: object): AuthContext | undefined {
    return values.get(this);
  },
  set(this: object, value: AuthContext | undefined) {
    values.set(this, value);
  },
};

/** Defines the accessor on the shared base of `proto`'s chain, when it has one and nothing there defines `auth`. */
function prepare(proto: object): void {
  seen.add(proto);
  let base = proto;
  for (let up = Object.getPrototypeOf(base) as object | null; up !== IncomingMessage.prototype; up = Object.getPrototypeOf(base) as object | null) {
    if (up === null) return;
    base = up;
  }
  for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    if (Object.prototype.hasOwnProperty.call(p, 'auth')) return;
  }
  // A frozen or sealed prototype keeps the own property.
  if (Object.isExtensible(base)) Object.defineProperty(base, 'auth', accessor);
}

export function setRequestAuth(req: Request, auth: AuthContext): void {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto !== null && proto !== IncomingMessage.prototype && !seen.has(proto)) prepare(proto);
  req.auth = auth;
}
