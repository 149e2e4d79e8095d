import type { StorageAdapter } from '../ports.js';

/** The clock of the contract suites: a fixed instant, so records compare equal. */
export const CONTRACT_NOW = 1_700_000_000_000;

/** The test functions a part of the storage contract is written with (the runner's `describe` and `it`). */
export interface ContractGroup {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: () => Promise<void>): unknown;
}

/** The adapter under test, with these orgs created (what every org-scoped record needs). */
export async function storageWithOrgs(adapter: () => StorageAdapter, ...orgIds: string[]): Promise<StorageAdapter> {
  const storage = adapter();
  for (const id of orgIds) await storage.orgs.create({ id, name: id, slug: id, description: null, createdAt: CONTRACT_NOW });
  return storage;
}
