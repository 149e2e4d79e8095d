/**
 * Revocations for a broker that runs in its own process, away from the auth router:
 * it reads the router's database (read only) and polls it, as a router instance does.
 * A broker with only the signing key and no watcher cannot see revocations at all:
 * credentials then stay valid until they expire.
 */

import { RevocationCache } from '../core/revocation-cache.js';
import { toSeconds, type Duration } from '../duration.js';
import type { Clock, Logger, StorageAdapter } from '../ports.js';
import type { RealtimeRevocationSource } from './authorizer.js';

export interface RevocationWatcherOptions {
  /** The auth router's storage (same database); the router migrates it, the watcher only reads. */
  storage: StorageAdapter;
  /** How often new revocations are read. Default '5s', as the router's `revocation.pollInterval`. */
  pollInterval?: Duration;
  /** CONNECTs answer "server unavailable" when revocations could not be read for this long. Default '60s'. */
  maxStaleness?: Duration;
  logger?: Logger;
  clock?: Clock;
}

export interface RevocationWatcher extends RealtimeRevocationSource {
  /** Loads the active revocations and starts polling; retried on the next CONNECT if it fails. */
  start(): Promise<void>;
  /** Stops polling; resolves once the storage's revocation notifications (PostgreSQL LISTEN) are closed too. */
  stop(): Promise<void>;
}

/** Pass as `revocations` to `createRealtimeAuthorizer`, next to the `tokens` that verify with the signing key. */
export function createRevocationWatcher(options: RevocationWatcherOptions): RevocationWatcher {
  const pollIntervalMs = toSeconds(options.pollInterval ?? '5s', 'pollInterval') * 1000;
  const maxStalenessMs = toSeconds(options.maxStaleness ?? '60s', 'maxStaleness') * 1000;
  if (maxStalenessMs <= pollIntervalMs) throw new TypeError('maxStaleness must be longer than pollInterval');
  const logger = options.logger ?? { warn: (m, f) => console.warn(m, f ?? ''), error: (m, f) => console.error(m, f ?? '') };
  const cache = new RevocationCache(options.storage, options.clock ?? { now: () => Date.now() }, logger, { pollIntervalMs, maxStalenessMs });
  const start = () => cache.start();

  return {
    start,
    stop: () => cache.stop(),
    get isLoaded() {
      if (!cache.isLoaded) start().catch((err: unknown) => logger.warn('gatehouse: could not load revocations', { error: (err as Error).message }));
      return cache.isLoaded;
    },
    has: (kind, key) => cache.has(kind, key),
    assertFresh: () => cache.assertFresh(),
    onRevoke: (listener) => cache.onRevoke(listener),
  };
}
