import { randomUUID } from 'node:crypto';
import type { CoreContext } from './context.js';

/** Who this installation is, for wire contracts that name their server (datarhei's `GET /api`). */
export interface InstanceIdentity {
  /** A UUID, the same across restarts and for every instance on the same store. */
  id: string;
  /** When the installation first started (epoch ms, whole seconds: clients parse it as RFC 3339 without fractions). */
  createdAt: number;
}

const SETTING = 'instance_id';

/**
 * The installation's id and first start, stored once through `storage.settings` the first
 * time they are asked for, with this process's start time as the candidate: so `createdAt`
 * is the start of the first process that was asked. Read from storage once per process.
 * A store without `settings` gets per-process values (and a warning): a new id each restart.
 */
export function createInstance({ storage, clock, logger }: Pick<CoreContext, 'storage' | 'clock' | 'logger'>) {
  const startedAt = clock.now();
  let identity: Promise<InstanceIdentity> | undefined;

  async function load(): Promise<InstanceIdentity> {
    const candidate = { name: SETTING, value: randomUUID(), createdAt: Math.floor(startedAt / 1000) * 1000 };
    if (!storage.settings) {
      logger.warn('the storage adapter has no `settings`: the instance id changes on every restart');
      return { id: candidate.value, createdAt: candidate.createdAt };
    }
    const stored = await storage.settings.ensure(candidate);
    return { id: stored.value, createdAt: stored.createdAt };
  }

  return {
    /** When this process's router was created (epoch ms). */
    startedAt,
    /** Whole seconds since `startedAt`. */
    uptimeSeconds: (): number => Math.max(0, Math.floor((clock.now() - startedAt) / 1000)),
    identity(): Promise<InstanceIdentity> {
      // A failed read (database down) is retried by the next call rather than cached.
      identity ??= load().catch((err: unknown) => {
        identity = undefined;
        throw err;
      });
      return identity;
    },
  };
}

export type Instance = ReturnType<typeof createInstance>;
