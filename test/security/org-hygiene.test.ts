import { expect } from 'chai';
import request from 'supertest';
import { addMember, expectProblem, PASSWORD, signin, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Issue 11 item 6: removed or demoted members keep nothing they made above what they now are. */
describe('security: what removed and demoted members made (issue 11 item 6)', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  const invite = async (by: SignedUp, role: 'member' | 'admin') => {
    const res = await request(h.app).post(`/auth/orgs/${by.orgId}/invitations`).set(bearer(by.access)).send({ role });
    expect(res.status, res.text).to.equal(201);
    return res.body.code as string;
  };
  const createKey = async (by: SignedUp, role: 'member' | 'admin') => {
    const res = await request(h.app).post('/auth/api-keys').set(bearer(by.access)).send({ name: 'ci', role });
    expect(res.status, res.text).to.equal(201);
    return res.body.key as string;
  };
  const withKey = (path: string, key: string, orgId: string) => request(h.app).get(path).set({ 'X-API-Key': key, 'X-Tenant-Id': orgId });
  const remove = (by: SignedUp, target: SignedUp) => request(h.app).delete(`/auth/orgs/${by.orgId}/members/${target.userId}`).set(bearer(by.access));
  const changeRole = (by: SignedUp, target: SignedUp, role: string) => request(h.app).patch(`/auth/orgs/${by.orgId}/members/${target.userId}`).set(bearer(by.access)).send({ role });
  /** Joins with a code as an existing account that has no org session left. */
  const join = async (who: SignedUp, code: string) => request(h.app).post('/auth/setup-org').set(bearer((await signin(h.app, who.email)).access)).send({ action: 'join', invitationCode: code });
  const signupWith = (code: string) => request(h.app).post('/auth/signup').send({ email: `new-${unique()}@example.com`, password: PASSWORD, action: 'join', invitationCode: code });

  it("item 6: a removed admin's pending invitation cannot be used to re-join", async () => {
    const owner = await signupWithOrg(h.app);
    const admin = await addMember(h.app, owner, 'admin');
    const code = await invite(admin, 'admin');
    expect((await remove(owner, admin)).status).to.equal(204);

    expectProblem(await join(admin, code), 400, 'invitation_invalid');
    expect(await h.storage.memberships.find(admin.userId, owner.orgId)).to.equal(null);
    // Nor by anyone else it was passed to.
    expectProblem(await signupWith(code), 400, 'invitation_invalid');
  });

  it("item 6: a removed admin's API key stays dead after they re-join", async () => {
    const owner = await signupWithOrg(h.app);
    const admin = await addMember(h.app, owner, 'admin');
    const key = await createKey(admin, 'admin');
    expect((await withKey('/api/admin', key, owner.orgId)).status).to.equal(200);

    expect((await remove(owner, admin)).status).to.equal(204);
    expectProblem(await withKey('/api/hello', key, owner.orgId), 401, 'invalid_api_key');

    const rejoined = await join(admin, await invite(owner, 'admin'));
    expect(rejoined.status, rejoined.text).to.equal(200);
    expectProblem(await withKey('/api/hello', key, owner.orgId), 401, 'invalid_api_key');
    expect((await h.storage.apiKeys.listForOrg(owner.orgId)).filter((k) => k.createdBy === admin.userId)).to.have.length(0);
  });

  it("item 6: a demoted admin's API key acts as a member at once, and their admin invitations are revoked", async () => {
    const owner = await signupWithOrg(h.app);
    const admin = await addMember(h.app, owner, 'admin');
    const key = await createKey(admin, 'admin');
    const adminCode = await invite(admin, 'admin');
    const memberCode = await invite(admin, 'member');
    // Used once, so the principal is cached with the admin role.
    expect((await withKey('/api/admin', key, owner.orgId)).status).to.equal(200);

    expect((await changeRole(owner, admin, 'member')).status).to.equal(200);
    expectProblem(await withKey('/api/admin', key, owner.orgId), 403, 'forbidden');
    const hello = await withKey('/api/hello', key, owner.orgId);
    expect(hello.status).to.equal(200);
    expect(hello.body.role).to.equal('member');
    // Capped in storage too: promoting them back does not give the key its old role.
    expect((await h.storage.apiKeys.listForOrg(owner.orgId)).find((k) => k.createdBy === admin.userId)?.role).to.equal('member');

    expectProblem(await signupWith(adminCode), 400, 'invitation_invalid');
    // A member invites nobody, so their member-role invitation is refused at use.
    expectProblem(await signupWith(memberCode), 400, 'invitation_invalid');
  });

  it('item 6: an invitation is checked against its creator at use: an admin invitation whose creator was demoted meanwhile is refused', async () => {
    const owner = await signupWithOrg(h.app);
    const admin = await addMember(h.app, owner, 'admin');
    const adminCode = await invite(admin, 'admin');
    // The demotion lands between creation and use without revoking anything (as in a race).
    await h.storage.memberships.updateRole(admin.userId, owner.orgId, 'member');

    expectProblem(await signupWith(adminCode), 400, 'invitation_invalid');
    // Refused without spending it: the code is no good, not used.
    const stored = await h.storage.invitations.listActive(owner.orgId, Date.now());
    expect(stored.map((i) => i.createdBy)).to.deep.equal([admin.userId]);

    // Once the creator may grant the role again, it works.
    await h.storage.memberships.updateRole(admin.userId, owner.orgId, 'admin');
    const ok = await signupWith(adminCode);
    expect(ok.status, ok.text).to.equal(201);
    expect(ok.body.roles).to.deep.equal(['admin']);
  });
});
