import assert from 'node:assert/strict';
import type { AuditEvent } from '../core/audit-event.js';
import { AUDIT_GENESIS_HASH, auditEntryHash } from '../core/audit-chain.js';
import type { AuditEntry, StorageAdapter } from '../ports.js';

const NOW = 1_700_000_000_000;
const DAY = 86_400_000;

function event(n: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: `audit-${n}`,
    orgId: 'org-x',
    at: NOW + n,
    actor: { type: 'user', id: 'user-a' },
    action: 'member.invited',
    target: { type: 'invitation', id: `inv-${n}` },
    ip: '203.0.113.7',
    userAgent: 'contract',
    data: { role: 'member', n },
    ...overrides,
  };
}

/** Checks a chain the way the core's verify does: seqs without gaps, each prevHash the hash before, each hash recomputed. */
function assertLinked(entries: AuditEntry[], from = { seq: 0, hash: AUDIT_GENESIS_HASH }): void {
  let prev = from;
  for (const entry of entries) {
    assert.equal(entry.seq, prev.seq + 1);
    assert.equal(entry.prevHash, prev.hash);
    const { hash, ...linked } = entry;
    assert.equal(hash, auditEntryHash(linked));
    prev = entry;
  }
}

type Globals = { describe(name: string, fn: () => void): unknown; it(name: string, fn: () => Promise<void>): unknown };

/** The audit log part of the storage contract (see runStorageContract). */
export function auditContract(g: Globals, adapter: () => StorageAdapter): void {
  g.describe('audit log', () => {
    g.it('append links entries per chain and reads them back', async () => {
      const storage = adapter();
      const first = await storage.audit.append('org:org-x', event(1));
      await storage.audit.append('org:org-y', event(2, { orgId: 'org-y' }));
      const second = await storage.audit.append('org:org-x', event(3, { target: null, ip: null, userAgent: null, data: {} }));
      assert.equal(first.seq, 1);
      assert.equal(first.prevHash, AUDIT_GENESIS_HASH);
      assert.equal(second.seq, 2);
      assert.equal(second.prevHash, first.hash);
      const chain = await storage.audit.readChain('org:org-x', 0, 10);
      assert.deepEqual(chain, [first, second]);
      assertLinked(chain);
      assert.deepEqual(await storage.audit.readChain('org:org-x', 1, 10), [second]);
      assert.deepEqual(await storage.audit.head('org:org-x'), { seq: 2, hash: second.hash, checkpoint: null });
      assert.equal(await storage.audit.head('org:none'), null);
      assert.equal((await storage.audit.readChain('org:org-y', 0, 10)).length, 1);
    });

    g.it('list filters by action, actor and time, newest first, and pages by seq', async () => {
      const storage = adapter();
      for (let n = 1; n <= 6; n++) {
        await storage.audit.append('org:org-x', event(n, {
          action: n % 2 ? 'member.invited' : 'member.removed',
          actor: { type: n > 4 ? 'api_key' : 'user', id: n > 4 ? 'key-1' : 'user-a' },
        }));
      }
      const seqs = (entries: AuditEntry[]) => entries.map((e) => e.seq);
      assert.deepEqual(seqs(await storage.audit.list('org:org-x', { limit: 10 })), [6, 5, 4, 3, 2, 1]);
      assert.deepEqual(seqs(await storage.audit.list('org:org-x', { limit: 2 })), [6, 5]);
      assert.deepEqual(seqs(await storage.audit.list('org:org-x', { limit: 2, beforeSeq: 5 })), [4, 3]);
      assert.deepEqual(seqs(await storage.audit.list('org:org-x', { limit: 10, action: 'member.removed' })), [6, 4, 2]);
      assert.deepEqual(seqs(await storage.audit.list('org:org-x', { limit: 10, actorId: 'key-1' })), [6, 5]);
      assert.deepEqual(seqs(await storage.audit.list('org:org-x', { limit: 10, since: NOW + 2, until: NOW + 5 })), [4, 3, 2]);
      assert.deepEqual(await storage.audit.list('org:org-y', { limit: 10 }), []);
    });

    g.it('50 concurrent appends to one chain take seqs 1..50 and stay linked', async () => {
      const storage = adapter();
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => storage.transaction((tx) => tx.audit.append('org:org-x', event(i + 1)))),
      );
      const chain = await storage.audit.readChain('org:org-x', 0, 100);
      assert.deepEqual(chain.map((e) => e.seq), Array.from({ length: 50 }, (_, i) => i + 1));
      assertLinked(chain);
    });

    g.it('an append rolls back with its transaction and leaves the head where it was', async () => {
      const storage = adapter();
      const first = await storage.audit.append('org:org-x', event(1));
      await assert.rejects(
        storage.transaction(async (tx) => {
          await tx.audit.append('org:org-x', event(2));
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.deepEqual(await storage.audit.head('org:org-x'), { seq: 1, hash: first.hash, checkpoint: null });
      const next = await storage.audit.append('org:org-x', event(3));
      assert.equal(next.seq, 2);
      assert.equal(next.prevHash, first.hash);
    });

    g.it('purgeBefore deletes a prefix of each chain and keeps a checkpoint to verify from', async () => {
      const storage = adapter();
      const x: AuditEntry[] = [];
      for (let n = 1; n <= 5; n++) x.push(await storage.audit.append('org:org-x', event(n, { at: NOW + n * DAY })));
      await storage.audit.append('user:user-a', event(9, { orgId: null, at: NOW }));
      let total = 0;
      for (;;) {
        const count = await storage.audit.purgeBefore(NOW + 3 * DAY + 1, 1);
        total += count;
        if (count === 0) break;
      }
      assert.equal(total, 4);
      const rest = await storage.audit.readChain('org:org-x', 0, 10);
      assert.deepEqual(rest.map((e) => e.seq), [4, 5]);
      const head = await storage.audit.head('org:org-x');
      assert.deepEqual(head?.checkpoint, { seq: 3, hash: x[2]!.hash });
      assertLinked(rest, head!.checkpoint!);
      assert.deepEqual(await storage.audit.readChain('user:user-a', 0, 10), []);
      assert.equal((await storage.audit.head('user:user-a'))?.checkpoint?.seq, 1);
      // Appending after a purge continues the chain.
      assert.equal((await storage.audit.append('org:org-x', event(6))).seq, 6);
    });
  });
}
