import { expect } from 'chai';
import request from 'supertest';
import { PASSWORD, startHarness, unique, type Harness } from '../helpers/harness.js';

describe('POST /auth/signup', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  const createBody = (id = unique()) => ({
    email: `jane-${id}@example.com`,
    username: `jane${id}`,
    first_name: 'Jane',
    last_name: 'Doe',
    password: PASSWORD,
    action: 'create',
    orgCreateProps: { name: 'Acme Inc', slug: `acme-${id}`, description: 'Optional description' },
  });

  it('creates user, org and owner membership and answers with the user object', async () => {
    const body = createBody();
    const res = await request(h.app).post('/auth/signup').send(body);
    expect(res.status).to.equal(201);
    expect(res.body).to.have.all.keys('id', 'email', 'username', 'first_name', 'last_name', 'organizationId', 'roles');
    expect(res.body).to.include({ email: body.email, username: body.username, first_name: 'Jane', last_name: 'Doe' });
    expect(res.body.roles).to.deep.equal(['owner']);
    const org = await h.storage.orgs.findById(res.body.organizationId);
    expect(org).to.include({ name: 'Acme Inc', slug: body.orgCreateProps.slug, description: 'Optional description' });
    const membership = await h.storage.memberships.find(res.body.id, res.body.organizationId);
    expect(membership?.role).to.equal('owner');
    const user = await h.storage.users.findByEmail(body.email);
    expect(user?.passwordHash).to.match(/^\$2[aby]\$04\$/);
    expect(JSON.stringify(res.body)).not.to.contain(PASSWORD);
  });

  it('treats emails case-insensitively: a duplicate in other case is 409 email_taken', async () => {
    const body = createBody();
    expect((await request(h.app).post('/auth/signup').send(body)).status).to.equal(201);
    const again = { ...createBody(), email: `  ${body.email.toUpperCase()} ` };
    const res = await request(h.app).post('/auth/signup').send(again);
    expect(res.status).to.equal(409);
    expect(res.body.code).to.equal('email_taken');
    expect(res.headers['content-type']).to.match(/application\/problem\+json/);
  });

  it('refuses a duplicate slug with 409 slug_taken and keeps no user behind', async () => {
    const first = createBody();
    expect((await request(h.app).post('/auth/signup').send(first)).status).to.equal(201);
    const second = { ...createBody(), orgCreateProps: { name: 'Other', slug: first.orgCreateProps.slug.toUpperCase() } };
    const res = await request(h.app).post('/auth/signup').send(second);
    expect(res.status).to.equal(409);
    expect(res.body.code).to.equal('slug_taken');
    expect(await h.storage.users.findByEmail(second.email)).to.equal(null);
  });

  it('refuses a duplicate username regardless of case with 409 username_taken', async () => {
    const first = createBody();
    expect((await request(h.app).post('/auth/signup').send(first)).status).to.equal(201);
    const res = await request(h.app).post('/auth/signup').send({ ...createBody(), username: first.username.toUpperCase() });
    expect(res.status).to.equal(409);
    expect(res.body.code).to.equal('username_taken');
  });

  it('of 10 parallel signups with one email, exactly one succeeds', async () => {
    const id = unique();
    const email = `race-${id}@example.com`;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(h.app)
          .post('/auth/signup')
          .send({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Race', slug: `race-${id}-${i}` } }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).to.have.length(1);
    expect(statuses.filter((s) => s === 409)).to.have.length(9);
    results.filter((r) => r.status === 409).forEach((r) => expect(r.body.code).to.equal('email_taken'));
    // The losers' orgs were rolled back with their users.
    const orgs = await h.storage.knex('auth_orgs').where('slug', 'like', `race-${id}-%`);
    expect(orgs).to.have.length(1);
  });

  it('leaves no user, org or membership behind when the transaction fails midway', async () => {
    // A real database fault: the membership insert aborts inside the signup transaction.
    await h.storage.knex.raw("CREATE TRIGGER fail_membership BEFORE INSERT ON auth_memberships BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
    const body = createBody();
    const res = await request(h.app).post('/auth/signup').send(body);
    expect(res.status).to.equal(500);
    expect(res.body.code).to.equal('internal_error');
    expect(JSON.stringify(res.body)).not.to.contain('injected');
    expect(await h.storage.users.findByEmail(body.email)).to.equal(null);
    expect(await h.storage.knex('auth_orgs').where({ slug: body.orgCreateProps.slug })).to.have.length(0);
    expect(await h.storage.knex('auth_memberships')).to.have.length(0);
    await h.storage.knex.raw('DROP TRIGGER fail_membership');
    expect((await request(h.app).post('/auth/signup').send(body)).status).to.equal(201);
  });

  it('validates fields with clear errors', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...createBody(), email: 'not-an-email' }, 'email'],
      [{ ...createBody(), password: 'short' }, 'password'],
      [{ ...createBody(), action: 'destroy' }, 'action'],
      [{ ...createBody(), orgCreateProps: undefined }, 'orgCreateProps'],
      [{ ...createBody(), orgCreateProps: { name: 'X', slug: 'Not A Slug!' } }, 'orgCreateProps.slug'],
      [{ ...createBody(), orgCreateProps: { name: '', slug: 'ok-slug' } }, 'orgCreateProps.name'],
      [{ email: 'a@example.com', password: PASSWORD, action: 'join' }, 'invitationCode'],
      [{ ...createBody(), username: 'has space' }, 'username'],
    ];
    for (const [body, path] of cases) {
      const res = await request(h.app).post('/auth/signup').send(body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.code).to.equal('invalid_request');
      expect(res.body.errors.map((e: { path: string }) => e.path), JSON.stringify(body)).to.include(path);
    }
  });

  it('refuses passwords longer than 72 bytes rather than truncating them', async () => {
    const res = await request(h.app).post('/auth/signup').send({ ...createBody(), password: 'p'.repeat(73) });
    expect(res.status).to.equal(400);
    expect(res.body.code).to.equal('password_too_long');
    expect(res.body.errors[0].path).to.equal('password');
  });

  it('joins with an unknown invitation code → 400 invitation_invalid, and no user is created', async () => {
    const email = `nobody-${unique()}@example.com`;
    const res = await request(h.app).post('/auth/signup').send({ email, password: PASSWORD, action: 'join', invitationCode: 'inv_doesnotexist' });
    expect(res.status).to.equal(400);
    expect(res.body.code).to.equal('invitation_invalid');
    expect(await h.storage.users.findByEmail(email)).to.equal(null);
  });
});
