import { expect } from 'chai';
import type express from 'express';
import { generate } from 'otplib';
import request from 'supertest';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { addMember, claimsOf, expectProblem, PASSWORD, signin, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';
import { createTestDatabase, pgConfig } from '../helpers/postgres.js';
import { eventually } from '../helpers/eventually.js';
import { tokenIdKey } from '../../src/tokens/token-ids.js';
import { call, startPresetServer, type PresetServer } from '../helpers/server.js';
import { AUDIENCE, startLocalIssuer, type LocalIssuer } from '../helpers/local-issuer.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const withKey = (key: string, tenant: string) => ({ 'X-API-Key': key, 'X-Tenant-Id': tenant });
const HOUR = 3600_000;

interface Setup {
  h: Harness;
  advance(ms: number): void;
  now(): number;
}

type Make = (clock: { now: () => number }) => Promise<Harness>;

/** Per-org security policies (GET/PATCH /orgs/:orgId/policy) and their enforcement, on the storage `make` builds. */
function policySuite(label: string, make: Make): void {
  describe(label, function () {
    this.timeout(60_000);
    let s: Setup;
    let app: express.Express;
    // Mid-step, so TOTP codes at `now` are unambiguous.
    let now = Math.floor(Date.now() / 30_000) * 30_000 + 15_000;

    before(async () => {
      const h = await make({ now: () => now });
      s = { h, advance: (ms) => void (now += ms), now: () => now };
      app = h.app;
    });
    after(async () => {
      await s?.h.close();
    });

    const policyOf = (orgId: string, token: string) => request(app).get(`/auth/orgs/${orgId}/policy`).set(bearer(token));
    const patch = (orgId: string, token: string, body: unknown) => request(app).patch(`/auth/orgs/${orgId}/policy`).set(bearer(token)).send(body as object);
    const refresh = (token: string) => request(app).post('/auth/refresh').send({ refresh_token: token });
    const hello = (token: string) => request(app).get('/api/hello').set(bearer(token));
    const codeAt = (secret: string) => generate({ secret, epoch: Math.floor(now / 1000) });

    /** Enrolls TOTP for the user with their access token (their other sessions end; this one stays). */
    async function enrollTotp(access: string): Promise<string> {
      const setup = await request(app).post('/auth/mfa/totp/setup').set(bearer(access));
      expect(setup.status, setup.text).to.equal(200);
      const enable = await request(app).post('/auth/mfa/totp/enable').set(bearer(access)).send({ code: await codeAt(setup.body.secret) });
      expect(enable.status, enable.text).to.equal(200);
      return setup.body.secret as string;
    }

    /** Sets the first factor a stored session began with, as a Google or external sign-in would have (null: a session of an earlier version). */
    async function setMethod(refreshToken: string, method: string | null): Promise<void> {
      const sid = claimsOf(refreshToken).sid as string;
      await s.h.storage.knex('auth_refresh_tokens').where({ family_id: sid }).update({ method });
    }

    describe('GET and PATCH /orgs/:orgId/policy: who may, and bad input', () => {
      let owner: SignedUp;
      let admin: SignedUp;
      let member: SignedUp;
      let outsider: SignedUp;
      before(async () => {
        owner = await signupWithOrg(app);
        admin = await addMember(app, owner, 'admin');
        member = await addMember(app, owner, 'member');
        outsider = await signupWithOrg(app);
      });

      it('answers the defaults for an org without a stored policy', async () => {
        const res = await policyOf(owner.orgId, owner.access);
        expect(res.status, res.text).to.equal(200);
        expect(res.body).to.deep.equal({ orgId: owner.orgId, requireMfa: false, allowedSignInMethods: null, maxSessionAge: null, apiKeyMaxLifetime: null, updatedAt: null });
      });

      it('401 without a token, 403 for admins and members, 404 for non-members and unknown orgs', async () => {
        expectProblem(await request(app).get(`/auth/orgs/${owner.orgId}/policy`), 401, 'missing_token');
        expectProblem(await request(app).patch(`/auth/orgs/${owner.orgId}/policy`).send({ requireMfa: false }), 401, 'missing_token');
        expectProblem(await policyOf(owner.orgId, admin.access), 403, 'forbidden');
        expectProblem(await policyOf(owner.orgId, member.access), 403, 'forbidden');
        expectProblem(await patch(owner.orgId, admin.access, { maxSessionAge: 3600 }), 403, 'forbidden');
        expectProblem(await policyOf(owner.orgId, outsider.access), 404, 'org_not_found');
        expectProblem(await patch(owner.orgId, outsider.access, { maxSessionAge: 3600 }), 404, 'org_not_found');
        expectProblem(await policyOf('no-such-org', owner.access), 404, 'org_not_found');
      });

      it('400 with field errors: unknown methods (listing the allowed ones), bad durations, unknown fields, an empty change', async () => {
        const unknownMethod = await patch(owner.orgId, owner.access, { allowedSignInMethods: ['password', 'carrier-pigeon'] });
        expectProblem(unknownMethod, 400, 'invalid_request');
        expect(unknownMethod.body.errors[0].path).to.equal('allowedSignInMethods');
        expect(unknownMethod.body.errors[0].message).to.contain('carrier-pigeon').and.to.contain('password, passkey, google, api_key');
        const cases: Array<[unknown, string]> = [
          [{ maxSessionAge: 1.5 }, 'maxSessionAge'],
          [{ maxSessionAge: 5 }, 'maxSessionAge'],
          [{ apiKeyMaxLifetime: '1d' }, 'apiKeyMaxLifetime'],
          [{ requireMfa: 'yes' }, 'requireMfa'],
          [{ allowedSignInMethods: [] }, 'allowedSignInMethods'],
          [{ allowedSignInMethods: 'password' }, 'allowedSignInMethods'],
          [{ requireMFA: true }, ''],
          [{}, ''],
        ];
        for (const [body, path] of cases) {
          const res = await patch(owner.orgId, owner.access, body);
          expectProblem(res, 400, 'invalid_request');
          expect(res.body.errors.map((e: { path: string }) => e.path), JSON.stringify(body)).to.include(path);
        }
        // Nothing was stored by any of them.
        expect((await policyOf(owner.orgId, owner.access)).body.updatedAt).to.equal(null);
      });

      it('409 policy_excludes_you for a change that would shut the owner out', async () => {
        const noMfa = await patch(owner.orgId, owner.access, { requireMfa: true });
        expectProblem(noMfa, 409, 'policy_excludes_you');
        expect(noMfa.body.detail).to.contain('enroll');
        expectProblem(await patch(owner.orgId, owner.access, { allowedSignInMethods: ['google', 'api_key'] }), 409, 'policy_excludes_you');
        // Still the defaults.
        expect((await policyOf(owner.orgId, owner.access)).body).to.include({ requireMfa: false, allowedSignInMethods: null });
      });

      it('stores a change, answers it with what it ended, null resets a field, and audits it as org.policy_updated', async () => {
        const res = await patch(owner.orgId, owner.access, { maxSessionAge: 7200, apiKeyMaxLifetime: 86_400, allowedSignInMethods: ['password', 'api_key', 'password'] });
        expect(res.status, res.text).to.equal(200);
        expect(res.body).to.deep.include({ orgId: owner.orgId, requireMfa: false, allowedSignInMethods: ['password', 'api_key'], maxSessionAge: 7200, apiKeyMaxLifetime: 86_400 });
        expect(res.body.enforced).to.deep.equal({ sessionsEnded: 0, apiKeysRevoked: 0 });
        expect(Date.parse(res.body.updatedAt)).to.equal(now);
        const { enforced: _enforced, ...stored } = res.body;
        expect((await policyOf(owner.orgId, owner.access)).body).to.deep.equal(stored);

        const reset = await patch(owner.orgId, owner.access, { maxSessionAge: null, allowedSignInMethods: null });
        expect(reset.body).to.deep.include({ allowedSignInMethods: null, maxSessionAge: null, apiKeyMaxLifetime: 86_400 });

        const audit = await request(app).get(`/auth/orgs/${owner.orgId}/audit?action=org.policy_updated`).set(bearer(owner.access));
        expect(audit.status, audit.text).to.equal(200);
        const [latest, first] = audit.body.entries;
        expect(first.actor).to.deep.equal({ type: 'user', id: owner.userId });
        expect(first.data).to.deep.equal({
          allowedSignInMethods: '["password","api_key"]',
          allowedSignInMethodsWas: null,
          maxSessionAge: 7200,
          maxSessionAgeWas: null,
          apiKeyMaxLifetime: 86_400,
          apiKeyMaxLifetimeWas: null,
        });
        expect(latest.data).to.deep.equal({ allowedSignInMethods: null, allowedSignInMethodsWas: '["password","api_key"]', maxSessionAge: null, maxSessionAgeWas: 7200 });
      });

      // Last here: it moves the clock past the other tests' sign-ins.
      it('10 changes at once are applied one after another: each audit entry\'s old value is the new value of the one before', async () => {
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => patch(owner.orgId, owner.access, { apiKeyMaxLifetime: 500_000 + i })));
        for (const res of results) expect(res.status, res.text).to.equal(200);
        const audit = await request(app).get(`/auth/orgs/${owner.orgId}/audit?action=org.policy_updated`).set(bearer(owner.access));
        // Oldest first; the owner's org may have changes of earlier tests before these ten.
        const entries = ([...audit.body.entries].reverse() as Array<{ data: Record<string, unknown> }>).slice(-10);
        expect(entries.map((e) => e.data.apiKeyMaxLifetime).sort()).to.deep.equal(Array.from({ length: 10 }, (_, i) => 500_000 + i));
        let before: unknown = entries[0]!.data.apiKeyMaxLifetimeWas;
        expect(before).not.to.be.oneOf(entries.map((e) => e.data.apiKeyMaxLifetime));
        for (const { data } of entries) {
          expect(data.apiKeyMaxLifetimeWas).to.equal(before);
          before = data.apiKeyMaxLifetime;
        }
        expect((await policyOf(owner.orgId, owner.access)).body.apiKeyMaxLifetime).to.equal(before);
      });

      it('needs a recent sign-in (step-up)', async () => {
        const stale = await signupWithOrg(app);
        s.advance(10 * 60_000);
        expectProblem(await patch(stale.orgId, stale.access, { maxSessionAge: 3600 }), 403, 'reauthentication_required');
        const fresh = await signin(app, stale.email);
        expect((await patch(stale.orgId, fresh.access, { maxSessionAge: 3600 })).status).to.equal(200);
      });
    });

    describe('requireMfa', () => {
      let owner: SignedUp;
      let member: SignedUp;
      let enrolled: SignedUp;
      let second: SignedUp;
      before(async () => {
        owner = await signupWithOrg(app);
        member = await addMember(app, owner);
        enrolled = await addMember(app, owner);
        await enrollTotp(owner.access);
        await enrollTotp(enrolled.access);
        // The member also belongs to an org without the rule, made after this one.
        second = await signupWithOrg(app);
        const inv = await request(app).post(`/auth/orgs/${second.orgId}/invitations`).set(bearer(second.access)).send({ role: 'member' });
        const joined = await request(app).post('/auth/setup-org').set(bearer(member.access)).send({ action: 'join', invitationCode: inv.body.code });
        expect(joined.status, joined.text).to.equal(200);
      });

      it('ends the live sessions of members without a second factor at once; enrolled members and the owner keep theirs', async () => {
        const res = await patch(owner.orgId, owner.access, { requireMfa: true });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.enforced.sessionsEnded).to.be.at.least(1);
        expectProblem(await hello(member.access), 401, 'token_revoked');
        expectProblem(await refresh(member.refresh), 401, 'token_revoked');
        expect((await hello(owner.access)).status).to.equal(200);
        expect((await hello(enrolled.access)).status).to.equal(200);
        const kept = await refresh(owner.refresh);
        expect(kept.status, kept.text).to.equal(200);
        owner = { ...owner, access: kept.body.access_token, refresh: kept.body.refresh_token };
      });

      it('sign-in lands in an org whose policy the user satisfies; asking for this one is 403 mfa_enrollment_required with the enroll path', async () => {
        const tokens = await signin(app, member.email);
        expect(claimsOf(tokens.access).org).to.equal(second.orgId);
        const switched = await request(app).post('/auth/switch-org').set(bearer(tokens.access)).send({ orgId: owner.orgId });
        expectProblem(switched, 403, 'mfa_enrollment_required');
        expect(switched.body.enroll).to.equal('/auth/mfa/totp/setup');
        // GET /orgs says why the sign-in landed elsewhere.
        const mine = await request(app).get('/auth/orgs').set(bearer(tokens.access));
        const access = Object.fromEntries((mine.body.organizations as Array<{ id: string; access: string }>).map((o) => [o.id, o.access]));
        expect(access).to.deep.equal({ [owner.orgId]: 'mfa_enrollment_required', [second.orgId]: 'allowed' });
      });

      it('a user with no other org lands in none and can still enroll, then gets the org through the MFA step', async () => {
        const lone = await addMember(app, owner);
        expect(claimsOf(lone.access).org).to.equal(undefined);
        const me = await request(app).get('/auth/me').set(bearer(lone.access));
        expect(me.status, me.text).to.equal(200);
        const secret = await enrollTotp(lone.access);
        s.advance(30_000); // The next TOTP step: the enrollment's code is spent.
        const first = await request(app).post('/auth/signin').send({ email: lone.email, password: PASSWORD });
        expect(first.body.code).to.equal('mfa_required');
        const verified = await request(app).post('/auth/mfa/verify').send({ mfa_token: first.body.mfa_token, code: await codeAt(secret) });
        expect(verified.status, verified.text).to.equal(200);
        expect(claimsOf(verified.body.access_token).org).to.equal(owner.orgId);
      });

      it('refusing a refresh of a session scoped to the org once its user has no second factor', async () => {
        // TOTP turned off from the session the change kept, scoped to the org.
        const disable = await request(app).post('/auth/mfa/totp/disable').set(bearer(enrolled.access)).send({ password: PASSWORD });
        expect(disable.status, disable.text).to.equal(204);
        const refused = await refresh(enrolled.refresh);
        expectProblem(refused, 403, 'mfa_enrollment_required');
        expect(refused.body.enroll).to.equal('/auth/mfa/totp/setup');
      });

      it('joining the org with /setup-org is refused without a second factor, and the invitation stays unused', async () => {
        const outsider = await signupWithOrg(app);
        const inv = await request(app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).send({ role: 'member' });
        expect(inv.status, inv.text).to.equal(201);
        const join = await request(app).post('/auth/setup-org').set(bearer(outsider.access)).send({ action: 'join', invitationCode: inv.body.code });
        expectProblem(join, 403, 'mfa_enrollment_required');
        const members = await request(app).get(`/auth/orgs/${owner.orgId}/members`).set(bearer(owner.access));
        expect(members.body.members.map((m: { id?: string; userId?: string }) => m.id ?? m.userId)).not.to.include(outsider.userId);
        const row = await s.h.storage.knex('auth_invitations').where({ org_id: owner.orgId }).whereNull('used_at').first();
        expect(row).to.not.equal(undefined);
      });
    });

    describe('requireMfa and API keys', () => {
      it("revokes the keys of members without a second factor; a key whose creator drops theirs later is refused at its next load", async () => {
        const owner = await signupWithOrg(app);
        await enrollTotp(owner.access);
        const plain = await addMember(app, owner, 'admin');
        const careful = await addMember(app, owner, 'admin');
        await enrollTotp(careful.access);
        const keyOf = async (u: SignedUp) => {
          const res = await request(app).post('/auth/api-keys').set(bearer(u.access)).send({ name: `key of ${u.email}` });
          expect(res.status, res.text).to.equal(201);
          return res.body.key as string;
        };
        const plainKey = await keyOf(plain);
        const carefulKey = await keyOf(careful);
        const withIt = (key: string) => request(app).get('/api/hello').set(withKey(key, owner.orgId));
        expect((await withIt(plainKey)).status).to.equal(200);
        expect((await withIt(carefulKey)).status).to.equal(200);

        const res = await patch(owner.orgId, owner.access, { requireMfa: true });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.enforced.apiKeysRevoked).to.equal(1);
        expectProblem(await withIt(plainKey), 401, 'invalid_api_key');
        expect((await withIt(carefulKey)).status).to.equal(200);

        // The careful admin turns TOTP off: their key stops once its cache entry is reloaded.
        expect((await request(app).post('/auth/mfa/totp/disable').set(bearer(careful.access)).send({ password: PASSWORD })).status).to.equal(204);
        s.advance(61_000);
        expectProblem(await withIt(carefulKey), 401, 'invalid_api_key');
      });
    });

    describe('allowedSignInMethods', () => {
      let owner: SignedUp;
      let member: SignedUp;
      let other: SignedUp;
      let key: string;
      before(async () => {
        owner = await signupWithOrg(app);
        member = await addMember(app, owner);
        other = await addMember(app, owner);
        const created = await request(app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'ci' });
        expect(created.status, created.text).to.equal(201);
        key = created.body.key;
        expect((await request(app).get('/api/hello').set(withKey(key, owner.orgId))).status).to.equal(200);
      });

      it('a tightening ends the sessions begun with another (or an unknown) method and, without api_key, the API keys; password sessions stay', async () => {
        await setMethod(member.refresh, 'google');
        await setMethod(other.refresh, null);
        const res = await patch(owner.orgId, owner.access, { allowedSignInMethods: ['password'] });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.enforced).to.deep.equal({ sessionsEnded: 2, apiKeysRevoked: 1 });
        expectProblem(await hello(member.access), 401, 'token_revoked');
        expectProblem(await refresh(member.refresh), 401, 'token_revoked');
        expectProblem(await refresh(other.refresh), 401, 'token_revoked');
        expect((await hello(owner.access)).status).to.equal(200);
        expect((await refresh(owner.refresh)).status).to.equal(200);
        expectProblem(await request(app).get('/api/hello').set(withKey(key, owner.orgId)), 401, 'invalid_api_key');
      });

      it('API keys: creating one is 403 api_keys_not_allowed', async () => {
        const fresh = await signin(app, owner.email);
        expectProblem(await request(app).post('/auth/api-keys').set(bearer(fresh.access)).send({ name: 'again' }), 403, 'api_keys_not_allowed');
      });

      it('a method outside the list gets no token for the org: sign-in lands elsewhere, switching and refreshing are refused', async () => {
        const ownerNow = await signin(app, owner.email);
        await setMethod(ownerNow.refresh, 'google');
        expect((await patch(owner.orgId, ownerNow.access, { allowedSignInMethods: ['google'] })).status).to.equal(200);
        // A password sign-in of the member: not in this org.
        const tokens = await signin(app, member.email);
        expect(claimsOf(tokens.access).org).to.equal(undefined);
        const switched = await request(app).post('/auth/switch-org').set(bearer(tokens.access)).send({ orgId: owner.orgId });
        expectProblem(switched, 403, 'sign_in_method_not_allowed');
        expect(switched.body.allowedSignInMethods).to.deep.equal(['google']);
        const mine = await request(app).get('/auth/orgs').set(bearer(tokens.access));
        expect(mine.body.organizations.find((o: { id: string }) => o.id === owner.orgId).access).to.equal('sign_in_method_not_allowed');
        const ownersView = await request(app).get('/auth/orgs').set(bearer(ownerNow.access));
        expect(ownersView.body.organizations.find((o: { id: string }) => o.id === owner.orgId).access).to.equal('allowed');
        // The owner's own password session from before ended with the change; the google one switches and refreshes.
        expect((await request(app).post('/auth/switch-org').set(bearer(ownerNow.access)).send({ orgId: owner.orgId })).status).to.equal(200);
        expect((await refresh(ownerNow.refresh)).status).to.equal(200);
      });
    });

    describe('maxSessionAge', () => {
      it('caps new sessions of the org, ends older ones at once, and refuses refreshing past it', async () => {
        const owner = await signupWithOrg(app);
        const member = await addMember(app, owner);
        s.advance(2 * HOUR);
        const fresh = await signin(app, owner.email);
        const res = await patch(owner.orgId, fresh.access, { maxSessionAge: HOUR / 1000 });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.enforced.sessionsEnded).to.equal(2);
        // (Its access token expired on its own meanwhile.)
        expectProblem(await refresh(member.refresh), 401, 'token_revoked');

        const again = await signin(app, member.email);
        expect(claimsOf(again.refresh).exp).to.be.at.most(Math.floor(now / 1000) + 3600);
        s.advance(HOUR / 2);
        const rotated = await refresh(again.refresh);
        expect(rotated.status, rotated.text).to.equal(200);
        s.advance(HOUR / 2 + 1000);
        expectProblem(await refresh(rotated.body.refresh_token), 401, 'token_expired');
      });

      it('judges a session by its sign-in after its first tokens are purged', async () => {
        const DAY = 24 * HOUR;
        const owner = await signupWithOrg(app);
        const member = await addMember(app, owner);
        s.advance(13 * DAY);
        const second = await refresh(member.refresh);
        expect(second.status, second.text).to.equal(200);
        // The first token expired (14 days) while the session goes on: the purge takes it.
        const firstKey = tokenIdKey(claimsOf(member.refresh).jti as string);
        expect(await s.h.storage.refreshTokens.find(firstKey)).not.to.equal(null);
        s.advance(2 * DAY);
        await s.h.storage.refreshTokens.purgeExpired(now);
        expect(await s.h.storage.refreshTokens.find(firstKey)).to.equal(null);

        const fresh = await signin(app, owner.email);
        const res = await patch(owner.orgId, fresh.access, { maxSessionAge: (20 * DAY) / 1000 });
        expect(res.status, res.text).to.equal(200);
        // 15 days old: within the limit, so it goes on.
        const third = await refresh(second.body.refresh_token);
        expect(third.status, third.text).to.equal(200);
        expect((await s.h.storage.refreshTokens.findSession(claimsOf(member.refresh).sid as string))?.createdAt).to.be.below(now - 15 * DAY + 1000);
        s.advance(6 * DAY);
        expectProblem(await refresh(third.body.refresh_token), 401, 'token_expired');
      });

      it('refuses a value that would end the owner\u2019s own session', async () => {
        const owner = await signupWithOrg(app);
        s.advance(2 * HOUR);
        const refreshed = await refresh(owner.refresh);
        // A recent sign-in for step-up, in the same (two hours old) session.
        const reauth = await request(app).post('/auth/reauthenticate').set(bearer(refreshed.body.access_token)).send({ password: PASSWORD });
        expect(reauth.status, reauth.text).to.equal(200);
        expectProblem(await patch(owner.orgId, reauth.body.access_token, { maxSessionAge: HOUR / 1000 }), 409, 'policy_excludes_you');
      });
    });

    describe('apiKeyMaxLifetime', () => {
      it('caps keys made without an expiry, refuses one beyond it (400 on expiresAt), and revokes the existing keys that outlive it', async () => {
        const owner = await signupWithOrg(app);
        const old = await request(app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'forever' });
        expect(old.status, old.text).to.equal(201);
        const short = await request(app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'short', expiresAt: new Date(now + HOUR).toISOString() });
        const res = await patch(owner.orgId, owner.access, { apiKeyMaxLifetime: 86_400 });
        expect(res.body.enforced).to.deep.equal({ sessionsEnded: 0, apiKeysRevoked: 1 });
        expectProblem(await request(app).get('/api/hello').set(withKey(old.body.key, owner.orgId)), 401, 'invalid_api_key');
        expect((await request(app).get('/api/hello').set(withKey(short.body.key, owner.orgId))).status).to.equal(200);

        const capped = await request(app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'capped' });
        expect(capped.status, capped.text).to.equal(201);
        expect(Date.parse(capped.body.expiresAt)).to.equal(now + 86_400_000);
        const tooLong = await request(app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'long', expiresAt: new Date(now + 2 * 86_400_000).toISOString() });
        expectProblem(tooLong, 400, 'invalid_request');
        expect(tooLong.body.errors[0].path).to.equal('expiresAt');
      });
    });

    it('each org has its own policy: another org of the same user is untouched', async () => {
      const owner = await signupWithOrg(app);
      const otherOrg = `org-${unique()}`;
      const made = await request(app).post('/auth/setup-org').set(bearer(owner.access)).send({ action: 'create', orgCreateProps: { name: otherOrg, slug: otherOrg } });
      expect(made.status, made.text).to.equal(200);
      await setMethod(made.body.refresh_token, 'google');
      expect((await patch(owner.orgId, owner.access, { allowedSignInMethods: ['password'] })).body.enforced.sessionsEnded).to.equal(0);
      expect((await refresh(made.body.refresh_token)).status).to.equal(200);
    });
  });
}

