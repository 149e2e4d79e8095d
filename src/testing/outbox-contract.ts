import assert from 'node:assert/strict';
import type { NewOutboxMessage, StorageAdapter } from '../ports.js';

const NOW = 1_700_000_000_000;
const MINUTE = 60_000;

function message(n: number, overrides: Partial<NewOutboxMessage> = {}): NewOutboxMessage {
  return {
    id: `mail-${String(n).padStart(3, '0')}`,
    kind: 'reset_password',
    to: `user${n}@example.com`,
    subject: `Subject ${n}`,
    text: `Text ${n} https://app.example.com/reset-password?token=t${n}`,
    html: `<p>Html ${n}</p>`,
    createdAt: NOW,
    nextAttemptAt: NOW,
    ...overrides,
  };
}

const claim = (id: string, until = NOW + 5 * MINUTE) => ({ claimId: id, claimedUntil: until });

/** The outbox part of the storage contract (see runStorageContract). */
export function outboxContract(
  g: { describe(name: string, fn: () => void): unknown; it(name: string, fn: () => Promise<void>): unknown },
  adapter: () => StorageAdapter,
): void {
  g.describe('mail outbox', () => {
    g.it('enqueue, claim (leased: a second claim gets nothing), markSent; a sent mail is never claimed again', async () => {
      const storage = adapter();
      await storage.outbox.enqueue(message(1));
      const [row, ...rest] = await storage.outbox.claimDue(NOW, 10, claim('c1'));
      assert.equal(rest.length, 0);
      assert.deepEqual(row, {
        ...message(1),
        attempts: 1,
        claimedUntil: NOW + 5 * MINUTE,
        claimId: 'c1',
        sentAt: null,
        failedAt: null,
        lastError: null,
      });
      assert.deepEqual(await storage.outbox.claimDue(NOW + MINUTE, 10, claim('c2')), []);
      assert.equal(await storage.outbox.markSent('mail-001', 'c2', NOW + MINUTE), false, 'only the claimer records the outcome');
      assert.equal(await storage.outbox.markSent('mail-001', 'c1', NOW + MINUTE), true);
      assert.equal((await storage.outbox.find('mail-001'))?.sentAt, NOW + MINUTE);
      assert.deepEqual(await storage.outbox.claimDue(NOW + 60 * MINUTE, 10, claim('c3', NOW + 65 * MINUTE)), []);
    });

    g.it('claims only due mails, oldest first, at most `limit`', async () => {
      const storage = adapter();
      await storage.outbox.enqueue(message(1, { nextAttemptAt: NOW + MINUTE }));
      await storage.outbox.enqueue(message(2, { nextAttemptAt: NOW - 2 * MINUTE }));
      await storage.outbox.enqueue(message(3, { nextAttemptAt: NOW - MINUTE }));
      await storage.outbox.enqueue(message(4, { nextAttemptAt: NOW }));
      const first = await storage.outbox.claimDue(NOW, 2, claim('c1'));
      assert.deepEqual(
        first.map((r) => r.id),
        ['mail-002', 'mail-003'],
      );
      const second = await storage.outbox.claimDue(NOW, 10, claim('c2'));
      assert.deepEqual(
        second.map((r) => r.id),
        ['mail-004'],
      );
    });

    g.it('claim race: concurrent claimers get each mail exactly once', async () => {
      const storage = adapter();
      for (let n = 0; n < 30; n += 1) await storage.outbox.enqueue(message(n));
      const claimers = Array.from({ length: 4 }, async (_, i) => {
        const got: string[] = [];
        for (let round = 0; round < 20; round += 1) {
          const rows = await storage.outbox.claimDue(NOW, 3, claim(`claimer-${i}-${round}`));
          got.push(...rows.map((r) => r.id));
          if (rows.length === 0) break;
        }
        return got;
      });
      const all = (await Promise.all(claimers)).flat();
      assert.equal(all.length, 30);
      assert.equal(new Set(all).size, 30);
    });

    g.it('a failed mail comes back after its backoff with its attempt counted; a given-up mail never does', async () => {
      const storage = adapter();
      await storage.outbox.enqueue(message(1));
      await storage.outbox.claimDue(NOW, 10, claim('c1'));
      assert.equal(await storage.outbox.markFailed('mail-001', 'other', { now: NOW, error: 'x', nextAttemptAt: NOW + MINUTE }), false);
      assert.equal(await storage.outbox.markFailed('mail-001', 'c1', { now: NOW, error: '421 try later', nextAttemptAt: NOW + MINUTE }), true);
      const failed = await storage.outbox.find('mail-001');
      assert.equal(failed?.lastError, '421 try later');
      assert.equal(failed?.claimedUntil, null);
      assert.deepEqual(await storage.outbox.claimDue(NOW + MINUTE - 1, 10, claim('c2')), []);
      const [again] = await storage.outbox.claimDue(NOW + MINUTE, 10, claim('c3', NOW + 6 * MINUTE));
      assert.equal(again?.id, 'mail-001');
      assert.equal(again?.attempts, 2);
      assert.equal(await storage.outbox.markFailed('mail-001', 'c3', { now: NOW + MINUTE, error: 'gone', nextAttemptAt: null }), true);
      assert.equal((await storage.outbox.find('mail-001'))?.failedAt, NOW + MINUTE);
      assert.deepEqual(await storage.outbox.claimDue(NOW + 600 * MINUTE, 10, claim('c4', NOW + 605 * MINUTE)), []);
    });

    g.it('a claim whose lease ran out is taken over, and the first claimer can no longer record an outcome', async () => {
      const storage = adapter();
      await storage.outbox.enqueue(message(1));
      await storage.outbox.claimDue(NOW, 10, claim('c1', NOW + MINUTE));
      assert.deepEqual(await storage.outbox.claimDue(NOW + MINUTE, 10, claim('c2', NOW + 2 * MINUTE)), [], 'the lease holds until it ends');
      const [taken] = await storage.outbox.claimDue(NOW + MINUTE + 1, 10, claim('c3', NOW + 7 * MINUTE));
      assert.equal(taken?.claimId, 'c3');
      assert.equal(await storage.outbox.markSent('mail-001', 'c1', NOW + 2 * MINUTE), false);
      assert.equal(await storage.outbox.markSent('mail-001', 'c3', NOW + 2 * MINUTE), true);
    });

    g.it('a mail enqueued in a rolled-back transaction leaves no row; a committed one is there', async () => {
      const storage = adapter();
      await assert.rejects(
        storage.transaction(async (tx) => {
          await tx.outbox.enqueue(message(1));
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.equal(await storage.outbox.find('mail-001'), null);
      assert.deepEqual(await storage.outbox.claimDue(NOW, 10, claim('c1')), []);
      await storage.transaction(async (tx) => tx.outbox.enqueue(message(2)));
      assert.equal((await storage.outbox.find('mail-002'))?.to, 'user2@example.com');
    });

    g.it('purgeFinished deletes sent and given-up mails finished before the cut-off, never pending ones', async () => {
      const storage = adapter();
      for (const n of [1, 2, 3]) await storage.outbox.enqueue(message(n));
      await storage.outbox.claimDue(NOW, 2, claim('c1'));
      await storage.outbox.markSent('mail-001', 'c1', NOW);
      await storage.outbox.markFailed('mail-002', 'c1', { now: NOW + MINUTE, error: 'x', nextAttemptAt: null });
      assert.equal(await storage.outbox.purgeFinished(NOW + 1), 1);
      assert.equal(await storage.outbox.find('mail-001'), null);
      assert.equal(await storage.outbox.purgeFinished(NOW + 2 * MINUTE), 1);
      assert.equal((await storage.outbox.find('mail-003'))?.sentAt, null);
    });
  });
}
