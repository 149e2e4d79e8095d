import { expect } from 'chai';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { createAuthRouter, type PurgeReport } from 'gatehouse-auth';
import { eventually } from '../helpers/eventually.js';
import { SECRET, startHarness, unique, type Harness } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One expired and one live row in every table the purge covers, written through the adapter (throttle rows as the limiter writes them). */
async function seed(storage: KnexStorage, now: number): Promise<void> {
  const userId = `user-${unique()}`;
  await storage.users.create({ id: userId, email: `${userId}@example.com`, username: null, firstName: null, lastName: null, passwordHash: null, createdAt: now - HOUR, emailVerifiedAt: null });
  for (const [label, end] of [['expired', now - MINUTE], ['live', now + HOUR]] as const) {
    await storage.revocations.add({ kind: 'token', key: `${label}-jti`, expiresAt: end, createdAt: now - HOUR });
    await storage.refreshTokens.insert({ idHash: `${label}-refresh`, familyId: `${label}-family`, userId, orgId: null, expiresAt: end, familyExpiresAt: end, createdAt: now - HOUR });
    await storage.usedTokens.consume(`${label}-used`, end);
    await storage.mailTokens.insert({ idHash: `${label}-mail`, kind: 'verify_email', userId, email: `${userId}@example.com`, expiresAt: end, createdAt: now - HOUR });
    await storage.knex(`${storage.tablePrefix}rate_limits`).insert({ key: `${label}-throttle`, points: 3, expire: end });
  }
  // Audit entries end with `audit.retention` (default 365 days): one past it, one within.
  for (const [label, at] of [['expired', now - 366 * 24 * HOUR], ['live', now - HOUR]] as const) {
    await storage.audit.append(`org:${userId}`, { id: `${label}-audit`, orgId: userId, at, actor: { type: 'system', id: null }, action: 'member.removed', target: null, ip: null, userAgent: null, data: {} });
  }
}

/** The keys left in each purged table. */
async function remaining(storage: KnexStorage): Promise<Record<string, string[]>> {
  const p = storage.tablePrefix;
  const col = async (table: string, column: string) => (await storage.knex(`${p}${table}`).select(column).orderBy(column)).map((row: Record<string, string>) => row[column]!);
  return {
    revocations: await col('revocations', 'key'),
    refreshTokens: await col('refresh_tokens', 'id_hash'),
    usedTokens: await col('used_tokens', 'id_hash'),
    mailTokens: await col('mail_tokens', 'id_hash'),
    rateLimits: await col('rate_limits', 'key'),
    auditEntries: await col('audit_log', 'id'),
  };
}

const SEEDED = { revocations: ['expired-jti', 'live-jti'], refreshTokens: ['expired-refresh', 'live-refresh'], usedTokens: ['expired-used', 'live-used'], mailTokens: ['expired-mail', 'live-mail'], rateLimits: ['expired-throttle', 'live-throttle'], auditEntries: ['expired-audit', 'live-audit'] };
const LIVE = { revocations: ['live-jti'], refreshTokens: ['live-refresh'], usedTokens: ['live-used'], mailTokens: ['live-mail'], rateLimits: ['live-throttle'], auditEntries: ['live-audit'] };

describe('scheduled purge (SQLite)', function () {
  this.timeout(20_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('deletes the expired rows of every table (throttle counters included) and keeps the live ones', async () => {
    const reports: PurgeReport[] = [];
    h = await startHarness({ purge: { interval: 1, batchSize: 1, onPurge: (report) => reports.push(report) } });
    const seededAt = Date.now();
    await seed(h.storage, seededAt);
    expect(await remaining(h.storage)).to.deep.equal(SEEDED);
    await eventually(() => reports.some((r) => r.startedAt >= seededAt), 5000, 'a purge after seeding');
    expect(await remaining(h.storage)).to.deep.equal(LIVE);
    const total = reports.reduce((sum, r) => sum + Object.values(r.deleted).reduce((a, b) => a + b, 0), 0);
    expect(total).to.equal(6);
  });

  it('purges nothing when turned off (purge.enabled false)', async () => {
    h = await startHarness({ purge: { enabled: false, interval: 1 } });
    await seed(h.storage, Date.now());
    // Longer than the first run of an enabled schedule (one interval).
    await sleep(1800);
    expect(await remaining(h.storage)).to.deep.equal(SEEDED);
  });

  it('refuses a bad purge option at startup', async () => {
    const storage = createKnexStorage({ filename: ':memory:' });
    try {
      for (const purge of [{ interval: 0 }, { batchSize: 0 }, { batchSize: 1.5 }, { enabled: 'no' }, { onPurge: 'log' }]) {
        expect(() => createAuthRouter({ storage, tokens: { secret: SECRET }, purge } as never), JSON.stringify(purge)).to.throw(TypeError, /^purge\./);
      }
    } finally {
      await storage.close();
    }
  });
});

describe('scheduled purge across two instances (PostgreSQL)', function () {
  this.timeout(60_000);
  let a: Harness | undefined;
  let b: Harness | undefined;
  after(async () => {
    await a?.close();
    await b?.close();
  });

  it('one purge per interval, whichever instance claims the lease; the other takes over when the first is gone', async () => {
    const url = await createTestDatabase('purge_lease');
    // One clock for both, moved by hand: a run is due only when it has moved a whole interval.
    let now = Date.now();
    const clock = { now: () => now };
    const runs: Array<{ by: 'a' | 'b'; report: PurgeReport }> = [];
    const purge = (by: 'a' | 'b') => ({ interval: 1, onPurge: (report: PurgeReport) => void runs.push({ by, report }) });
    a = await startHarness({ purge: purge('a'), clock }, { storage: createKnexStorage(pgConfig(url)) });
    b = await startHarness({ purge: purge('b'), clock }, { storage: createKnexStorage(pgConfig(url)) });
    await seed(a.storage, now);
    const lease = async () => (await b!.storage.knex('auth_job_leases').where({ name: 'purge' }).first()) as { holder: string } | undefined;

    for (let interval = 1; interval <= 3; interval++) {
      await eventually(() => runs.length >= interval, 5000, `purge run ${interval}`);
      // Both instances tick (every second) at least twice more within the same interval: neither may run again.
      await sleep(2200);
      expect(runs.map((r) => r.by)).to.have.length(interval);
      expect((await lease())?.holder).to.equal(runs.at(-1)!.report.holder);
      now += 1000;
    }
    expect(await remaining(b.storage)).to.deep.equal(LIVE);
    expect(runs[0]!.report.deleted).to.deep.equal({ revocations: 1, refreshTokens: 1, usedTokens: 1, mailTokens: 1, rateLimits: 1, auditEntries: 1 });
    expect(runs.slice(1).every((r) => Object.values(r.report.deleted).every((n) => n === 0))).to.equal(true);

    // The instance that ran last goes away: the other runs the next interval.
    const last = runs.at(-1)!.by;
    if (last === 'a') {
      await a.close();
      a = undefined;
    } else {
      await b.close();
      b = undefined;
    }
    await eventually(() => runs.length === 4, 5000, 'a run by the remaining instance');
    expect(runs[3]!.by).to.not.equal(last);
  });
});
