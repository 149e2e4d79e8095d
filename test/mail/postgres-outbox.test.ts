import { expect } from 'chai';
import { createSmtpMailer } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { eventually } from '../helpers/eventually.js';
import { startHarness, unique, type Harness } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * Two instances (two routers, two pools) on one PostgreSQL database, both running
 * their outbox workers, plus extra passes raced by hand: each mail must reach the
 * SMTP server exactly once.
 */
describe('mail outbox on PostgreSQL, across two instances', function () {
  this.timeout(60_000);
  let smtp: TestSmtp;
  let a: Harness;
  let b: Harness;

  before(async () => {
    smtp = await startSmtp();
    const url = await createTestDatabase('mail_outbox');
    const options = { mail: { mailer: createSmtpMailer({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true, pool: true }), from: 'no-reply@example.com', worker: { interval: '1s' as const } } };
    a = await startHarness(options, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
    b = await startHarness(options, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await smtp?.stop();
  });

  it('40 mails queued through both instances are each delivered exactly once', async () => {
    const id = unique();
    const addresses = Array.from({ length: 40 }, (_, i) => `n${i}-${id}@example.com`);
    await Promise.all(
      addresses.map((to, i) => {
        const h = i % 2 === 0 ? a : b;
        return h.storage.transaction((tx) => h.auth.services.mail.queue(tx, 'password_changed', to, { email: to }));
      }),
    );
    // Passes by hand on both instances, racing each other and both timers.
    const sent = await Promise.all([a, b, a, b].map((h) => h.auth.services.mail.deliverPending()));
    await eventually(() => smtp.received.length >= 40, 15_000, 'all 40 mails');
    // Let the timers run another pass or two: nothing may arrive twice.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const received = smtp.received.flatMap((m) => m.to).filter((to) => to.endsWith(`-${id}@example.com`));
    expect(received).to.have.length(40);
    expect(new Set(received).size).to.equal(40);
    expect(sent.reduce((x, y) => x + y, 0)).to.be.at.most(40);
    const rows = await a.storage.knex('auth_mail_outbox').whereIn('to', addresses);
    expect(rows).to.have.length(40);
    expect(rows.filter((r) => r.sent_at === null)).to.deep.equal([]);
    expect(rows.map((r) => r.attempts)).to.deep.equal(Array(40).fill(1));
  });
});
