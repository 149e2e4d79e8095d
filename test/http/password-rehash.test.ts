import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import express from 'express';
import { generate } from 'otplib';
import request from 'supertest';
import { createAuthRouter, type AuthRouter, type PasswordOptions } from 'gatehouse-auth';
import { createKnexStorage, type KnexStorage } from 'gatehouse-auth/adapters/knex';
import { PASSWORD, SECRET, signupWithOrg } from '../helpers/harness.js';

/** Small argon2id parameters for test speed; production keeps the OWASP defaults. */
const ARGON2_SMALL = { algorithm: 'argon2id', memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;

interface Instance {
  app: express.Express;
  auth: AuthRouter;
  storage: KnexStorage;
  stop(): Promise<void>;
}

/** A host app on the SQLite file `filename`, hashing with `passwords`: one "deployment" of the configuration. */
async function start(filename: string, passwords: PasswordOptions): Promise<Instance> {
  const storage = createKnexStorage({ filename });
  const auth = createAuthRouter({ storage, tokens: { secret: SECRET }, passwords, logger: { warn: () => {}, error: () => {} } });
  const app = express();
  app.use('/auth', auth);
  await auth.ready();
  return {
    app,
    auth,
    storage,
    async stop() {
      await auth.close();
      await storage.close();
    },
  };
}

describe('transparent rehash on sign-in when the password algorithm or its cost changes (real SQLite file, restarts)', () => {
  let dir: string;
  let running: Instance | undefined;
  const file = () => join(dir, 'auth.sqlite');

  /** Stops the running instance and starts one with other password options on the same file. */
  async function restartWith(passwords: PasswordOptions): Promise<Instance> {
    await running?.stop();
    running = await start(file(), passwords);
    return running;
  }

  const storedHash = async (email: string) => (await running!.storage.users.findByEmail(email))?.passwordHash as string;
  const signinStatus = async (email: string, password = PASSWORD) => (await request(running!.app).post('/auth/signin').send({ email, password })).status;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-rehash-'));
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('bcrypt → argon2id: the next successful sign-in stores an $argon2id$ hash, and sign-in keeps working', async () => {
    const before = await restartWith({ cost: 4 });
    const user = await signupWithOrg(before.app);
    const bcryptHash = await storedHash(user.email);
    expect(bcryptHash).to.match(/^\$2b\$04\$/);

    await restartWith(ARGON2_SMALL);
    // A wrong password changes nothing.
    expect(await signinStatus(user.email, `${PASSWORD}!`)).to.equal(401);
    expect(await storedHash(user.email)).to.equal(bcryptHash);

    expect(await signinStatus(user.email)).to.equal(200);
    const argonHash = await storedHash(user.email);
    expect(argonHash).to.match(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);

    // Again: 200, and the hash is current now, so it is left alone.
    expect(await signinStatus(user.email)).to.equal(200);
    expect(await storedHash(user.email)).to.equal(argonHash);
    expect(await signinStatus(user.email, `${PASSWORD}!`)).to.equal(401);

    // And it survives a restart: the file holds the argon2id hash.
    await restartWith(ARGON2_SMALL);
    expect(await storedHash(user.email)).to.equal(argonHash);
    expect(await signinStatus(user.email)).to.equal(200);
  });

  it('argon2id → bcrypt: the next successful sign-in stores a bcrypt hash at the configured cost', async () => {
    const before = await restartWith(ARGON2_SMALL);
    const user = await signupWithOrg(before.app);
    expect(await storedHash(user.email)).to.match(/^\$argon2id\$/);

    await restartWith({ cost: 4 });
    expect(await signinStatus(user.email)).to.equal(200);
    const bcryptHash = await storedHash(user.email);
    expect(bcryptHash).to.match(/^\$2b\$04\$/);
    expect(bcrypt.compareSync(PASSWORD, bcryptHash)).to.equal(true);
    expect(await signinStatus(user.email)).to.equal(200);
    expect(await storedHash(user.email)).to.equal(bcryptHash);
  });

  it('a cost change rehashes: bcrypt cost 4 → 5 (native) and argon2id memoryCost 1024 → 2048', async () => {
    const before = await restartWith({ cost: 4, implementation: 'js', threads: 1 });
    const user = await signupWithOrg(before.app);
    expect(await storedHash(user.email)).to.match(/^\$2b\$04\$/);

    await restartWith({ cost: 5, implementation: 'native' });
    expect(await signinStatus(user.email)).to.equal(200);
    expect(await storedHash(user.email)).to.match(/^\$2b\$05\$/);

    await restartWith(ARGON2_SMALL);
    expect(await signinStatus(user.email)).to.equal(200);
    expect(await storedHash(user.email)).to.match(/^\$argon2id\$v=19\$m=1024,/);

    await restartWith({ ...ARGON2_SMALL, memoryCost: 2048 });
    expect(await signinStatus(user.email)).to.equal(200);
    const upgraded = await storedHash(user.email);
    expect(upgraded).to.match(/^\$argon2id\$v=19\$m=2048,t=1,p=1\$/);
    expect(await signinStatus(user.email)).to.equal(200);
    expect(await storedHash(user.email)).to.equal(upgraded);
  });

  describe('first sign-ins at once after a cost change (each rehashes; one upgrade is stored)', () => {
    /** A user hashed at cost 4, then an instance at cost 10: rehashing takes long enough that the sign-ins below all check the old hash first. */
    async function racingUser(totp: boolean): Promise<{ email: string; recoveryCodes: string[] }> {
      const before = await restartWith({ cost: 4 });
      const user = await signupWithOrg(before.app);
      let recoveryCodes: string[] = [];
      if (totp) {
        const bearer = { Authorization: `Bearer ${user.access}` };
        const setup = await request(before.app).post('/auth/mfa/totp/setup').set(bearer);
        const enable = await request(before.app).post('/auth/mfa/totp/enable').set(bearer).send({ code: await generate({ secret: setup.body.secret }) });
        expect(enable.status, enable.text).to.equal(200);
        recoveryCodes = enable.body.recoveryCodes;
      }
      await restartWith({ cost: 10 });
      return { email: user.email, recoveryCodes };
    }

    /** `n` password sign-ins at once (5: the throttle's limit in flight per account and address). */
    const signInsAtOnce = (email: string, n = 5) => Promise.all(Array.from({ length: n }, () => request(running!.app).post('/auth/signin').send({ email, password: PASSWORD })));

    it('a password sign-in: every one keeps its session, none is taken for a password change', async () => {
      const { email } = await racingUser(false);
      const results = await signInsAtOnce(email);
      for (const r of results) expect(r.status, r.text).to.equal(200);
      for (const r of results) expect((await request(running!.app).post('/auth/refresh').send({ refresh_token: r.body.refresh_token })).status).to.equal(200);
      const hash = await storedHash(email);
      expect(hash).to.match(/^\$2b\$10\$/);
      expect(bcrypt.compareSync(PASSWORD, hash)).to.equal(true);
      expect(await running!.storage.knex('auth_audit_log').where({ action: 'session.revoked' })).to.have.length(0);
    });

    it('with TOTP on: every challenge begun at once passes its second step', async () => {
      const { email, recoveryCodes } = await racingUser(true);
      const challenges = await signInsAtOnce(email);
      for (const r of challenges) expect(r.status, r.text).to.equal(403);
      const steps = await Promise.all(challenges.map((r, i) => request(running!.app).post('/auth/mfa/verify').send({ mfa_token: r.body.mfa_token, recoveryCode: recoveryCodes[i] })));
      for (const r of steps) expect(r.status, r.text).to.equal(200);
      expect(await storedHash(email)).to.match(/^\$2b\$10\$/);
    });
  });

  it('reauthentication with the password (POST /reauthenticate) rehashes too', async () => {
    const before = await restartWith({ cost: 4 });
    const user = await signupWithOrg(before.app);
    expect(await storedHash(user.email)).to.match(/^\$2b\$/);

    const after = await restartWith(ARGON2_SMALL);
    // The access token from before the restart is still good (same signing secret).
    const res = await request(after.app).post('/auth/reauthenticate').set('Authorization', `Bearer ${user.access}`).send({ password: PASSWORD });
    expect(res.status, res.text).to.equal(200);
    expect(await storedHash(user.email)).to.match(/^\$argon2id\$/);
  });

  it('turning TOTP off with the password (POST /mfa/totp/disable) rehashes too', async () => {
    const before = await restartWith({ cost: 4 });
    const user = await signupWithOrg(before.app);
    const bearer = { Authorization: `Bearer ${user.access}` };
    const setup = await request(before.app).post('/auth/mfa/totp/setup').set(bearer);
    expect(setup.status, setup.text).to.equal(200);
    const enable = await request(before.app).post('/auth/mfa/totp/enable').set(bearer).send({ code: await generate({ secret: setup.body.secret }) });
    expect(enable.status, enable.text).to.equal(200);

    const after = await restartWith(ARGON2_SMALL);
    // No sign-in in between (it would rehash first): the session from before the restart turns TOTP off.
    expect(await storedHash(user.email)).to.match(/^\$2b\$/);
    const off = await request(after.app).post('/auth/mfa/totp/disable').set(bearer).send({ password: PASSWORD });
    expect(off.status, off.text).to.equal(204);
    expect(await storedHash(user.email)).to.match(/^\$argon2id\$/);
  });

  it('argon2id → bcrypt with a password over 72 bytes: sign-in still works and the argon2id hash stays', async () => {
    const long = `${'long passphrase '.repeat(6)}!`;
    expect(Buffer.byteLength(long)).to.be.greaterThan(72);
    const before = await restartWith(ARGON2_SMALL);
    const email = `long-${Date.now()}@example.com`;
    const signup = await request(before.app)
      .post('/auth/signup')
      .send({ email, password: long, action: 'create', orgCreateProps: { name: 'Long', slug: `long-${Date.now()}` } });
    expect(signup.status, signup.text).to.equal(201);
    const user = { email };
    const argonHash = await storedHash(user.email);
    expect(argonHash).to.match(/^\$argon2id\$/);

    await restartWith({ cost: 4 });
    // bcrypt cannot hold this password, so the upgrade is skipped (logged), not the sign-in.
    expect(await signinStatus(user.email, long)).to.equal(200);
    expect(await storedHash(user.email)).to.equal(argonHash);
    expect(await signinStatus(user.email, long.slice(0, 72))).to.equal(401);
  });

  it('under argon2id an unknown email gets the same 401 as a wrong password (checked against an argon2id dummy hash)', async () => {
    const app = (await restartWith(ARGON2_SMALL)).app;
    const user = await signupWithOrg(app);
    const unknown = await request(app).post('/auth/signin').send({ email: `nobody-${user.email}`, password: PASSWORD });
    const wrong = await request(app).post('/auth/signin').send({ email: user.email, password: `${PASSWORD}!` });
    expect(unknown.status).to.equal(401);
    expect(wrong.status).to.equal(401);
    expect(unknown.body).to.deep.equal(wrong.body);
  });
});
