import type * as Jose from 'jose';
import type * as OpenIdClient from 'openid-client';
import { lazyPackage } from '../core/lazy-package.js';

/** The packages Google sign-in and external tokens are built on. */
export interface IdentityPackages {
  jose: typeof Jose;
  oidc: typeof OpenIdClient;
}

/**
 * openid-client and jose (about 1.5 MB of heap together), loaded by the first Google
 * sign-in or external token. Only the packages are imported on demand, not our own
 * modules: where this code runs as CommonJS (tsx under mocha), a module of ours imported
 * with import() would get its own copy of src/errors.ts, and its AuthErrors would no
 * longer be recognised as such.
 */
const loaders = new Map<string, () => Promise<IdentityPackages>>();
export function loadIdentityPackages(feature: string): Promise<IdentityPackages> {
  let load = loaders.get(feature);
  if (!load) {
    load = lazyPackage(feature, 'the packages openid-client and jose', async () => {
      const [jose, oidc] = await Promise.all([import('jose'), import('openid-client')]);
      return { jose, oidc };
    });
    loaders.set(feature, load);
  }
  return load();
}