describe('org security policies (GET/PATCH /orgs/:orgId/policy)', () => {
  policySuite('on SQLite', (clock) => startHarness({ clock }));
  policySuite('on PostgreSQL', async (clock) => {
    const url = await createTestDatabase('org_policy');
    return startHarness({ clock }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
  });

  describe('an external issuer as a sign-in method', function () {
    this.timeout(30_000);
    let idp: LocalIssuer;
    let h: Harness;
    before(async () => {
      idp = await startLocalIssuer();
      h = await startHarness({
        externalIssuers: [{ issuer: idp.issuer, audience: AUDIENCE, allowInsecureRequests: true, mapUser: (claims) => ({ email: `ext-${unique()}@auth0.test`, emailVerified: true, firstName: claims.sub }) }],
      });
    });
    after(async () => {
      await h?.close();
      await idp?.close();
    });

    it("is listed by its provider name; a session begun with it ends when the list leaves it out, and it gets no token for the org after", async () => {
      const owner = await signupWithOrg(h.app);
      const sub = `auth0|${unique()}`;
      const ext = await request(h.app).post('/auth/signin').set(bearer(await idp.sign({ sub })));
      expect(ext.status, ext.text).to.equal(200);
      const inv = await request(h.app).post(`/auth/orgs/${owner.orgId}/invitations`).set(bearer(owner.access)).send({ role: 'member' });
      const joined = await request(h.app).post('/auth/setup-org').set(bearer(ext.body.access_token)).send({ action: 'join', invitationCode: inv.body.code });
      expect(joined.status, joined.text).to.equal(200);

      const unknown = await request(h.app).patch(`/auth/orgs/${owner.orgId}/policy`).set(bearer(owner.access)).send({ allowedSignInMethods: ['password', 'https://other.example/'] });
      expectProblem(unknown, 400, 'invalid_request');
      expect(unknown.body.errors[0].message).to.contain(idp.issuer);
      const both = await request(h.app).patch(`/auth/orgs/${owner.orgId}/policy`).set(bearer(owner.access)).send({ allowedSignInMethods: ['password', idp.issuer] });
      expect(both.body.enforced).to.deep.equal({ sessionsEnded: 0, apiKeysRevoked: 0 });
      const kept = await request(h.app).post('/auth/refresh').send({ refresh_token: joined.body.refresh_token });
      expect(kept.status, kept.text).to.equal(200);

      const passwordOnly = await request(h.app).patch(`/auth/orgs/${owner.orgId}/policy`).set(bearer(owner.access)).send({ allowedSignInMethods: ['password'] });
      expect(passwordOnly.body.enforced.sessionsEnded).to.equal(1);
      expectProblem(await request(h.app).post('/auth/refresh').send({ refresh_token: kept.body.refresh_token }), 401, 'token_revoked');
      // Signed in again with it: in no org, and the org refuses a switch.
      const again = await request(h.app).post('/auth/signin').set(bearer(await idp.sign({ sub })));
      expect(again.status, again.text).to.equal(200);
      expect(claimsOf(again.body.access_token).org).to.equal(undefined);
      const switched = await request(h.app).post('/auth/switch-org').set(bearer(again.body.access_token)).send({ orgId: owner.orgId });
      expectProblem(switched, 403, 'sign_in_method_not_allowed');
    });
  });

  describe('presets: per-application sign-in (axonize) and renewal without rotation (datarhei)', function () {
    this.timeout(30_000);
    const admin = { email: `policy-admin-${unique()}@example.com`, password: 'somePassword!' };
    const member = { email: `policy-member-${unique()}@example.com`, password: 'somePassword' };

    /** A preset server with an org (admin + member), the org's id and the member's id. */
    async function presetOrg(preset: 'axonize' | 'datarhei'): Promise<{ srv: PresetServer; orgId: string; memberId: string; adminId: string }> {
      const srv = await startPresetServer({ preset });
      const { accounts, invitations } = srv.auth.services;
      const { user, org } = await accounts.signup({ ...admin, firstName: 'A', lastName: 'Admin' }, { action: 'create', org: { name: 'Policy', slug: `policy-${unique()}` } });
      const invite = await invitations.create(user.id, org!.id, {});
      const joined = await accounts.signup({ ...member, firstName: 'Some', lastName: 'User' }, { action: 'join', invitationCode: invite.code });
      return { srv, orgId: org!.id, memberId: joined.user.id, adminId: user.id };
    }
    // Written to storage directly (these presets serve the policy routes under a prefix): past the instance's one-second policy cache.
    const pastPolicyCache = () => new Promise((resolve) => setTimeout(resolve, 1100));
    const save = (srv: PresetServer, orgId: string, policy: Partial<{ requireMfa: boolean; allowedSignInMethods: string[] | null }>) =>
      srv.storage.orgPolicies.save({ orgId, requireMfa: false, allowedSignInMethods: null, maxSessionAge: null, apiKeyMaxLifetime: null, updatedAt: Date.now(), ...policy });

    it('axonize: an application sign-in of a member without a second factor is 403 mfa_enrollment_required; a method the org leaves out, 403 sign_in_method_not_allowed', async () => {
      const { srv, orgId, memberId, adminId } = await presetOrg('axonize');
      try {
        const app = await srv.auth.services.applications.register(adminId, orgId, { name: 'App', url: `https://app-${unique()}.example.com` });
        await srv.auth.services.applications.grant(adminId, orgId, app.id, memberId);
        expect((await call(srv.baseUrl, '/api/auth/login', { json: member, headers: { appId: app.id } })).status).to.equal(200);
        await save(srv, orgId, { requireMfa: true });
        await pastPolicyCache();
        const refused = await call(srv.baseUrl, '/api/auth/login', { json: member, headers: { appId: app.id } });
        expect(refused.status, JSON.stringify(refused.body)).to.equal(403);
        expect(refused.body).to.include({ code: 'mfa_enrollment_required' });
        await save(srv, orgId, { allowedSignInMethods: ['passkey'] });
        await pastPolicyCache();
        const method = await call(srv.baseUrl, '/api/auth/login', { json: member, headers: { appId: app.id } });
        expect(method.status).to.equal(403);
        expect(method.body).to.include({ code: 'sign_in_method_not_allowed' });
      } finally {
        await srv.close();
      }
    });

    it('datarhei: renewing an access token of a session the org no longer allows is refused, and ends it', async () => {
      const { srv, orgId } = await presetOrg('datarhei');
      try {
        const { sessions, accounts } = srv.auth.services;
        const signedIn = await accounts.signin(member.email, member.password);
        if (signedIn.kind !== 'tokens') throw new Error('expected tokens');
        expect(signedIn.tokens.scope.orgId).to.equal(orgId);
        const renewed = await call(srv.baseUrl, '/api/login/refresh', { method: 'GET', headers: { Authorization: `Bearer ${signedIn.tokens.refreshToken}` } });
        expect(renewed.status, JSON.stringify(renewed.body)).to.equal(200);
        await save(srv, orgId, { allowedSignInMethods: ['passkey'] });
        await pastPolicyCache();
        const refused = await call(srv.baseUrl, '/api/login/refresh', { method: 'GET', headers: { Authorization: `Bearer ${signedIn.tokens.refreshToken}` } });
        expect(refused.status, JSON.stringify(refused.body)).to.equal(403);
        // Ended: asked again, the session is revoked.
        const again = await sessions.renewAccess(signedIn.tokens.refreshToken).then(
          () => null,
          (err: { code?: string }) => err.code,
        );
        expect(again).to.equal('token_revoked');
      } finally {
        await srv.close();
      }
    });
  });

  describe('on PostgreSQL, two instances', function () {
    this.timeout(60_000);
    let a: Harness;
    let b: Harness;
    // Instance b's clock stands still, so what it caches for 1 s stays cached for the whole test.
    const frozen = Date.now();
    before(async () => {
      const url = await createTestDatabase('org_policy_pair');
      const options = { revocation: { pollInterval: '1s' } } as const;
      a = await startHarness(options, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
      b = await startHarness({ ...options, clock: { now: () => frozen } }, { storage: createKnexStorage(pgConfig(url, { pool: { min: 0, max: 10 } })) });
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    it('a tightening on one instance is refused by the other within the poll interval', async () => {
      const owner = await signupWithOrg(a.app);
      const member = await addMember(a.app, owner);
      // Verified (and cached) by instance b before the change.
      expect((await request(b.app).get('/api/hello').set(bearer(member.access))).status).to.equal(200);
      await b.storage.knex('auth_refresh_tokens').where({ family_id: claimsOf(member.refresh).sid as string }).update({ method: 'google' });
      const res = await request(a.app).patch(`/auth/orgs/${owner.orgId}/policy`).set(bearer(owner.access)).send({ allowedSignInMethods: ['password'] });
      expect(res.body.enforced.sessionsEnded).to.equal(1);
      await eventually(async () => (await request(b.app).get('/api/hello').set(bearer(member.access))).status === 401, 3000, 'instance b refuses the ended session');
      expect((await request(b.app).get('/api/hello').set(bearer(owner.access))).status).to.equal(200);
      expectProblem(await request(b.app).post('/auth/refresh').send({ refresh_token: member.refresh }), 401, 'token_revoked');
    });

    it('a sign-in on the other instance right after a change is judged by the stored policy, not the one it cached', async () => {
      const owner = await signupWithOrg(a.app);
      const setup = await request(a.app).post('/auth/mfa/totp/setup').set(bearer(owner.access));
      const enabled = await request(a.app).post('/auth/mfa/totp/enable').set(bearer(owner.access)).send({ code: await generate({ secret: setup.body.secret }) });
      expect(enabled.status, enabled.text).to.equal(200);
      const member = await addMember(a.app, owner);
      // Instance b reads (and caches) the org's policy at the member's sign-in there.
      const first = await signin(b.app, member.email);
      expect(claimsOf(first.access).org).to.equal(owner.orgId);
      const res = await request(a.app).patch(`/auth/orgs/${owner.orgId}/policy`).set(bearer(owner.access)).send({ requireMfa: true });
      expect(res.status, res.text).to.equal(200);

      // b's cache still says the org asks for no second factor; the session is stored only as the stored policy allows.
      const again = await request(b.app).post('/auth/signin').send({ email: member.email, password: PASSWORD });
      expect(again.status, again.text).to.equal(200);
      expect(claimsOf(again.body.access_token as string)).to.not.have.property('org');
      const live = await b.storage.knex('auth_refresh_tokens').where({ user_id: member.userId, org_id: owner.orgId }).whereNull('revoked_at');
      expect(live).to.have.length(0);
      // Asked for by name, the org answers with the policy's refusal.
      expectProblem(await request(b.app).post('/auth/switch-org').set(bearer(again.body.access_token as string)).send({ orgId: owner.orgId }), 403, 'mfa_enrollment_required');
      // b's two sign-ins, each recorded once with the session it stored.
      const entries = await b.storage.knex('auth_audit_log').where({ actor_id: member.userId, action: 'signin.succeeded', at: frozen });
      expect(entries.map((e: { org_id: string | null; target_id: string }) => [e.org_id, e.target_id])).to.have.deep.members([
        [owner.orgId, claimsOf(first.access).sid],
        [null, claimsOf(again.body.access_token as string).sid],
      ]);
    });

    it('an API key made on the other instance right after a lifetime limit is capped by the stored policy', async () => {
      const owner = await signupWithOrg(a.app);
      const make = () => request(b.app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: `key-${unique()}` });
      // Instance b has the org's policy (no limit) from a key made before the change.
      const before = await make();
      expect(before.status, before.text).to.equal(201);
      expect(before.body.expiresAt).to.equal(null);
      const res = await request(a.app).patch(`/auth/orgs/${owner.orgId}/policy`).set(bearer(owner.access)).send({ apiKeyMaxLifetime: 3600 });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.enforced.apiKeysRevoked).to.equal(1);
      const after = await make();
      expect(after.status, after.text).to.equal(201);
      expect(Date.parse(after.body.expiresAt as string)).to.equal(frozen + HOUR);
      const tooLong = await request(b.app).post('/auth/api-keys').set(bearer(owner.access)).send({ name: 'long', expiresAt: new Date(frozen + 2 * HOUR).toISOString() });
      expectProblem(tooLong, 400, 'invalid_request');
    });
  });
});
