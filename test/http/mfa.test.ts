import { expect } from 'chai';
import { generate } from 'otplib';
import request from 'supertest';
import { claimsOf, PASSWORD, signin, signupWithOrg, startHarness, type Harness, type SignedUp } from '../helpers/harness.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('TOTP MFA', () => {
  let h: Harness;
  let now: number;
  let user: SignedUp;
  // Start each test in the middle of a 30 s step, so ±1 step arithmetic is unambiguous.
  const startOfStep = () => Math.floor(Date.now() / 30_000) * 30_000 + 15_000;
  const codeAt = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });

  beforeEach(async () => {
    now = startOfStep();
    h = await startHarness({ clock: { now: () => now }, throttle: { perMfaUser: { points: 3, duration: 300 } } });
    user = await signupWithOrg(h.app);
  });
  afterEach(async () => {
    await h.close();
  });

  async function enrol(): Promise<{ secret: string; recoveryCodes: string[] }> {
    const setup = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(user.access));
    expect(setup.status).to.equal(200);
    const { secret } = setup.body;
    const enable = await request(h.app).post('/auth/mfa/totp/enable').set(bearer(user.access)).send({ code: await codeAt(secret, now) });
    expect(enable.status).to.equal(200);
    return { secret, recoveryCodes: enable.body.recoveryCodes };
  }

  async function mfaToken(): Promise<string> {
    const res = await request(h.app).post('/auth/signin').send({ email: user.email, password: PASSWORD });
    expect(res.status).to.equal(403);
    expect(res.body.code).to.equal('mfa_required');
    return res.body.mfa_token;
  }

  it('enrols: secret, otpauth URL and QR code, pending until a code confirms it', async () => {
    const setup = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(user.access));
    expect(setup.body).to.have.all.keys('secret', 'otpauthUrl', 'qrCodeDataUrl');
    expect(setup.body.otpauthUrl).to.match(/^otpauth:\/\/totp\/gatehouse:/).and.to.contain(`secret=${setup.body.secret}`);
    expect(setup.body.qrCodeDataUrl).to.match(/^data:image\/png;base64,/);
    expect((await request(h.app).get('/auth/mfa').set(bearer(user.access))).body).to.deep.equal({ totp: 'pending', recoveryCodesLeft: 0 });
    // Still pending: sign-in needs no second factor yet.
    expect((await request(h.app).post('/auth/signin').send({ email: user.email, password: PASSWORD })).status).to.equal(200);
    const wrong = await request(h.app).post('/auth/mfa/totp/enable').set(bearer(user.access)).send({ code: '000000' });
    expect(wrong.status).to.equal(400);
    expect(wrong.body.code).to.equal('mfa_confirmation_failed');
  });

  it('keeps the secret encrypted at rest', async () => {
    const { secret } = await enrol();
    const rows = await h.storage.knex('auth_mfa_totp');
    expect(JSON.stringify(rows)).not.to.contain(secret);
    const codes = await h.storage.knex('auth_mfa_recovery_codes');
    expect(codes).to.have.length(10);
  });

  it('signin → 403 mfa_required with an mfa_token → /mfa/verify → a pair', async () => {
    const { secret, recoveryCodes } = await enrol();
    expect(recoveryCodes).to.have.length(10);
    expect(new Set(recoveryCodes).size).to.equal(10);
    const token = await mfaToken();
    expect(claimsOf(token)).to.include({ usefor: 'mfa', sub: user.userId });
    now += 30_000;
    const res = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: token, code: await codeAt(secret, now) });
    expect(res.status).to.equal(200);
    expect(claimsOf(res.body.access_token)).to.include({ sub: user.userId, org: user.orgId, usefor: 'access' });
    expect((await request(h.app).get('/api/hello').set(bearer(res.body.access_token))).status).to.equal(200);
  });

  it('makes the mfa_token useless anywhere else', async () => {
    await enrol();
    const token = await mfaToken();
    expect((await request(h.app).get('/api/hello').set(bearer(token))).status).to.equal(401);
    expect((await request(h.app).post('/auth/refresh').send({ refresh_token: token })).status).to.equal(401);
    const asAccess = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: user.access, code: '123456' });
    expect(asAccess.status).to.equal(401);
    expect(asAccess.body.code).to.equal('invalid_token');
    now += 6 * 60_000;
    const expired = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: token, code: '123456' });
    expect(expired.body.code).to.equal('token_expired');
  });

  it('refuses a challenge issued before the password changed, spending nothing; one after the change passes', async () => {
    const { secret } = await enrol();
    const before = await mfaToken();
    // The stamp in the token is not the hash it was made from.
    const stored = (await h.storage.users.findById(user.userId))!.passwordHash!;
    expect(JSON.stringify(claimsOf(before))).to.not.include(stored.slice(7));
    const NEW = 'another long passphrase';
    const changed = await request(h.app).post('/auth/password/change').set(bearer(user.access)).send({ currentPassword: PASSWORD, newPassword: NEW });
    expect(changed.status, changed.text).to.equal(204);
    now += 30_000;
    const code = await codeAt(secret, now);
    const refused = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: before, code });
    expect(refused.status, refused.text).to.equal(401);
    expect(refused.body.code).to.equal('invalid_token');
    const after = await request(h.app).post('/auth/signin').send({ email: user.email, password: NEW });
    expect(after.status).to.equal(403);
    // The same code: the refusal did not spend it.
    const verified = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: after.body.mfa_token, code });
    expect(verified.status, verified.text).to.equal(200);
    const log = await h.storage.knex('auth_audit_log').where({ actor_id: user.userId }).whereIn('action', ['signin.succeeded', 'signin.failed']).orderBy('at');
    expect(log.map((e: { action: string; data: string }) => [e.action, JSON.parse(e.data).method])).to.deep.equal([['signin.succeeded', 'password'], ['signin.succeeded', 'totp']]);
  });

  it('refuses a replayed code within its window, and an older one after a newer was used', async () => {
    const { secret } = await enrol();
    now += 30_000;
    const code = await codeAt(secret, now);
    expect((await request(h.app).post('/auth/mfa/verify').send({ mfa_token: await mfaToken(), code })).status).to.equal(200);
    const replay = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: await mfaToken(), code });
    expect(replay.status).to.equal(401);
    expect(replay.body.code).to.equal('invalid_mfa_code');
    now += 30_000;
    const previous = await codeAt(secret, now - 30_000); // the step that was just used: refused
    expect((await request(h.app).post('/auth/mfa/verify').send({ mfa_token: await mfaToken(), code: previous })).status).to.equal(401);
  });

  it('accepts one step of drift either way, not two', async () => {
    const { secret } = await enrol();
    now += 5 * 30_000;
    const ahead = await codeAt(secret, now + 30_000);
    expect((await request(h.app).post('/auth/mfa/verify').send({ mfa_token: await mfaToken(), code: ahead })).status).to.equal(200);
    now += 5 * 30_000;
    const behind = await codeAt(secret, now - 30_000);
    expect((await request(h.app).post('/auth/mfa/verify').send({ mfa_token: await mfaToken(), code: behind })).status).to.equal(200);
    now += 5 * 30_000;
    const tooFar = await codeAt(secret, now - 60_000);
    expect((await request(h.app).post('/auth/mfa/verify').send({ mfa_token: await mfaToken(), code: tooFar })).status).to.equal(401);
    const tooEarly = await codeAt(secret, now + 60_000);
    expect((await request(h.app).post('/auth/mfa/verify').send({ mfa_token: await mfaToken(), code: tooEarly })).status).to.equal(401);
  });

  it('throttles wrong codes per user with 429', async () => {
    const { secret } = await enrol();
    const token = await mfaToken();
    for (let i = 0; i < 3; i += 1) {
      expect((await request(h.app).post('/auth/mfa/verify').send({ mfa_token: token, code: '000000' })).status).to.equal(401);
    }
    now += 30_000;
    const blocked = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: token, code: await codeAt(secret, now) });
    expect(blocked.status).to.equal(429);
    expect(blocked.headers['retry-after']).to.match(/^\d+$/);
  });

  it('takes a recovery code once, also when it is used ten times at once', async () => {
    const { recoveryCodes } = await enrol();
    const code = recoveryCodes[0]!.toUpperCase().replace('-', ' ');
    const token = await mfaToken();
    const results = await Promise.all(Array.from({ length: 10 }, () => request(h.app).post('/auth/mfa/verify').send({ mfa_token: token, recoveryCode: code })));
    expect(results.filter((r) => r.status === 200)).to.have.length(1);
    expect((await request(h.app).get('/auth/mfa').set(bearer(results.find((r) => r.status === 200)!.body.access_token))).body.recoveryCodesLeft).to.equal(9);
  });

  it('revokes the user’s other sessions when MFA is enabled, and again when disabled', async () => {
    const other = await signin(h.app, user.email);
    const { secret } = await enrol();
    expect((await request(h.app).get('/api/hello').set(bearer(other.access))).status).to.equal(401);
    expect((await request(h.app).post('/auth/refresh').send({ refresh_token: other.refresh })).status).to.equal(401);
    expect((await request(h.app).get('/api/hello').set(bearer(user.access))).status).to.equal(200);

    now += 30_000;
    const third = await request(h.app).post('/auth/mfa/verify').send({ mfa_token: await mfaToken(), code: await codeAt(secret, now) });
    now += 30_000;
    const off = await request(h.app).post('/auth/mfa/totp/disable').set(bearer(user.access)).send({ code: await codeAt(secret, now) });
    expect(off.status).to.equal(204);
    expect((await request(h.app).get('/api/hello').set(bearer(third.body.access_token))).status).to.equal(401);
    expect((await request(h.app).post('/auth/signin').send({ email: user.email, password: PASSWORD })).status).to.equal(200);
  });

  it('disables with the password, refuses a wrong one, and answers 409 when already off', async () => {
    await enrol();
    const wrong = await request(h.app).post('/auth/mfa/totp/disable').set(bearer(user.access)).send({ password: 'not my password' });
    expect(wrong.status).to.equal(401);
    expect(wrong.body.code).to.equal('invalid_mfa_code');
    expect((await request(h.app).post('/auth/mfa/totp/disable').set(bearer(user.access)).send({ password: PASSWORD })).status).to.equal(204);
    const again = await request(h.app).post('/auth/mfa/totp/disable').set(bearer(user.access)).send({ password: PASSWORD });
    expect(again.status).to.equal(409);
    expect(again.body.code).to.equal('mfa_not_enabled');
  });

  it('refuses a second enrolment while on, and enabling without setup', async () => {
    expect((await request(h.app).post('/auth/mfa/totp/enable').set(bearer(user.access)).send({ code: '123456' })).body.code).to.equal('mfa_setup_required');
    await enrol();
    const res = await request(h.app).post('/auth/mfa/totp/setup').set(bearer(user.access));
    expect(res.status).to.equal(409);
    expect(res.body.code).to.equal('mfa_already_enabled');
  });

  it('validates bodies', async () => {
    await enrol();
    const token = await mfaToken();
    const cases: Array<[string, Record<string, unknown>, boolean]> = [
      ['/auth/mfa/verify', { mfa_token: token }, false],
      ['/auth/mfa/verify', { mfa_token: token, code: '12345' }, false],
      ['/auth/mfa/verify', { mfa_token: token, code: 123456 }, false],
      ['/auth/mfa/verify', { mfa_token: token, code: '123456', recoveryCode: 'abcde-fghjk' }, false],
      ['/auth/mfa/verify', { code: '123456' }, false],
      ['/auth/mfa/totp/enable', { code: 'abcdef' }, true],
      ['/auth/mfa/totp/disable', {}, true],
      ['/auth/mfa/totp/disable', { code: '123456', password: 'x' }, true],
    ];
    for (const [path, body, authed] of cases) {
      const req = request(h.app).post(path);
      const res = await (authed ? req.set(bearer(user.access)) : req).send(body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).to.equal(400);
      expect(res.body.code).to.equal('invalid_request');
    }
  });
});
