import type { Repositories } from '../../src/ports.js';
import { mapStorageError } from './errors.js';
import type { TableNames } from './tables.js';

type AnyMethod = (...args: unknown[]) => Promise<unknown>;

/**
 * Wraps every repository method so it first awaits `before` (lazy migrations) and
 * reports driver failures as the port's StorageConflictError / StorageUnavailableError.
 */
export function guardRepositories<R extends object = Repositories>(
  repositories: R,
  tables: TableNames,
  before?: () => Promise<void>,
): R {
  const guarded: Record<string, Record<string, AnyMethod>> = {};
  // Once `before` has succeeded (migrations are done for good), calls skip awaiting it.
  let prepared = before === undefined;
  for (const [repoName, repo] of Object.entries(repositories) as Array<[string, Record<string, AnyMethod>]>) {
    const methods: Record<string, AnyMethod> = {};
    for (const [methodName, method] of Object.entries(repo)) {
      methods[methodName] = async (...args) => {
        try {
          if (!prepared) {
            await (before as () => Promise<void>)();
            prepared = true;
          }
          return await method(...args);
        } catch (err) {
          throw mapStorageError(err, tables);
        }
      };
    }
    guarded[repoName] = methods;
  }
  return guarded as unknown as R;
}
