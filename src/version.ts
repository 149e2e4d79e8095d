import { createRequire } from 'node:module';

// Through the package's own name, so it resolves the same from src/ and from dist/.
const { version } = createRequire(import.meta.url)('gatehouse-auth/package.json') as { version: string };

/** This package's version, from its package.json. */
export const packageVersion: string = version;
