import { createHash } from 'node:crypto';
import { expect } from 'chai';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import type { AuditEvent } from 'gatehouse-auth';
import type { AuditEntry } from 'gatehouse-auth/client';
import { addMember, expectProblem, PASSWORD, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
/** The seqs of the history `orgWithHistory` makes, newest first (its sign-ins included). */
const ALL_SEQS = [14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1];

/** An entry as the routes answer it. */
type EntryView = AuditEntry;

/** The chain check as docs/audit-log.md tells a reader to write it, independent of the package's own code. */
function verifyExport(entries: EntryView[]): { valid: boolean; checked: number } {
  let prevHash = '0'.repeat(64);
  let seq = 0;
  for (const e of [...entries].sort((a, b) => a.seq - b.seq)) {
    const data = Object.fromEntries(Object.keys(e.data).sort().map((k) => [k, e.data[k]]));
    const canonical = JSON.stringify({
      seq: e.seq, prevHash: e.prevHash, id: e.id, orgId: e.orgId, at: Date.parse(e.at), actor: { type: e.actor.type, id: e.actor.id },
      action: e.action, target: e.target && { type: e.target.type, id: e.target.id }, ip: e.ip, userAgent: e.userAgent, data,
    });
    if (e.seq !== seq + 1 || e.prevHash !== prevHash || createHash('sha256').update(canonical).digest('hex') !== e.hash) return { valid: false, checked: seq };
    seq = e.seq;
    prevHash = e.hash;
  }
  return { valid: true, checked: seq };
}

function auditSuite(label: string, make: (overrides?: Parameters<typeof startHarness>[0]) => Promise<Harness>): void {
  describe(label, function () {
    this.timeout(60_000);
    let h: Harness;
    const hooked: AuditEvent[] = [];
    let hookThrows = false;

    before(async () => {
      h = await make({
        audit: {
          onAuditEvent: (event) => {
            if (hookThrows) throw new Error('host hook failed');
            hooked.push(event);
          },
        },
      });
    });
    after(async () => {
      await h?.close();
    });

    const list = (u: SignedUp, query: Record<string, string | number> = {}, orgId = u.orgId) =>
      request(h.app).get(`/auth/orgs/${orgId}/audit`).query(query).set(bearer(u.access));
    const verify = (u: SignedUp, orgId = u.orgId) => request(h.app).get(`/auth/orgs/${orgId}/audit/verify`).set(bearer(u.access));

    /** An org with an owner, an admin and a member, and a history of member and key changes. */
    async function orgWithHistory() {
      const owner = await signupWithOrg(h.app);
      const admin = await addMember(h.app, owner, 'admin');
      const member = await addMember(h.app, owner, 'member');
      const inv = await request(h.app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).set('User-Agent', 'audit-test/1').send({ role: 'member', email: 'later@example.com', sendEmail: false });
      expect(inv.status, inv.text).to.equal(201);
      expect((await request(h.app).delete(`/auth/orgs/${owner.orgId}/invitations/${inv.body.id}`).set(bearer(admin.access))).status).to.equal(204);
      expect((await request(h.app).patch(`/auth/orgs/${owner.orgId}/members/${member.userId}`).set(bearer(owner.access)).send({ role: 'admin' })).status).to.equal(200);
      const key = await request(h.app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'ci' });
      expect(key.status, key.text).to.equal(201);
      expect((await request(h.app).delete(`/auth/api-keys/${key.body.id}`).set(bearer(owner.access))).status).to.equal(204);
      expect((await request(h.app).delete(`/auth/orgs/${owner.orgId}/members/${member.userId}`).set(bearer(owner.access))).status).to.equal(204);
      return { owner, admin, member, invitationId: inv.body.id as string, keyId: key.body.id as string };
    }

    it('records member and key changes in the org, newest first, with actor, target, client and data', async () => {
      const { owner, admin, member, invitationId, keyId } = await orgWithHistory();
      const res = await list(owner);
      expect(res.status, res.text).to.equal(200);
      const entries = res.body.entries as EntryView[];
      expect(entries.map((e) => e.action)).to.deep.equal([
        'member.removed',
        'api_key.revoked',
        'api_key.created',
        'member.role_changed',
        'invitation.revoked',
        'member.invited',
        'signin.succeeded',
        'member.joined',
        'member.invited',
        'signin.succeeded',
        'member.joined',
        'member.invited',
        'signin.succeeded',
        'org.created',
      ]);
      expect(entries.map((e) => e.seq)).to.deep.equal(ALL_SEQS);
      expect(res.body.next).to.equal(null);
      const byAction = (action: string) => entries.find((e) => e.action === action)!;
      expect(byAction('member.removed')).to.include({ orgId: owner.orgId, action: 'member.removed' });
      expect(byAction('member.removed').actor).to.deep.equal({ type: 'user', id: owner.userId });
      expect(byAction('member.removed').target).to.deep.equal({ type: 'user', id: member.userId });
      expect(byAction('member.removed').data).to.deep.equal({ role: 'admin', left: false });
      expect(byAction('member.role_changed').data).to.deep.equal({ from: 'member', to: 'admin' });
      expect(byAction('invitation.revoked').actor).to.deep.equal({ type: 'user', id: admin.userId });
      expect(byAction('invitation.revoked').target).to.deep.equal({ type: 'invitation', id: invitationId });
      expect(byAction('api_key.created').target).to.deep.equal({ type: 'api_key', id: keyId });
      expect(byAction('api_key.created').data).to.deep.equal({ name: 'ci', role: 'member', expiresAt: null });
      const invited = entries.find((e) => e.action === 'member.invited' && e.target?.id === invitationId)!;
      expect(invited.data).to.deep.equal({ role: 'member', email: 'later@example.com', mailed: false });
      expect(invited.userAgent).to.equal('audit-test/1');
      expect(invited.ip).to.be.a('string');
      expect(entries.find((e) => e.action === 'member.joined')!.actor).to.deep.equal({ type: 'user', id: member.userId });
      expect(Date.parse(invited.at)).to.be.closeTo(Date.now(), 60_000);
      // Admins read the log too.
      expect((await list(admin)).body.entries).to.have.length(14);
      // The host hook heard of each, after the commit.
      expect(hooked.filter((e) => e.orgId === owner.orgId).map((e) => e.id).sort()).to.deep.equal(entries.map((e) => e.id).sort());
    });

    it('filters by action, actor and time, and pages with the next cursor', async () => {
      const { owner, admin } = await orgWithHistory();
      const all = (await list(owner)).body.entries as EntryView[];
      expect((await list(owner, { action: 'member.invited' })).body.entries.map((e: EntryView) => e.seq)).to.deep.equal([9, 6, 3]);
      expect((await list(owner, { actor: admin.userId })).body.entries.map((e: EntryView) => e.action)).to.deep.equal(['invitation.revoked', 'signin.succeeded', 'member.joined']);
      const seq4 = all.find((e) => e.seq === 4)!;
      const since = await list(owner, { since: seq4.at });
      expect(since.body.entries.every((e: EntryView) => Date.parse(e.at) >= Date.parse(seq4.at))).to.equal(true);
      expect((await list(owner, { until: all.at(-1)!.at })).body.entries).to.deep.equal([]);

      const seen: number[] = [];
      let cursor: string | null | undefined;
      do {
        const page = await list(owner, { limit: 3, ...(cursor ? { cursor } : {}) });
        expect(page.status, page.text).to.equal(200);
        seen.push(...page.body.entries.map((e: EntryView) => e.seq));
        cursor = page.body.next;
      } while (cursor);
      expect(seen).to.deep.equal(ALL_SEQS);
    });

    it('?format=ndjson streams every matching entry; the export verifies on its own', async () => {
      const { owner } = await orgWithHistory();
      const res = await request(h.app).get(`/auth/orgs/${owner.orgId}/audit`).query({ format: 'ndjson' }).set(bearer(owner.access)).buffer(true).parse((r, done) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (chunk: string) => (text += chunk));
        r.on('end', () => done(null, text));
      });
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^application\/x-ndjson/);
      expect(res.headers['cache-control']).to.equal('no-store');
      const lines = (res.body as string).trim().split('\n').map((line) => JSON.parse(line) as EntryView);
      expect(lines.map((e) => e.seq)).to.deep.equal(ALL_SEQS);
      expect(verifyExport(lines)).to.deep.equal({ valid: true, checked: 14 });
      const filtered = await request(h.app).get(`/auth/orgs/${owner.orgId}/audit`).query({ format: 'ndjson', action: 'api_key.created' }).set(bearer(owner.access)).buffer(true).parse((r, done) => {
        let text = '';
        r.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        r.on('end', () => done(null, text));
      });
      expect((filtered.body as string).trim().split('\n')).to.have.length(1);
    });

    it('verify recomputes the chain; an edited row is named, a deleted row is found', async () => {
      const { owner } = await orgWithHistory();
      expect((await verify(owner)).body).to.deep.equal({ valid: true, checked: 14 });
      const row = await h.storage.knex(`${h.storage.tablePrefix}audit_log`).where({ org_id: owner.orgId, seq: 11 }).first();
      expect(row.action).to.equal('member.role_changed');
      await h.storage.knex(`${h.storage.tablePrefix}audit_log`).where({ id: row.id }).update({ data: JSON.stringify({ from: 'member', to: 'owner' }) });
      const edited = await verify(owner);
      expect(edited.status).to.equal(200);
      expect(edited.body).to.deep.equal({ valid: false, checked: 10, brokenAt: 11, entryId: row.id });
      // Put it back: valid again; then delete an entry in the middle.
      await h.storage.knex(`${h.storage.tablePrefix}audit_log`).where({ id: row.id }).update({ data: row.data });
      expect((await verify(owner)).body).to.deep.equal({ valid: true, checked: 14 });
      await h.storage.knex(`${h.storage.tablePrefix}audit_log`).where({ org_id: owner.orgId, seq: 4 }).delete();
      expect((await verify(owner)).body).to.deep.equal({ valid: false, checked: 3, brokenAt: 4, entryId: null });
      // The newest entry deleted: the head still knows it.
      const other = await orgWithHistory();
      await h.storage.knex(`${h.storage.tablePrefix}audit_log`).where({ org_id: other.owner.orgId, seq: 14 }).delete();
      expect((await verify(other.owner)).body).to.deep.equal({ valid: false, checked: 13, brokenAt: 14, entryId: null });
    });

    it('refuses bad queries with field errors, and answers 401, 403 by role and 404 to non-members', async () => {
      const { owner, admin } = await orgWithHistory();
      const member = await addMember(h.app, owner, 'member');
      const stranger = await signupWithOrg(h.app);

      const bad = await list(owner, { since: 'yesterday', limit: 0, format: 'xml', cursor: 'abc', unknown: 1 });
      expectProblem(bad, 400, 'invalid_request');
      expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).to.deep.equal(['', 'cursor', 'format', 'limit', 'since']);
      expectProblem(await list(owner, { action: 'DROP TABLE' }), 400, 'invalid_request');

      expectProblem(await request(h.app).get(`/auth/orgs/${owner.orgId}/audit`), 401, 'missing_token');
      expectProblem(await request(h.app).get(`/auth/orgs/${owner.orgId}/audit/verify`), 401, 'missing_token');
      expectProblem(await list(member), 403, 'forbidden');
      expectProblem(await request(h.app).get(`/auth/orgs/${owner.orgId}/audit`).query({ format: 'ndjson' }).set(bearer(member.access)), 403, 'forbidden');
      expectProblem(await verify(admin), 403, 'forbidden');
      expectProblem(await verify(member), 403, 'forbidden');
      expectProblem(await list(stranger, {}, owner.orgId), 404, 'org_not_found');
      expectProblem(await verify(stranger, owner.orgId), 404, 'org_not_found');
      expectProblem(await list(owner, {}, 'no-such-org'), 404, 'org_not_found');
    });

    it('an action that fails records nothing; a throwing hook does not fail the action', async () => {
      const owner = await signupWithOrg(h.app);
      expectProblem(await request(h.app).delete(`/auth/orgs/${owner.orgId}/invitations/no-such-invitation`).set(bearer(owner.access)), 404, 'invitation_not_found');
      expect((await list(owner)).body.entries.map((e: EntryView) => e.action)).to.deep.equal(['signin.succeeded', 'org.created']);
      hookThrows = true;
      try {
        const inv = await request(h.app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).send({});
        expect(inv.status).to.equal(201);
      } finally {
        hookThrows = false;
      }
      expect((await list(owner)).body.entries.map((e: EntryView) => e.action)).to.deep.equal(['member.invited', 'signin.succeeded', 'org.created']);
    });

    it('GET /me/audit: the user reads their own account log (and nobody else\'s), with filters; 400 and 401', async () => {
      const u = await signupWithOrg(h.app);
      const other = await signupWithOrg(h.app);
      const NEW = `another-${Date.now()}-passphrase`;
      expect((await request(h.app).post('/auth/password/change').set(bearer(u.access)).send({ currentPassword: PASSWORD, newPassword: NEW })).status).to.equal(204);
      const again = (await request(h.app).post('/auth/signin').send({ email: u.email, password: NEW })).body.access_token as string;
      expect((await request(h.app).delete('/auth/sessions').set(bearer(again))).status).to.equal(204);
      const mine = await request(h.app).get('/auth/me/audit').set(bearer(again));
      expect(mine.status, mine.text).to.equal(200);
      expect(mine.body.entries.map((e: EntryView) => [e.action, e.orgId, e.actor.id])).to.deep.equal([
        ['session.revoked', null, u.userId],
        ['password.changed', null, u.userId],
      ]);
      expect(mine.body.next).to.equal(null);
      const filtered = await request(h.app).get('/auth/me/audit').query({ action: 'password.changed', limit: 1 }).set(bearer(again));
      expect(filtered.body.entries.map((e: EntryView) => e.action)).to.deep.equal(['password.changed']);
      expect((await request(h.app).get('/auth/me/audit').set(bearer(other.access))).body.entries).to.deep.equal([]);
      expectProblem(await request(h.app).get('/auth/me/audit').query({ since: 'yesterday', format: 'ndjson' }).set(bearer(again)), 400, 'invalid_request');
      expectProblem(await request(h.app).get('/auth/me/audit'), 401, 'missing_token');
    });

    it('the routes are in the OpenAPI document', async () => {
      const doc = (await request(h.app).get('/auth/openapi.json')).body;
      expect(doc.paths['/orgs/{orgId}/audit'].get.parameters.map((p: { name: string }) => p.name)).to.include.members(['orgId', 'action', 'actor', 'since', 'until', 'cursor', 'limit', 'format']);
      expect(doc.paths['/orgs/{orgId}/audit/verify'].get).to.be.an('object');
    });
  });
}

describe('audit log per organization', () => {
  auditSuite('on SQLite', (overrides) => startHarness(overrides));
  auditSuite('on PostgreSQL', async (overrides) => startHarness(overrides, { storage: createKnexStorage(pgConfig(await createTestDatabase('audit_http'))) }));
});
