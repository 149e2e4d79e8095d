import { expect } from 'chai';
import type express from 'express';
import request from 'supertest';
import { addMember, PASSWORD, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';

const bearer = (u: { access: string }) => `Bearer ${u.access}`;

function expectProblem(res: request.Response, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  expect(res.body.code).to.equal(code);
}

const createInvitation = (app: express.Express, actor: SignedUp, orgId: string, body?: Record<string, unknown>) => {
  const req = request(app).post(`/auth/orgs/${orgId}/invitations`).set('Authorization', bearer(actor));
  return body === undefined ? req : req.send(body);
};

async function inviteCode(app: express.Express, actor: SignedUp, body: Record<string, unknown> = {}): Promise<{ id: string; code: string }> {
  const res = await createInvitation(app, actor, actor.orgId, body);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return { id: res.body.id as string, code: res.body.code as string };
}

const newEmail = () => `joiner-${unique()}@example.com`;

const joinSignup = (app: express.Express, email: string, invitationCode: string) =>
  request(app).post('/auth/signup').send({ email, password: PASSWORD, action: 'join', invitationCode });

describe('invitations', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  describe('POST /orgs/:orgId/invitations', () => {
    it('an owner creates one: 201 with id, code, role, email and expiresAt', async () => {
      const owner = await signupWithOrg(h.app);
      const before = Date.now();
      const res = await createInvitation(h.app, owner, owner.orgId, { email: 'Invitee@Example.com', role: 'admin', expiresInHours: 48 });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.include.all.keys('id', 'code', 'role', 'email', 'expiresAt');
      expect(res.body).to.include({ role: 'admin', email: 'invitee@example.com' });
      expect(res.body.code).to.be.a('string').with.length.above(15);
      const expiresAt = Date.parse(res.body.expiresAt);
      expect(expiresAt).to.be.within(before + 48 * 3600_000 - 1000, Date.now() + 48 * 3600_000 + 1000);
      // The code itself is not stored, only its hash.
      const rows = await h.storage.invitations.listActive(owner.orgId, Date.now());
      expect(rows.map((r) => r.id)).to.include(res.body.id);
      expect(JSON.stringify(rows)).not.to.contain(res.body.code);
    });

    it('defaults: no body → role member, no email, 7 days', async () => {
      const owner = await signupWithOrg(h.app);
      const res = await createInvitation(h.app, owner, owner.orgId);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.include({ role: 'member', email: null });
      expect(Date.parse(res.body.expiresAt) - Date.now()).to.be.within(7 * 86400_000 - 60_000, 7 * 86400_000 + 1000);
    });

    it('an admin creates one: 201', async () => {
      const owner = await signupWithOrg(h.app);
      const admin = await addMember(h.app, owner, 'admin');
      const res = await createInvitation(h.app, admin, owner.orgId, { role: 'admin' });
      expect(res.status).to.equal(201);
      expect(res.body).to.include({ role: 'admin' });
    });

    it('a member → 403 forbidden; a non-member → 404 org_not_found; nothing is created', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      const stranger = await signupWithOrg(h.app);
      expectProblem(await createInvitation(h.app, member, owner.orgId, {}), 403, 'forbidden');
      const notMine = await createInvitation(h.app, stranger, owner.orgId, {});
      expectProblem(notMine, 404, 'org_not_found');
      expect(notMine.body).not.to.have.any.keys('id', 'expiresAt');
      // addMember used one invitation; nothing else exists.
      expect(await h.storage.invitations.listActive(owner.orgId, Date.now())).to.deep.equal([]);
    });

    it('an admin cannot invite with role owner: 403', async () => {
      const owner = await signupWithOrg(h.app);
      const admin = await addMember(h.app, owner, 'admin');
      expectProblem(await createInvitation(h.app, admin, owner.orgId, { role: 'owner' }), 403, 'forbidden');
      // An owner can.
      expect((await createInvitation(h.app, owner, owner.orgId, { role: 'owner' })).status).to.equal(201);
    });

    it('expiresInHours above the maximum (30 days by default) → 400 naming expiresInHours', async () => {
      const owner = await signupWithOrg(h.app);
      for (const expiresInHours of [30 * 24 + 1, 24 * 365 + 1, 0, -5, '12']) {
        const res = await createInvitation(h.app, owner, owner.orgId, { expiresInHours });
        expectProblem(res, 400, 'invalid_request');
        expect(res.body.errors.map((e: { path: string }) => e.path)).to.include('expiresInHours');
      }
      expect(await h.storage.invitations.listActive(owner.orgId, Date.now())).to.deep.equal([]);
      expect((await createInvitation(h.app, owner, owner.orgId, { expiresInHours: 30 * 24 })).status).to.equal(201);
    });
  });

  describe('GET /orgs/:orgId/invitations', () => {
    it('lists pending invitations without their codes', async () => {
      const owner = await signupWithOrg(h.app);
      const a = await inviteCode(h.app, owner, { role: 'admin', email: 'pending@example.com' });
      const b = await inviteCode(h.app, owner);
      const used = await inviteCode(h.app, owner);
      expect((await joinSignup(h.app, newEmail(), used.code)).status).to.equal(201);

      const res = await request(h.app).get(`/auth/orgs/${owner.orgId}/invitations`).set('Authorization', bearer(owner));
      expect(res.status).to.equal(200);
      const ids = res.body.invitations.map((i: { id: string }) => i.id);
      expect(ids).to.have.members([a.id, b.id]);
      for (const inv of res.body.invitations) {
        expect(inv).not.to.have.any.keys('code', 'codeHash', 'code_hash');
        expect(inv).to.include.all.keys('id', 'role', 'email', 'expiresAt');
      }
      expect(res.text).not.to.contain(a.code);
      expect(res.text).not.to.contain(b.code);
      expect(res.body.invitations.find((i: { id: string }) => i.id === a.id)).to.include({ role: 'admin', email: 'pending@example.com' });
    });

    it('a member → 403, a non-member → 404', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      const stranger = await signupWithOrg(h.app);
      expectProblem(await request(h.app).get(`/auth/orgs/${owner.orgId}/invitations`).set('Authorization', bearer(member)), 403, 'forbidden');
      expectProblem(await request(h.app).get(`/auth/orgs/${owner.orgId}/invitations`).set('Authorization', bearer(stranger)), 404, 'org_not_found');
    });
  });

  describe('DELETE /orgs/:orgId/invitations/:invitationId', () => {
    it('revokes: 204, gone from the list, and joining with the code → 400 invitation_invalid', async () => {
      const owner = await signupWithOrg(h.app);
      const inv = await inviteCode(h.app, owner);
      const res = await request(h.app).delete(`/auth/orgs/${owner.orgId}/invitations/${inv.id}`).set('Authorization', bearer(owner));
      expect(res.status).to.equal(204);
      const list = await request(h.app).get(`/auth/orgs/${owner.orgId}/invitations`).set('Authorization', bearer(owner));
      expect(list.body.invitations).to.deep.equal([]);

      const email = newEmail();
      expectProblem(await joinSignup(h.app, email, inv.code), 400, 'invitation_invalid');
      expect(await h.storage.users.findByEmail(email)).to.equal(null);

      // Revoking it again: it is no longer pending.
      expectProblem(await request(h.app).delete(`/auth/orgs/${owner.orgId}/invitations/${inv.id}`).set('Authorization', bearer(owner)), 404, 'invitation_not_found');
    });

    it('a used invitation cannot be revoked: 404 invitation_not_found, and the membership stays', async () => {
      const owner = await signupWithOrg(h.app);
      const inv = await inviteCode(h.app, owner);
      const joined = await joinSignup(h.app, newEmail(), inv.code);
      expect(joined.status).to.equal(201);
      expectProblem(await request(h.app).delete(`/auth/orgs/${owner.orgId}/invitations/${inv.id}`).set('Authorization', bearer(owner)), 404, 'invitation_not_found');
      expect((await h.storage.memberships.find(joined.body.id, owner.orgId))?.role).to.equal('member');
    });

    it('an unknown id → 404 invitation_not_found', async () => {
      const owner = await signupWithOrg(h.app);
      expectProblem(await request(h.app).delete(`/auth/orgs/${owner.orgId}/invitations/no-such-id`).set('Authorization', bearer(owner)), 404, 'invitation_not_found');
    });

    it("another org's invitation through my org id → 404, and it stays usable", async () => {
      const owner = await signupWithOrg(h.app);
      const other = await signupWithOrg(h.app);
      const inv = await inviteCode(h.app, other);
      expectProblem(await request(h.app).delete(`/auth/orgs/${owner.orgId}/invitations/${inv.id}`).set('Authorization', bearer(owner)), 404, 'invitation_not_found');
      expect((await joinSignup(h.app, newEmail(), inv.code)).status).to.equal(201);
    });

    it('a member → 403 and the invitation stays', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      const inv = await inviteCode(h.app, owner);
      expectProblem(await request(h.app).delete(`/auth/orgs/${owner.orgId}/invitations/${inv.id}`).set('Authorization', bearer(member)), 403, 'forbidden');
      expect((await h.storage.invitations.listActive(owner.orgId, Date.now())).map((i) => i.id)).to.deep.equal([inv.id]);
    });
  });

  describe('joining with a code', () => {
    it('the joined member gets the invitation role', async () => {
      const owner = await signupWithOrg(h.app);
      for (const role of ['admin', 'member', 'owner'] as const) {
        const inv = await inviteCode(h.app, owner, { role });
        const res = await joinSignup(h.app, newEmail(), inv.code);
        expect(res.status, JSON.stringify(res.body)).to.equal(201);
        expect(res.body).to.include({ organizationId: owner.orgId });
        expect(res.body.roles).to.deep.equal([role]);
        expect((await h.storage.memberships.find(res.body.id, owner.orgId))?.role).to.equal(role);
      }
    });

    it('an email-bound invitation refuses another email with 403, and stays usable by the right one', async () => {
      const owner = await signupWithOrg(h.app);
      const bound = `Bound-${unique()}@Example.com`;
      const inv = await inviteCode(h.app, owner, { email: bound });

      const wrongEmail = newEmail();
      expectProblem(await joinSignup(h.app, wrongEmail, inv.code), 403, 'invitation_email_mismatch');
      expect(await h.storage.users.findByEmail(wrongEmail)).to.equal(null);

      // The right email, in another case and with spaces, still works.
      const res = await joinSignup(h.app, `  ${bound.toUpperCase()} `, inv.code);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.email).to.equal(bound.toLowerCase());
      expect(res.body.organizationId).to.equal(owner.orgId);
    });

    it('an email-bound invitation refuses a signed-in user with another email at /setup-org too', async () => {
      const owner = await signupWithOrg(h.app);
      const someone = await signupWithOrg(h.app);
      const inv = await inviteCode(h.app, owner, { email: newEmail() });
      const res = await request(h.app).post('/auth/setup-org').set('Authorization', bearer(someone)).send({ action: 'join', invitationCode: inv.code });
      expectProblem(res, 403, 'invitation_email_mismatch');
      expect(await h.storage.memberships.find(someone.userId, owner.orgId)).to.equal(null);
      // A user with the bound email can still join through /setup-org.
      const bound = await signupWithOrg(h.app);
      const forBound = await inviteCode(h.app, owner, { email: bound.email.toUpperCase() });
      const ok = await request(h.app).post('/auth/setup-org').set('Authorization', bearer(bound)).send({ action: 'join', invitationCode: forBound.code });
      expect(ok.status, ok.text).to.equal(200);
      expect((await h.storage.memberships.find(bound.userId, owner.orgId))?.role).to.equal('member');
    });

    it('a used code again → 409 invitation_used, and no user is created', async () => {
      const owner = await signupWithOrg(h.app);
      const inv = await inviteCode(h.app, owner);
      expect((await joinSignup(h.app, newEmail(), inv.code)).status).to.equal(201);
      const email = newEmail();
      expectProblem(await joinSignup(h.app, email, inv.code), 409, 'invitation_used');
      expect(await h.storage.users.findByEmail(email)).to.equal(null);
    });

    it('5 parallel signups with one code: exactly one 201, four 4xx, exactly one new member', async () => {
      const owner = await signupWithOrg(h.app);
      const inv = await inviteCode(h.app, owner);
      const emails = Array.from({ length: 5 }, newEmail);
      const results = await Promise.all(emails.map((email) => joinSignup(h.app, email, inv.code)));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201), JSON.stringify(statuses)).to.have.length(1);
      const losers = results.filter((r) => r.status !== 201);
      expect(losers).to.have.length(4);
      for (const r of losers) {
        expect(r.status).to.be.within(400, 499);
        expect(r.body.code).to.equal('invitation_used');
      }
      const members = await h.storage.memberships.listForOrg(owner.orgId);
      expect(members).to.have.length(2);
      const winner = results.find((r) => r.status === 201);
      expect(members.map((m) => m.userId)).to.include(winner?.body.id);
      // The losers left no account behind.
      const users = await Promise.all(emails.map((e) => h.storage.users.findByEmail(e)));
      expect(users.filter((u) => u !== null)).to.have.length(1);
    });

    it('a failed join (duplicate email) does not consume the code', async () => {
      const owner = await signupWithOrg(h.app);
      const existing = await signupWithOrg(h.app);
      const inv = await inviteCode(h.app, owner);
      expectProblem(await joinSignup(h.app, existing.email, inv.code), 409, 'email_taken');
      expect((await h.storage.invitations.listActive(owner.orgId, Date.now())).map((i) => i.id)).to.deep.equal([inv.id]);
      const res = await joinSignup(h.app, newEmail(), inv.code);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
    });

    it('a join that fails after the code is consumed (already a member) rolls back and leaves the code usable', async () => {
      const owner = await signupWithOrg(h.app);
      const member = await addMember(h.app, owner);
      const inv = await inviteCode(h.app, owner, { role: 'admin' });
      const res = await request(h.app).post('/auth/setup-org').set('Authorization', bearer(member)).send({ action: 'join', invitationCode: inv.code });
      expectProblem(res, 409, 'already_member');
      expect((await h.storage.memberships.find(member.userId, owner.orgId))?.role).to.equal('member');
      const again = await joinSignup(h.app, newEmail(), inv.code);
      expect(again.status, JSON.stringify(again.body)).to.equal(201);
      expect(again.body.roles).to.deep.equal(['admin']);
    });
  });

  describe('expiry (controlled clock)', () => {
    let t = Date.now();
    let hc: Harness;
    before(async () => {
      hc = await startHarness({ clock: { now: () => t } });
    });
    after(async () => {
      await hc.close();
    });

    it('a code past its expiry → 400 invitation_expired, and it leaves the pending list', async () => {
      const owner = await signupWithOrg(hc.app);
      const inv = await inviteCode(hc.app, owner, { expiresInHours: 1 });
      const early = await inviteCode(hc.app, owner, { expiresInHours: 1 });
      const fresh = await inviteCode(hc.app, owner, { expiresInHours: 3 });
      // Guarded calls are done: from here on only the (unguarded) signup is used while the clock moves.
      t += 59 * 60_000;
      expect((await joinSignup(hc.app, newEmail(), early.code)).status).to.equal(201);
      t += 2 * 60_000;

      const email = newEmail();
      expectProblem(await joinSignup(hc.app, email, inv.code), 400, 'invitation_expired');
      expect(await hc.storage.users.findByEmail(email)).to.equal(null);
      const pending = await hc.storage.invitations.listActive(owner.orgId, t);
      expect(pending.map((i) => i.id)).to.deep.equal([fresh.id]);

      t += 2 * 3600_000;
      expectProblem(await joinSignup(hc.app, newEmail(), fresh.code), 400, 'invitation_expired');
    });
  });
});
