import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import express from 'express';
import request from 'supertest';
import { AuthError, BCRYPT_MAX_BYTES, createAuthRouter, createBcryptHasher } from 'gatehouse-auth';
import { PASSWORD, SECRET, signin, signupWithOrg, startHarness, unique, type Harness } from '../helpers/harness.js';
import { rejection } from '../helpers/rejection.js';

const signupBody = (email: string, password: string) => {
  const id = unique();
  return { email, password, action: 'create', orgCreateProps: { name: `Org ${id}`, slug: `pw-${id}` } };
};

describe('createBcryptHasher', () => {
  const hasher = createBcryptHasher({ cost: 4 });

  it('round trip: verify accepts the password and refuses others', async () => {
    const hash = await hasher.hash('s3cret-passw0rd');
    expect(hash).to.match(/^\$2[aby]\$04\$/);
    expect(await hasher.verify('s3cret-passw0rd', hash)).to.equal(true);
    expect(await hasher.verify('s3cret-passw0rD', hash)).to.equal(false);
    expect(await hasher.verify('', hash)).to.equal(false);
    // Salted: the same password hashes differently.
    expect(await hasher.hash('s3cret-passw0rd')).not.to.equal(hash);
  });

  it('hash of a 73-byte password throws AuthError password_too_long; 72 bytes is fine', async () => {
    expect(BCRYPT_MAX_BYTES).to.equal(72);
    const err = await rejection(hasher.hash('a'.repeat(73)));
    expect(err).to.be.instanceOf(AuthError);
    expect((err as AuthError).code).to.equal('password_too_long');
    expect((err as AuthError).status).to.equal(400);
    const hash = await hasher.hash('a'.repeat(72));
    expect(await hasher.verify('a'.repeat(72), hash)).to.equal(true);
  });

  it('verify of a password over 72 bytes is false, even against the hash of its first 72 bytes', async () => {
    const prefix = 'p'.repeat(72);
    const hash = await hasher.hash(prefix);
    expect(await hasher.verify(`${prefix}x`, hash)).to.equal(false);
    // bcrypt itself would say yes: the hasher must not delegate blindly.
    expect(await bcrypt.compare(`${prefix}x`, hash)).to.equal(true);
  });

  it('counts UTF-8 bytes, not characters', async () => {
    const euros = '€'.repeat(25); // 25 characters, 75 bytes
    expect(Buffer.byteLength(euros)).to.equal(75);
    expect(((await rejection(hasher.hash(euros))) as AuthError).code).to.equal('password_too_long');
    const fits = '€'.repeat(24); // 72 bytes
    expect(await hasher.verify(fits, await hasher.hash(fits))).to.equal(true);
  });

  it('needsRehash is true when the cost differs (or the hash is not bcrypt), false otherwise', async () => {
    const hash4 = await hasher.hash('password-one');
    expect(hasher.needsRehash(hash4)).to.equal(false);
    expect(createBcryptHasher({ cost: 5 }).needsRehash(hash4)).to.equal(true);
    expect(createBcryptHasher({ cost: 5 }).needsRehash(await createBcryptHasher({ cost: 5 }).hash('x'))).to.equal(false);
    expect(hasher.needsRehash('not-a-hash')).to.equal(true);
  });

  it('dummyHash is a valid hash that matches nothing guessable', async () => {
    const dummy = await hasher.dummyHash();
    expect(bcrypt.getRounds(dummy)).to.equal(4);
    expect(await hasher.verify('', dummy)).to.equal(false);
    expect(await hasher.verify(PASSWORD, dummy)).to.equal(false);
    expect(await hasher.dummyHash()).to.equal(dummy);
  });

  it('refuses an invalid cost', () => {
    for (const cost of [3, 32, 10.5, 0, -1, Number.NaN]) {
      expect(() => createBcryptHasher({ cost }), String(cost)).to.throw(TypeError, /passwords\.cost/);
    }
    expect(() => createBcryptHasher({ cost: '10' as unknown as number })).to.throw(TypeError, /passwords\.cost/);
    expect(() => createBcryptHasher({ cost: 4 })).not.to.throw();
    expect(() => createBcryptHasher({ cost: 31 })).not.to.throw();
  });

  describe('through the router', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness();
    });
    after(async () => {
      await h.close();
    });

    it('two passwords differing only after byte 72: the 72-byte prefix signs up, prefix + x is refused with 401', async () => {
      const prefix = `${'Z'.repeat(60)}abcdefghij12`;
      expect(Buffer.byteLength(prefix)).to.equal(72);
      const email = `long-${unique()}@example.com`;
      const res = await request(h.app).post('/auth/signup').send(signupBody(email, prefix));
      expect(res.status, res.text).to.equal(201);
      expect((await request(h.app).post('/auth/signin').send({ email, password: prefix })).status).to.equal(200);

      const wrong = await request(h.app).post('/auth/signin').send({ email, password: `${prefix}x` });
      expect(wrong.status).to.equal(401);
      expect(wrong.body.code).to.equal('invalid_credentials');
      expect(wrong.text).not.to.contain(prefix);

      // And a 73-byte password cannot be registered in the first place.
      const tooLong = await request(h.app).post('/auth/signup').send(signupBody(`long-${unique()}@example.com`, `${prefix}x`));
      expect(tooLong.status).to.equal(400);
      expect(tooLong.body.code).to.equal('password_too_long');
    });

    it('multi-byte UTF-8 counts bytes: 25 × € (75 bytes) is rejected at signup with 400 password_too_long', async () => {
      const email = `euro-${unique()}@example.com`;
      const res = await request(h.app).post('/auth/signup').send(signupBody(email, '€'.repeat(25)));
      expect(res.status).to.equal(400);
      expect(res.body.code).to.equal('password_too_long');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include('password');
      expect(res.text).not.to.contain('€€€');
      expect(await h.storage.users.findByEmail(email)).to.equal(null);
      // 24 × € is 72 bytes: accepted, and it signs in.
      const ok = `euro-${unique()}@example.com`;
      expect((await request(h.app).post('/auth/signup').send(signupBody(ok, '€'.repeat(24)))).status).to.equal(201);
      expect((await request(h.app).post('/auth/signin').send({ email: ok, password: '€'.repeat(24) })).status).to.equal(200);
    });
  });

  describe('rehash on sign-in after a cost change', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ passwords: { cost: 4 } });
    });
    after(async () => {
      await h.close();
    });

    it('a router with cost 5 on the same storage upgrades the stored hash at sign-in, and the password still works', async () => {
      const u = await signupWithOrg(h.app);
      const before = (await h.storage.users.findByEmail(u.email))?.passwordHash;
      expect(before).to.be.a('string');
      expect(bcrypt.getRounds(before as string)).to.equal(4);

      const auth5 = createAuthRouter({ storage: h.storage, tokens: { secret: SECRET }, passwords: { cost: 5 }, logger: { warn: () => {}, error: () => {} } });
      try {
        const app5 = express();
        app5.use('/auth', auth5);
        await auth5.ready();

        // A wrong password does not touch the hash.
        expect((await request(app5).post('/auth/signin').send({ email: u.email, password: 'wrong password!' })).status).to.equal(401);
        expect((await h.storage.users.findByEmail(u.email))?.passwordHash).to.equal(before);

        await signin(app5, u.email);
        const after = (await h.storage.users.findByEmail(u.email))?.passwordHash as string;
        expect(after).not.to.equal(before);
        expect(bcrypt.getRounds(after)).to.equal(5);
        expect(await bcrypt.compare(PASSWORD, after)).to.equal(true);

        // The password still works, on both routers; a second sign-in at cost 5 leaves the hash alone.
        await signin(app5, u.email);
        expect((await h.storage.users.findByEmail(u.email))?.passwordHash).to.equal(after);
        await signin(h.app, u.email);
        const back = (await h.storage.users.findByEmail(u.email))?.passwordHash as string;
        expect(bcrypt.getRounds(back)).to.equal(4);
        expect((await request(app5).post('/auth/signin').send({ email: u.email, password: `${PASSWORD}!` })).status).to.equal(401);
      } finally {
        auth5.close();
      }
    });
  });
});
