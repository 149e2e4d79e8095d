/**
 * gatehouse-auth/testing: the storage contract suite that a custom adapter must pass, run
 * by mocha, vitest (globals: true) or any runner with the BDD globals.
 *
 * @module gatehouse-auth/testing
 */
export { runStorageContract, type StorageContractFactory } from './storage-contract.js';
