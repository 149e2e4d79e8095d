// Type-checked in the consumer project with `types: []` (tsconfig.testing.json): the
// testing entry point must compile without @types/node, which TypeScript 7 no longer
// adds on its own.
import { runStorageContract, type StorageContractFactory } from 'gatehouse-auth/testing';
import type { StorageAdapter } from 'gatehouse-auth';

declare const adapter: StorageAdapter;

const factory: StorageContractFactory = {
  create: () => Promise.resolve(adapter),
  destroy: (a) => a.close?.() ?? Promise.resolve(),
};

export const register = (): void => runStorageContract('my adapter', factory);
