import type { Knex } from 'knex';
import type { RateLimitRepository } from '../../../src/ports.js';
import { deleteRows } from '../purge.js';
import type { TableNames } from '../tables.js';

/** The throttle's counter rows (rate-limiter-flexible's table, migration 006). */
export function rateLimitRepository(db: Knex, t: TableNames): RateLimitRepository {
  return {
    async purgeExpired(now, limit) {
      // A row whose window ended counts as nothing (the next consume starts it afresh),
      // so deleting it changes no decision. Rows without `expire` never end.
      return deleteRows(db, t.rateLimits, 'key', (q) => q.where('expire', '<=', now), limit);
    },
  };
}
