/**
 * The rate-limiter-flexible classes gatehouse uses, each from its own file rather than
 * the package's index: the index loads every store the package has (Redis, Mongo,
 * DynamoDB, Prisma …), about 1.3 MB of heap kept for the life of the host process, and
 * a larger heap makes each of its garbage collections cost more. They are the files the
 * index itself loads, so a limiter a host builds from the index rejects with the same
 * RateLimiterRes class.
 */
import { createRequire } from 'node:module';
import type * as Flexible from 'rate-limiter-flexible';

const require = createRequire(import.meta.url);

export const RateLimiterMemory = require('rate-limiter-flexible/lib/RateLimiterMemory.js') as typeof Flexible.RateLimiterMemory;
export const RateLimiterRes = require('rate-limiter-flexible/lib/RateLimiterRes.js') as typeof Flexible.RateLimiterRes;
export const RateLimiterPostgres = require('rate-limiter-flexible/lib/RateLimiterPostgres.js') as typeof Flexible.RateLimiterPostgres;
