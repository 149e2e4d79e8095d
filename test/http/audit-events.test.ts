import { expect } from 'chai';
import { generate } from 'otplib';
import request from 'supertest';
import { createSmtpMailer } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { eventually } from '../helpers/eventually.js';
import { addMember, PASSWORD, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';
import { startInbox, type Inbox } from '../helpers/inbox.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Every action docs/audit-log.md lists. */
const ACTIONS = [
  'member.invited', 'invitation.revoked', 'member.joined', 'member.role_changed', 'member.removed', 'api_key.created', 'api_key.revoked',
  'signin.succeeded', 'signin.failed', 'session.revoked', 'mfa.enabled', 'mfa.disabled', 'password.changed', 'email.changed', 'org.created',
  'api_key.first_used',
];

interface Row {
  id: string;
  chain: string;
  org_id: string | null;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  data: string;
}

function eventsSuite(label: string, storage: () => Promise<Parameters<typeof startHarness>[1]>): void {
  describe(label, function () {
    this.timeout(60_000);
    let h: Harness;
    let inbox: Inbox;

    before(async () => {
      inbox = await startInbox();
      h = await startHarness(
        { emailVerification: 'off', mail: { mailer: createSmtpMailer(inbox.url), from: 'auth@example.com', appUrl: 'https://app.example.com', limits: false }, throttle: false },
        await storage(),
      );
    });
    after(async () => {
      await h?.close();
      await inbox?.close();
    });

    const rows = async (where: Partial<Row>): Promise<Row[]> => h.storage.knex(`${h.storage.tablePrefix}audit_log`).where(where).orderBy('seq');
    const actions = async (where: Partial<Row>) => (await rows(where)).map((r) => r.action);

    it('password sign-in: succeeded with the session and its org; failed only for an existing account with an org', async () => {
      const u = await signupWithOrg(h.app);
      const ok = await rows({ org_id: u.orgId, action: 'signin.succeeded' });
      expect(ok).to.have.length(1);
      expect(ok[0]).to.include({ actor_type: 'user', actor_id: u.userId, target_type: 'session' });
      expect(JSON.parse(ok[0]!.data)).to.deep.equal({ method: 'password' });

      expect((await request(h.app).post('/auth/signin').send({ email: u.email, password: 'wrong password!' })).status).to.equal(401);
      await eventually(async () => (await rows({ org_id: u.orgId, action: 'signin.failed' })).length === 1, 5000, 'the failed sign-in recorded');
      const failed = (await rows({ org_id: u.orgId, action: 'signin.failed' }))[0]!;
      expect(failed).to.include({ actor_type: 'user', actor_id: u.userId });
      expect(JSON.parse(failed.data)).to.deep.equal({ method: 'password' });

      // Unknown accounts leave no trace (there is no org to put it in, nor an account).
      const before = (await h.storage.knex(`${h.storage.tablePrefix}audit_log`).count({ n: '*' }))[0]!.n;
      expect((await request(h.app).post('/auth/signin').send({ email: `nobody-${unique()}@example.com`, password: 'wrong password!' })).status).to.equal(401);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await h.storage.knex(`${h.storage.tablePrefix}audit_log`).count({ n: '*' }))[0]!.n).to.equal(before);
    });

    it('a sign-in finished with a second factor is recorded with that factor as its method', async () => {
      const u = await signupWithOrg(h.app);
      const setup = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(u.access));
      const now = Date.now();
      const enable = await request(h.app).post('/auth/mfa/totp/enable').set(bearer(u.access)).send({ code: await generate({ secret: setup.body.secret, epoch: Math.floor(now / 1000) }) });
      expect(enable.status, enable.text).to.equal(200);
      const challenge = await request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD });
      expect(challenge.status).to.equal(403);
      // Only the session the challenge ends in counts as a sign-in.
      expect(await rows({ org_id: u.orgId, action: 'signin.succeeded' })).to.have.length(1);
      // A wrong code after the right password: someone may hold the password.
      const wrong = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: challenge.body.mfa_token, code: '000000' });
      expect(wrong.status, wrong.text).to.equal(401);
      const failed = await rows({ org_id: u.orgId, action: 'signin.failed' });
      expect(failed.map((r) => [r.actor_id, JSON.parse(r.data)])).to.deep.equal([[u.userId, { method: 'totp' }]]);
      const code = await generate({ secret: setup.body.secret, epoch: Math.floor((now + 30_000) / 1000) });
      const verified = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: challenge.body.mfa_token, code });
      expect(verified.status, verified.text).to.equal(200);
      const succeeded = await rows({ org_id: u.orgId, action: 'signin.succeeded' });
      expect(succeeded.map((r) => JSON.parse(r.data))).to.deep.equal([{ method: 'password' }, { method: 'totp' }]);
    });

    it('a sign-in whose entry cannot be written stores no session: the two commit together', async () => {
      const u = await signupWithOrg(h.app);
      const { knex, tablePrefix } = h.storage;
      const sessions = async () => (await knex(`${tablePrefix}refresh_tokens`).where({ user_id: u.userId }).count({ n: '*' }))[0]!.n;
      const stored = await sessions();
      // The database itself refuses the entry, as a full disk or a lost connection would.
      const sqlite = knex.client.config.client === 'better-sqlite3';
      const table = `${tablePrefix}audit_log`;
      if (sqlite) {
        await knex.raw(`CREATE TRIGGER refuse_signin BEFORE INSERT ON ${table} WHEN NEW.action = 'signin.succeeded' BEGIN SELECT RAISE(ABORT, 'refused'); END`);
      } else {
        await knex.raw("CREATE FUNCTION refuse_signin() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql");
        await knex.raw(`CREATE TRIGGER refuse_signin BEFORE INSERT ON ${table} FOR EACH ROW WHEN (NEW.action = 'signin.succeeded') EXECUTE FUNCTION refuse_signin()`);
      }
      try {
        const refused = await request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD });
        expect(refused.status, refused.text).to.equal(500);
        expect(refused.body).to.not.have.property('access_token');
      } finally {
        await knex.raw(sqlite ? 'DROP TRIGGER refuse_signin' : `DROP TRIGGER refuse_signin ON ${table}; DROP FUNCTION refuse_signin()`);
      }
      expect(await sessions()).to.equal(stored);
      expect((await request(h.app).get('/auth/sessions').set(bearer(u.access))).body.sessions).to.have.length(1);
      const again = await request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD });
      expect(again.status).to.equal(200);
      expect(Number(await sessions())).to.equal(Number(stored) + 1);
      expect(await rows({ org_id: u.orgId, action: 'signin.succeeded' })).to.have.length(2);
    });

    it('logout records session.revoked in the org of the session; account changes go to the user’s own chain', async () => {
      const u = await signupWithOrg(h.app);
      const sid = (await rows({ org_id: u.orgId, action: 'signin.succeeded' }))[0]!.target_id;
      expect((await request(h.app).post('/auth/logout').set(bearer(u.access)).send({ refresh_token: u.refresh })).status).to.equal(204);
      const revoked = await rows({ org_id: u.orgId, action: 'session.revoked' });
      expect(revoked).to.have.length(1);
      expect(revoked[0]).to.include({ actor_id: u.userId, target_type: 'session', target_id: sid });

      const again = await request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD });
      const NEW = 'another long passphrase';
      expect((await request(h.app).post('/auth/password/change').set(bearer(again.body.access_token)).send({ currentPassword: PASSWORD, newPassword: NEW })).status).to.equal(204);
      const changed = await rows({ chain: `user:${u.userId}` });
      expect(changed.map((r) => [r.action, r.org_id, JSON.parse(r.data)])).to.deep.equal([['password.changed', null, { via: 'change' }]]);
    });

    it('ending sessions from the session list: session.revoked, reason ended (in the session\'s org) or others_ended (the user\'s chain)', async () => {
      const u = await signupWithOrg(h.app);
      const other = await request(h.app).post('/auth/signin').send({ email: u.email, password: PASSWORD });
      const otherSid = (await rows({ org_id: u.orgId, action: 'signin.succeeded' }))[1]!.target_id;
      expect((await request(h.app).delete(`/auth/sessions/${otherSid}`).set(bearer(u.access))).status).to.equal(204);
      const ended = await rows({ org_id: u.orgId, action: 'session.revoked' });
      expect(ended.map((r) => [r.actor_id, r.target_id, JSON.parse(r.data)])).to.deep.equal([[u.userId, otherSid, { reason: 'ended' }]]);
      expect(other.status).to.equal(200);
      expect((await request(h.app).delete('/auth/sessions').set(bearer(u.access))).status).to.equal(204);
      const all = await rows({ chain: `user:${u.userId}`, action: 'session.revoked' });
      expect(all.map((r) => [r.org_id, r.target_id, JSON.parse(r.data)])).to.deep.equal([[null, null, { reason: 'others_ended' }]]);
    });

    it('org.created at sign-up; org.deleted before the org goes; account.deleted with the orgs that went with it', async () => {
      const u = await signupWithOrg(h.app);
      const created = await rows({ org_id: u.orgId, action: 'org.created' });
      expect(created.map((r) => [r.actor_id, r.target_type, r.target_id])).to.deep.equal([[u.userId, 'org', u.orgId]]);
      expect(Object.keys(JSON.parse(created[0]!.data)).sort()).to.deep.equal(['name', 'slug']);
      expect((await request(h.app).delete(`/auth/orgs/${u.orgId}`).set(bearer(u.access)).send({ password: PASSWORD })).status).to.equal(204);
      const deleted = await rows({ org_id: u.orgId, action: 'org.deleted' });
      expect(deleted.map((r) => [r.actor_id, r.target_id, JSON.parse(r.data)])).to.deep.equal([[u.userId, u.orgId, { reason: 'deleted' }]]);

      const v = await signupWithOrg(h.app);
      const token = (await request(h.app).post('/auth/signin').send({ email: v.email, password: PASSWORD })).body.access_token as string;
      expect((await request(h.app).delete('/auth/me').set(bearer(token)).send({ password: PASSWORD })).status).to.equal(204);
      expect((await rows({ org_id: v.orgId, action: 'org.deleted' })).map((r) => JSON.parse(r.data))).to.deep.equal([{ reason: 'account_deleted' }]);
      expect((await rows({ chain: `user:${v.userId}`, action: 'account.deleted' })).map((r) => JSON.parse(r.data))).to.deep.equal([{ orgsDeleted: 1 }]);
    });

    it('records every wired action over HTTP, and no row or export holds a password, token, code or key', async () => {
      const secrets: string[] = [PASSWORD];
      const owner = await signupWithOrg(h.app);
      secrets.push(owner.access, owner.refresh);
      const admin = await addMember(h.app, owner, 'admin');
      const member = await addMember(h.app, owner, 'member');
      secrets.push(admin.access, admin.refresh, member.access, member.refresh);

      // Invitations (their codes), roles, removal.
      const inv = await request(h.app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).send({ role: 'member' });
      secrets.push(inv.body.code);
      expect((await request(h.app).delete(`/auth/orgs/${owner.orgId}/invitations/${inv.body.id}`).set(bearer(owner.access))).status).to.equal(204);
      expect((await request(h.app).patch(`/auth/orgs/${owner.orgId}/members/${member.userId}`).set(bearer(owner.access)).send({ role: 'admin' })).status).to.equal(200);
      expect((await request(h.app).delete(`/auth/orgs/${owner.orgId}/members/${member.userId}`).set(bearer(owner.access))).status).to.equal(204);

      // API keys: the key and its secret part.
      const key = await request(h.app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'deploy' });
      expect(key.status, key.text).to.equal(201);
      secrets.push(key.body.key, (key.body.key as string).split('_').slice(2).join('_'));
      for (let i = 0; i < 2; i++) expect((await request(h.app).get('/api/hello').set({ 'X-API-Key': key.body.key, 'X-Tenant-Id': owner.orgId })).status).to.equal(200);
      await eventually(async () => (await rows({ org_id: owner.orgId, action: 'api_key.first_used' })).length === 1, 5000, 'api_key.first_used');
      expect(await rows({ org_id: owner.orgId, action: 'api_key.first_used' })).to.have.length(1);
      expect((await rows({ org_id: owner.orgId, action: 'api_key.first_used' }))[0]).to.include({ actor_type: 'api_key', actor_id: key.body.id, target_id: key.body.id });
      expect((await request(h.app).delete(`/auth/api-keys/${key.body.id}`).set(bearer(owner.access))).status).to.equal(204);

      // A failed sign-in (the password tried is a secret too).
      const tried = `tried-${unique()}-password`;
      secrets.push(tried);
      await request(h.app).post('/auth/signin').send({ email: admin.email, password: tried });
      await eventually(async () => (await rows({ actor_id: admin.userId, action: 'signin.failed' })).length === 1, 5000, 'signin.failed');

      // MFA on and off: the seed, codes, recovery codes.
      const setup = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(owner.access));
      expect(setup.status, setup.text).to.equal(200);
      secrets.push(setup.body.secret, setup.body.otpauthUrl);
      const enable = await request(h.app).post('/auth/mfa/totp/enable').set(bearer(owner.access)).send({ code: await generate({ secret: setup.body.secret }) });
      expect(enable.status, enable.text).to.equal(200);
      secrets.push(...(enable.body.recoveryCodes as string[]));
      expect((await request(h.app).post('/auth/mfa/totp/disable').set(bearer(owner.access)).send({ password: PASSWORD })).status).to.equal(204);

      // Password change, reset by mail (its token), email change by mail (its token).
      const changedPassword = `changed-${unique()}-password`;
      secrets.push(changedPassword);
      expect((await request(h.app).post('/auth/password/change').set(bearer(admin.access)).send({ currentPassword: PASSWORD, newPassword: changedPassword })).status).to.equal(204);
      expect((await request(h.app).post('/auth/password/forgot').send({ email: admin.email })).status).to.equal(202);
      const reset = await inbox.next(admin.email, /reset/i);
      const resetPassword = `reset-${unique()}-password`;
      secrets.push(reset.token!, resetPassword);
      expect((await request(h.app).post('/auth/password/reset').send({ token: reset.token, password: resetPassword })).status).to.equal(204);

      const newEmail = `moved-${unique()}@example.com`;
      expect((await request(h.app).post('/auth/email/change').set(bearer(owner.access)).send({ newEmail, password: PASSWORD })).status).to.equal(202);
      const confirm = await inbox.next(newEmail, /Confirm your new email/);
      secrets.push(confirm.token!);
      expect((await request(h.app).post('/auth/email/verify').send({ token: confirm.token })).status).to.equal(200);

      // Logout, with the refresh token in the body.
      expect((await request(h.app).post('/auth/logout').set(bearer(owner.access)).send({ refresh_token: owner.refresh })).status).to.equal(204);

      const recorded = new Set([...(await actions({ org_id: owner.orgId })), ...(await actions({ chain: `user:${owner.userId}` })), ...(await actions({ chain: `user:${admin.userId}` }))]);
      expect([...recorded].sort()).to.deep.equal([...ACTIONS].sort());
      expect((await rows({ chain: `user:${owner.userId}` })).map((r) => r.action)).to.deep.equal(['mfa.enabled', 'mfa.disabled', 'email.changed']);
      expect((await rows({ chain: `user:${admin.userId}` })).map((r) => [r.action, JSON.parse(r.data).via])).to.deep.equal([['password.changed', 'change'], ['password.changed', 'reset']]);

      const owner2 = await request(h.app).post('/auth/signin').send({ email: newEmail, password: PASSWORD });
      const exported = await request(h.app).get(`/auth/orgs/${owner.orgId}/audit`).query({ format: 'ndjson' }).set(bearer(owner2.body.access_token)).buffer(true).parse((r, done) => {
        let text = '';
        r.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        r.on('end', () => done(null, text));
      });
      expect(exported.status).to.equal(200);
      const stored = JSON.stringify(await h.storage.knex(`${h.storage.tablePrefix}audit_log`).select());
      for (const secret of secrets) {
        expect(secret, 'a secret the test collected').to.be.a('string').with.length.above(7);
        expect(stored.includes(secret), `stored rows hold ${secret.slice(0, 12)}…`).to.equal(false);
        expect((exported.body as string).includes(secret), `the export holds ${secret.slice(0, 12)}…`).to.equal(false);
      }
      for (const row of JSON.parse(stored) as Row[]) {
        expect(Object.keys(JSON.parse(row.data)).filter((k) => /password|token|code|secret|key$/i.test(k)), row.action).to.deep.equal([]);
      }
      // Every action was taken by a request, and each entry names the request's address.
      const withoutIp = (JSON.parse(stored) as Array<Row & { ip: string | null }>).filter((row) => row.ip === null).map((row) => row.action);
      expect(withoutIp).to.deep.equal([]);
    });
  });
}

describe('audit log: what is recorded', () => {
  eventsSuite('on SQLite', async () => ({}));
  eventsSuite('on PostgreSQL', async () => ({ storage: createKnexStorage(pgConfig(await createTestDatabase('audit_events'))) }));
});

export type { SignedUp };
