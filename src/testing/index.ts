export { runStorageContract, type StorageContractFactory } from './storage-contract.js';
