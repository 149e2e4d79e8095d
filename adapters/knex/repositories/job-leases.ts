import type { Knex } from 'knex';
import type { JobLeaseRepository } from '../../../src/ports.js';
import type { TableNames } from '../tables.js';

export function jobLeaseRepository(db: Knex, t: TableNames): JobLeaseRepository {
  return {
    async claim(name, holder, now, nextRunAt) {
      // The row is made due on first sight (a no-op once it exists), then claimed by one
      // conditional UPDATE: concurrent claimers queue on the row lock and re-check
      // `next_run_at` after the winner commits, so only one changes it.
      await db(t.jobLeases).insert({ name, next_run_at: 0, holder: '', claimed_at: 0 }).onConflict('name').ignore();
      const changed = await db(t.jobLeases)
        .where({ name })
        .where('next_run_at', '<=', now)
        .update({ next_run_at: nextRunAt, holder, claimed_at: now });
      return changed === 1;
    },
  };
}
