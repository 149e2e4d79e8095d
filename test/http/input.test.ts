import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import type express from 'express';
import request from 'supertest';
import { accountEndpoints } from '../../src/http/routes/accounts.js';
import { apiKeyEndpoints } from '../../src/http/routes/api-keys.js';
import { auditEndpoints } from '../../src/http/routes/audit.js';
import { webhookEndpoints } from '../../src/http/routes/webhooks.js';
import { orgPolicyEndpoints } from '../../src/http/routes/org-policy.js';
import { roleEndpoints } from '../../src/http/routes/roles.js';
import { eventually } from '../helpers/eventually.js';
import { startReceiver, type Receiver } from '../helpers/webhooks.js';
import { mfaEndpoints } from '../../src/http/routes/mfa.js';
import { orgEndpoints } from '../../src/http/routes/orgs.js';
import { realtimeEndpoints } from '../../src/http/routes/realtime.js';
import { stepUpEndpoints } from '../../src/http/routes/step-up.js';
import { sessionEndpoints } from '../../src/http/routes/sessions.js';
import { accountDeletionEndpoints } from '../../src/http/routes/account-deletion.js';
import { accountEmailEndpoints } from '../../src/http/routes/account-email.js';
import { passkeyEndpoints } from '../../src/http/routes/passkeys.js';
import { assertPasskey, createPasskey, type SoftPasskey } from '../helpers/webauthn.js';
import { createSmtpMailer } from 'gatehouse-auth';
import { startInbox, type Inbox } from '../helpers/inbox.js';
import { addMember, claimsOf, PASSWORD, signin, signupWithOrg, startHarness, unique, type Harness, type SignedUp } from '../helpers/harness.js';

/** Every password any request in this file sends; no response may contain one. */
const PASSWORDS = [PASSWORD, 'Never-Echo-This-9f27c1'];
const OTHER_PASSWORD = PASSWORDS[1] as string;

type Method = 'get' | 'post' | 'patch' | 'delete';
type Json = Record<string, unknown>;

interface Ctx {
  owner: SignedUp;
  member: SignedUp;
  /** Owner of a second org; `code` invites into it, so both signup and setup-org can join. */
  other: SignedUp;
  code: string;
  /** A pending invitation of the owner's org. */
  invitationId: string;
  /** An API key of the owner's org. */
  apiKeyId: string;
  /** A TOTP code for the owner, once `prepare` enrolled them ('123456' until then). */
  totpCode: string;
  /** An mfa_token from a sign-in of the owner, once `prepare` made one ('x.y.z' until then). */
  mfaToken: string;
  /** A token from a mail to the owner, once `prepare` took one from the inbox (a well-formed unknown one until then). */
  mailToken: string;
  /** A passkey of the owner, registered by makeCtx, and the software authenticator holding it. */
  passkeyId: string;
  passkey: SoftPasskey;
  /** A well-formed registration (answering a fresh challenge once `prepare` made one). */
  registration: Json;
  /** A well-formed passkey assertion (answering a fresh challenge once `prepare` made one). */
  assertion: Json;
  /** A webhook endpoint of the owner's org, delivering to the test's receiver. */
  webhookId: string;
  /** A finished delivery of it, once `prepare` made one (an unknown id until then). */
  deliveryId: string;
  /** A custom role of the owner's org, once `prepare` made one (an unknown id until then). */
  roleId?: string;
}

/** Defines a custom role in the owner's org (no permissions: this harness has no vocabulary). */
async function newRole(app: express.Express, c: Ctx): Promise<Partial<Ctx>> {
  const res = await request(app).post(`/auth/orgs/${c.owner.orgId}/roles`).set('Authorization', `Bearer ${c.owner.access}`).send({ name: `role-${unique()}`, permissions: [] });
  expect(res.status, res.text).to.equal(201);
  return { roleId: res.body.id as string };
}

/** The SMTP server the harness mails to: valid /email/verify and /password/reset requests take their token from it. */
let inbox: Inbox;
/** Where the owner's webhook delivers. */
let receiver: Receiver;

interface Route {
  method: Method;
  /** The route as declared in src/http/routes. */
  route: string;
  /** A label, for routes tested with more than one body variant. */
  variant?: string;
  path: (c: Ctx) => string;
  bearer: boolean;
  /** A valid body; absent for routes that take none. */
  body?: (c: Ctx) => Json;
  bodyOptional?: boolean;
  /** Dotted paths of fields that must be present. */
  required?: string[];
  /** Status of a valid request. */
  ok: number;
  /** State a valid request needs beyond makeCtx (for the sanity check only). */
  prepare?: (app: express.Express, c: Ctx) => Promise<Partial<Ctx>>;
}

const base32Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s), written out here rather than taken from the library under test. */
function totp(secret: string, atMs: number): string {
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | base32Alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 30_000)));
  const mac = createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
  const offset = (mac[mac.length - 1] as number) & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** Starts TOTP enrolment for the owner; returns the secret. */
async function setupTotp(app: express.Express, c: Ctx): Promise<string> {
  const res = await request(app).post('/auth/mfa/totp/setup').set('Authorization', `Bearer ${c.owner.access}`);
  expect(res.status, res.text).to.equal(200);
  return res.body.secret as string;
}

/** Enrols the owner in TOTP; returns the secret. */
async function enableTotp(app: express.Express, c: Ctx): Promise<string> {
  const secret = await setupTotp(app, c);
  const res = await request(app).post('/auth/mfa/totp/enable').set('Authorization', `Bearer ${c.owner.access}`).send({ code: totp(secret, Date.now()) });
  expect(res.status, res.text).to.equal(200);
  return secret;
}

/** A new passkey of the owner's (the owner's token is fresh, as step-up asks): the authenticator's reply, without transports (an array is no leaf for the type checks below). */
async function newPasskey(app: express.Express, owner: SignedUp): Promise<{ passkey: SoftPasskey; registration: Json }> {
  const options = await request(app).post('/auth/passkeys/registration/options').set('Authorization', `Bearer ${owner.access}`);
  expect(options.status, options.text).to.equal(200);
  const { passkey, credential } = createPasskey(options.body);
  delete (credential.response as Json).transports;
  return { passkey, registration: credential };
}

async function newAssertion(app: express.Express, passkey: SoftPasskey): Promise<Json> {
  const options = await request(app).post('/auth/passkeys/authentication/options').send({});
  expect(options.status, options.text).to.equal(200);
  return assertPasskey(passkey, options.body);
}

const routes: Route[] = [
  {
    method: 'post',
    route: '/signup',
    variant: 'create',
    path: () => '/auth/signup',
    bearer: false,
    body: () => {
      const id = unique();
      return {
        email: `input-${id}@example.com`,
        password: OTHER_PASSWORD,
        username: `user${id}`,
        first_name: 'Ada',
        last_name: 'Lovelace',
        action: 'create',
        orgCreateProps: { name: `Org ${id}`, slug: `input-${id}`, description: 'about' },
      };
    },
    required: ['email', 'password', 'action', 'orgCreateProps', 'orgCreateProps.name', 'orgCreateProps.slug'],
    ok: 201,
  },
  {
    method: 'post',
    route: '/signup',
    variant: 'join',
    path: () => '/auth/signup',
    bearer: false,
    body: (c) => ({ email: `input-join-${unique()}@example.com`, password: OTHER_PASSWORD, action: 'join', invitationCode: c.code }),
    required: ['email', 'password', 'action', 'invitationCode'],
    ok: 201,
  },
  {
    method: 'post',
    route: '/signin',
    path: () => '/auth/signin',
    bearer: false,
    body: (c) => ({ email: c.owner.email, password: PASSWORD }),
    // Empty only with an external issuer's Bearer token (test/identity/external.test.ts); `{}` alone is still 400 there.
    bodyOptional: true,
    required: ['email', 'password'],
    ok: 200,
  },
  {
    method: 'post',
    route: '/refresh',
    path: () => '/auth/refresh',
    bearer: false,
    body: (c) => ({ refresh_token: c.owner.refresh }),
    required: ['refresh_token'],
    ok: 200,
  },
  {
    method: 'post',
    route: '/logout',
    path: () => '/auth/logout',
    bearer: true,
    body: (c) => ({ refresh_token: c.owner.refresh }),
    bodyOptional: true,
    required: [],
    ok: 204,
  },
  { method: 'get', route: '/me', path: () => '/auth/me', bearer: true, ok: 200 },
  {
    method: 'post',
    route: '/setup-org',
    variant: 'create',
    path: () => '/auth/setup-org',
    bearer: true,
    body: () => {
      const id = unique();
      return { action: 'create', orgCreateProps: { name: `Setup ${id}`, slug: `setup-${id}`, description: 'd' } };
    },
    required: ['action', 'orgCreateProps', 'orgCreateProps.name', 'orgCreateProps.slug'],
    ok: 200,
  },
  {
    method: 'post',
    route: '/setup-org',
    variant: 'join',
    path: () => '/auth/setup-org',
    bearer: true,
    body: (c) => ({ action: 'join', invitationCode: c.code }),
    required: ['action', 'invitationCode'],
    ok: 200,
  },
  {
    method: 'post',
    route: '/switch-org',
    path: () => '/auth/switch-org',
    bearer: true,
    body: (c) => ({ orgId: c.owner.orgId }),
    required: ['orgId'],
    ok: 200,
  },
  { method: 'get', route: '/orgs', path: () => '/auth/orgs', bearer: true, ok: 200 },
  { method: 'get', route: '/orgs/:orgId/members', path: (c) => `/auth/orgs/${c.owner.orgId}/members`, bearer: true, ok: 200 },
  {
    method: 'patch',
    route: '/orgs/:orgId/members/:userId',
    path: (c) => `/auth/orgs/${c.owner.orgId}/members/${c.member.userId}`,
    bearer: true,
    body: () => ({ role: 'admin' }),
    required: ['role'],
    ok: 200,
  },
  {
    method: 'delete',
    route: '/orgs/:orgId/members/:userId',
    path: (c) => `/auth/orgs/${c.owner.orgId}/members/${c.member.userId}`,
    bearer: true,
    ok: 204,
  },
  {
    method: 'post',
    route: '/orgs/:orgId/invitations',
    path: (c) => `/auth/orgs/${c.owner.orgId}/invitations`,
    bearer: true,
    body: () => ({ email: `invitee-${unique()}@example.com`, role: 'member', expiresInHours: 24 }),
    bodyOptional: true,
    required: [],
    ok: 201,
  },
  { method: 'get', route: '/orgs/:orgId/invitations', path: (c) => `/auth/orgs/${c.owner.orgId}/invitations`, bearer: true, ok: 200 },
  { method: 'get', route: '/orgs/:orgId/audit', path: (c) => `/auth/orgs/${c.owner.orgId}/audit`, bearer: true, ok: 200 },
  { method: 'get', route: '/me/audit', path: () => '/auth/me/audit', bearer: true, ok: 200 },
  { method: 'get', route: '/orgs/:orgId/audit/verify', path: (c) => `/auth/orgs/${c.owner.orgId}/audit/verify`, bearer: true, ok: 200 },
  {
    method: 'post',
    route: '/orgs/:orgId/webhooks',
    path: (c) => `/auth/orgs/${c.owner.orgId}/webhooks`,
    bearer: true,
    body: () => ({ url: receiver.url, events: ['member.joined'] }),
    required: ['url'],
    ok: 201,
  },
  { method: 'get', route: '/orgs/:orgId/webhooks', path: (c) => `/auth/orgs/${c.owner.orgId}/webhooks`, bearer: true, ok: 200 },
  { method: 'get', route: '/orgs/:orgId/roles', path: (c) => `/auth/orgs/${c.owner.orgId}/roles`, bearer: true, ok: 200 },
  {
    method: 'post',
    route: '/orgs/:orgId/roles',
    path: (c) => `/auth/orgs/${c.owner.orgId}/roles`,
    bearer: true,
    body: () => ({ name: `role-${unique()}`, permissions: [] }),
    required: ['name', 'permissions'],
    ok: 201,
  },
  {
    method: 'patch',
    route: '/orgs/:orgId/roles/:roleId',
    path: (c) => `/auth/orgs/${c.owner.orgId}/roles/${c.roleId ?? 'no-such-role'}`,
    bearer: true,
    body: () => ({ name: `renamed-${unique()}` }),
    required: [],
    ok: 200,
    prepare: newRole,
  },
  {
    method: 'delete',
    route: '/orgs/:orgId/roles/:roleId',
    path: (c) => `/auth/orgs/${c.owner.orgId}/roles/${c.roleId ?? 'no-such-role'}`,
    bearer: true,
    ok: 204,
    prepare: newRole,
  },
  { method: 'get', route: '/orgs/:orgId/policy', path: (c) => `/auth/orgs/${c.owner.orgId}/policy`, bearer: true, ok: 200 },
  {
    method: 'patch',
    route: '/orgs/:orgId/policy',
    path: (c) => `/auth/orgs/${c.owner.orgId}/policy`,
    bearer: true,
    // Loose enough for every other route of the table (every built-in method); null resets are in org-policy.test.ts.
    body: () => ({ requireMfa: false, allowedSignInMethods: ['password', 'passkey', 'google', 'api_key'] }),
    required: [],
    ok: 200,
  },
  { method: 'get', route: '/orgs/:orgId/webhooks/:id', path: (c) => `/auth/orgs/${c.owner.orgId}/webhooks/${c.webhookId}`, bearer: true, ok: 200 },
  {
    method: 'patch',
    route: '/orgs/:orgId/webhooks/:id',
    path: (c) => `/auth/orgs/${c.owner.orgId}/webhooks/${c.webhookId}`,
    bearer: true,
    body: () => ({ events: ['member.joined', 'member.removed'], enabled: true }),
    required: [],
    ok: 200,
  },
  {
    method: 'post',
    route: '/orgs/:orgId/webhooks/:id/rotate-secret',
    path: (c) => `/auth/orgs/${c.owner.orgId}/webhooks/${c.webhookId}/rotate-secret`,
    bearer: true,
    ok: 200,
  },
  { method: 'get', route: '/orgs/:orgId/webhooks/:id/deliveries', path: (c) => `/auth/orgs/${c.owner.orgId}/webhooks/${c.webhookId}/deliveries`, bearer: true, ok: 200 },
  {
    method: 'post',
    route: '/orgs/:orgId/webhooks/:id/deliveries/:deliveryId/redeliver',
    path: (c) => `/auth/orgs/${c.owner.orgId}/webhooks/${c.webhookId}/deliveries/${c.deliveryId}/redeliver`,
    bearer: true,
    ok: 202,
    prepare: async (app, c) => {
      // An audited action of the org (an invitation), delivered to the receiver.
      const invited = await request(app).post(`/auth/orgs/${c.owner.orgId}/invitations`).set('Authorization', `Bearer ${c.owner.access}`).send({});
      expect(invited.status, invited.text).to.equal(201);
      const deliveries = async () =>
        (await request(app).get(`/auth/orgs/${c.owner.orgId}/webhooks/${c.webhookId}/deliveries`).set('Authorization', `Bearer ${c.owner.access}`)).body.deliveries as Array<{ id: string; status: string }>;
      await eventually(async () => (await deliveries()).some((d) => d.status === 'delivered'), 5_000, 'a delivered webhook');
      return { deliveryId: ((await deliveries()).find((d) => d.status === 'delivered') as { id: string }).id };
    },
  },
  {
    method: 'delete',
    route: '/orgs/:orgId/webhooks/:id',
    path: (c) => `/auth/orgs/${c.owner.orgId}/webhooks/${c.webhookId}`,
    bearer: true,
    ok: 204,
  },
  {
    method: 'delete',
    route: '/orgs/:orgId/invitations/:invitationId',
    path: (c) => `/auth/orgs/${c.owner.orgId}/invitations/${c.invitationId}`,
    bearer: true,
    ok: 204,
  },
  { method: 'get', route: '/mfa', path: () => '/auth/mfa', bearer: true, ok: 200 },
  { method: 'post', route: '/mfa/totp/setup', path: () => '/auth/mfa/totp/setup', bearer: true, ok: 200 },
  {
    method: 'post',
    route: '/mfa/totp/enable',
    path: () => '/auth/mfa/totp/enable',
    bearer: true,
    body: (c) => ({ code: c.totpCode }),
    required: ['code'],
    ok: 200,
    prepare: async (app, c) => ({ totpCode: totp(await setupTotp(app, c), Date.now()) }),
  },
  {
    method: 'post',
    route: '/mfa/totp/disable',
    path: () => '/auth/mfa/totp/disable',
    bearer: true,
    body: () => ({ password: PASSWORD }),
    required: [],
    ok: 204,
    prepare: async (app, c) => {
      await enableTotp(app, c);
      return {};
    },
  },
  {
    method: 'post',
    route: '/reauthenticate',
    path: () => '/auth/reauthenticate',
    bearer: true,
    body: () => ({ password: PASSWORD }),
    required: ['password'],
    ok: 200,
  },
  {
    method: 'post',
    route: '/mfa/verify',
    path: () => '/auth/mfa/verify',
    bearer: false,
    body: (c) => ({ mfa_token: c.mfaToken, code: c.totpCode }),
    required: ['mfa_token'],
    ok: 200,
    prepare: async (app, c) => {
      const secret = await enableTotp(app, c);
      const res = await request(app).post('/auth/signin').send({ email: c.owner.email, password: PASSWORD });
      expect(res.status, res.text).to.equal(403);
      expect(res.body.code).to.equal('mfa_required');
      // The enrolment spent the current time step; the next one is within the allowed drift.
      return { mfaToken: res.body.mfa_token as string, totpCode: totp(secret, Date.now() + 30_000) };
    },
  },
  {
    method: 'post',
    route: '/api-keys',
    path: () => '/auth/api-keys',
    bearer: true,
    body: () => ({ name: `key ${unique()}`, role: 'member', expiresAt: new Date(Date.now() + 86400_000).toISOString() }),
    required: ['name'],
    ok: 201,
  },
  { method: 'get', route: '/api-keys', path: () => '/auth/api-keys', bearer: true, ok: 200 },
  { method: 'delete', route: '/api-keys/:id', path: (c) => `/auth/api-keys/${c.apiKeyId}`, bearer: true, ok: 204 },
  { method: 'get', route: '/iot-credentials', path: () => '/auth/iot-credentials', bearer: true, ok: 200 },
  { method: 'post', route: '/iot-credentials', path: () => '/auth/iot-credentials', bearer: true, ok: 200 },
  { method: 'get', route: '/sessions', path: () => '/auth/sessions', bearer: true, ok: 200 },
  { method: 'delete', route: '/sessions/:id', path: (c) => `/auth/sessions/${String(claimsOf(c.owner.access).sid)}`, bearer: true, ok: 204 },
  { method: 'delete', route: '/sessions', path: () => '/auth/sessions', bearer: true, ok: 204 },
  {
    method: 'delete',
    route: '/me',
    path: () => '/auth/me',
    bearer: true,
    body: () => ({ password: PASSWORD }),
    bodyOptional: true,
    required: [],
    ok: 204,
    // The owner's org has a member: alone in it, the owner may go (the org with them).
    prepare: async (app, c) => {
      const res = await request(app).delete(`/auth/orgs/${c.owner.orgId}/members/${c.member.userId}`).set('Authorization', `Bearer ${c.owner.access}`);
      expect(res.status, res.text).to.equal(204);
      return {};
    },
  },
  {
    method: 'delete',
    route: '/orgs/:orgId',
    path: (c) => `/auth/orgs/${c.owner.orgId}`,
    bearer: true,
    body: () => ({ password: PASSWORD }),
    bodyOptional: true,
    required: [],
    ok: 204,
  },
  {
    method: 'post',
    route: '/orgs/:orgId/transfer',
    path: (c) => `/auth/orgs/${c.owner.orgId}/transfer`,
    bearer: true,
    body: (c) => ({ userId: c.member.userId }),
    required: ['userId'],
    ok: 200,
  },
  { method: 'post', route: '/email/verification', path: () => '/auth/email/verification', bearer: true, ok: 202 },
  {
    method: 'post',
    route: '/email/verify',
    path: () => '/auth/email/verify',
    bearer: false,
    body: (c) => ({ token: c.mailToken }),
    required: ['token'],
    ok: 200,
    prepare: async (app, c) => {
      await request(app).post('/auth/email/verification').set('Authorization', `Bearer ${c.owner.access}`).expect(202);
      return { mailToken: (await inbox.next(c.owner.email, /Verify your/)).token as string };
    },
  },
  { method: 'post', route: '/password/forgot', path: () => '/auth/password/forgot', bearer: false, body: (c) => ({ email: c.owner.email }), required: ['email'], ok: 202 },
  {
    method: 'post',
    route: '/password/reset',
    path: () => '/auth/password/reset',
    bearer: false,
    body: (c) => ({ token: c.mailToken, password: OTHER_PASSWORD }),
    required: ['token', 'password'],
    ok: 204,
    prepare: async (app, c) => {
      await request(app).post('/auth/password/forgot').send({ email: c.owner.email }).expect(202);
      return { mailToken: (await inbox.next(c.owner.email, /Reset your/)).token as string };
    },
  },
  {
    method: 'post',
    route: '/password/change',
    path: () => '/auth/password/change',
    bearer: true,
    body: () => ({ currentPassword: PASSWORD, newPassword: OTHER_PASSWORD }),
    required: ['currentPassword', 'newPassword'],
    ok: 204,
  },
  {
    method: 'post',
    route: '/email/change',
    path: () => '/auth/email/change',
    bearer: true,
    body: () => ({ newEmail: `moved-${unique()}@example.com`, password: PASSWORD }),
    required: ['newEmail', 'password'],
    ok: 202,
  },
  { method: 'post', route: '/passkeys/registration/options', path: () => '/auth/passkeys/registration/options', bearer: true, ok: 200 },
  {
    method: 'post',
    route: '/passkeys/registration/verify',
    path: () => '/auth/passkeys/registration/verify',
    bearer: true,
    body: (c) => ({ credential: c.registration, name: 'Laptop' }),
    required: ['credential', 'credential.id', 'credential.type', 'credential.response', 'credential.response.clientDataJSON', 'credential.response.attestationObject'],
    ok: 201,
    prepare: async (app, c) => ({ registration: (await newPasskey(app, c.owner)).registration }),
  },
  { method: 'get', route: '/passkeys', path: () => '/auth/passkeys', bearer: true, ok: 200 },
  { method: 'delete', route: '/passkeys/:id', path: (c) => `/auth/passkeys/${c.passkeyId}`, bearer: true, ok: 204 },
  {
    method: 'post',
    route: '/passkeys/authentication/options',
    path: () => '/auth/passkeys/authentication/options',
    bearer: false,
    body: (c) => ({ email: c.owner.email }),
    bodyOptional: true,
    required: [],
    ok: 200,
  },
  {
    method: 'post',
    route: '/passkeys/authentication/verify',
    path: () => '/auth/passkeys/authentication/verify',
    bearer: false,
    body: (c) => ({ credential: c.assertion }),
    required: ['credential', 'credential.id', 'credential.response.clientDataJSON', 'credential.response.authenticatorData', 'credential.response.signature'],
    ok: 200,
    prepare: async (app, c) => ({ assertion: await newAssertion(app, c.passkey) }),
  },
];

const label = (r: Route) => `${r.method.toUpperCase()} ${r.route}${r.variant ? ` (${r.variant})` : ''}`;

async function makeCtx(app: express.Express): Promise<Ctx> {
  const owner = await signupWithOrg(app);
  const member = await addMember(app, owner);
  const other = await signupWithOrg(app);
  const invite = async (inviter: SignedUp) => {
    const res = await request(app).post(`/auth/orgs/${inviter.orgId}/invitations`).set('Authorization', `Bearer ${inviter.access}`).send({});
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { id: string; code: string };
  };
  const code = (await invite(other)).code;
  const invitationId = (await invite(owner)).id;
  const key = await request(app).post('/auth/api-keys').set('Authorization', `Bearer ${owner.access}`).send({ name: 'ctx key' });
  expect(key.status, JSON.stringify(key.body)).to.equal(201);
  const { passkey, registration } = await newPasskey(app, owner);
  const registered = await request(app).post('/auth/passkeys/registration/verify').set('Authorization', `Bearer ${owner.access}`).send({ credential: registration });
  expect(registered.status, registered.text).to.equal(201);
  const webhook = await request(app).post(`/auth/orgs/${owner.orgId}/webhooks`).set('Authorization', `Bearer ${owner.access}`).send({ url: receiver.url });
  expect(webhook.status, webhook.text).to.equal(201);
  return {
    owner,
    member,
    other,
    code,
    invitationId,
    apiKeyId: key.body.id as string,
    totpCode: '123456',
    mfaToken: 'x.y.z',
    mailToken: 'A'.repeat(43),
    passkeyId: registered.body.id as string,
    passkey,
    // Its challenge is used up: well-formed for the checks that need no valid request.
    registration,
    assertion: assertPasskey(passkey, { challenge: 'AAAA' }),
    webhookId: webhook.body.id as string,
    deliveryId: '00000000-0000-4000-8000-000000000000',
  };
}

/** A request to the route, with the owner's bearer token when it needs one. */
function call(app: express.Express, r: Route, c: Ctx): request.Test {
  const req = request(app)[r.method](r.path(c));
  return r.bearer ? req.set('Authorization', `Bearer ${c.owner.access}`) : req;
}

function sendRaw(app: express.Express, r: Route, c: Ctx, raw: string, contentType = 'application/json'): request.Test {
  return call(app, r, c).set('Content-Type', contentType).send(raw);
}

function expectNoPassword(res: request.Response): void {
  for (const p of PASSWORDS) expect(res.text, 'a response echoed a password').not.to.contain(p);
}

/** An RFC 9457 problem document with the stable code, and no password in it. */
function expectProblem(res: request.Response, status: number, code?: string | string[]): void {
  expect(res.status, `${res.status} ${res.text}`).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  expect(res.body).to.include({ status, type: `urn:gatehouse:error:${res.body.code}` });
  expect(res.body.title).to.be.a('string').that.is.not.empty;
  expect(res.body.detail).to.be.a('string').that.is.not.empty;
  expect(res.body.code).to.be.a('string');
  if (typeof code === 'string') expect(res.body.code).to.equal(code);
  else if (code) expect(res.body.code).to.be.oneOf(code);
  expectNoPassword(res);
}

function errorPaths(res: request.Response): string[] {
  expect(res.body.errors, `no errors[] in ${res.text}`).to.be.an('array').that.is.not.empty;
  return (res.body.errors as Array<{ path: string; message: string }>).map((e) => {
    expect(e.message).to.be.a('string').that.is.not.empty;
    return e.path;
  });
}

/** Dotted paths and values of every leaf (non-object value) of a body. */
function leaves(body: Json, prefix = ''): Array<[string, unknown]> {
  return Object.entries(body).flatMap(([key, value]): Array<[string, unknown]> => {
    const path = prefix ? `${prefix}.${key}` : key;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? leaves(value as Json, path) : [[path, value]];
  });
}

function withValue(body: Json, path: string, value: unknown): Json {
  const copy = structuredClone(body);
  const keys = path.split('.');
  const last = keys.pop() as string;
  let target = copy;
  for (const k of keys) target = target[k] as Json;
  target[last] = value;
  return copy;
}

function without(body: Json, path: string): Json {
  const copy = structuredClone(body);
  const keys = path.split('.');
  const last = keys.pop() as string;
  let target = copy;
  for (const k of keys) target = target[k] as Json;
  delete target[last];
  return copy;
}

const wrongTypes = (value: unknown): Array<[string, unknown]> =>
  Array.isArray(value)
    ? [['number', 42], ['string', 'a'], ['object', { a: 'b' }], ['boolean', false]]
    : typeof value === 'boolean'
      ? [['string', 'true'], ['number', 1], ['array', [true]], ['object', { a: true }], ['null', null]]
      : typeof value === 'number'
    ? [['string', '12'], ['array', [1]], ['object', { n: 1 }], ['null', null], ['boolean', true]]
    : [['number', 42], ['array', ['a']], ['object', { a: 'b' }], ['null', null], ['boolean', false]];

describe('input handling on every route', () => {
  let h: Harness;
  let c: Ctx;
  before(async () => {
    inbox = await startInbox();
    receiver = await startReceiver();
    h = await startHarness({
      realtime: { url: 'wss://broker.example.com/mqtt' },
      // No mail per sign-up: the routes below ask for the few they need.
      emailVerification: 'off',
      mail: { mailer: createSmtpMailer(inbox.url), from: 'auth@example.com', limits: false },
      passkeys: { rpID: 'localhost', origins: ['http://localhost'] },
    });
    c = await makeCtx(h.app);
  });
  after(async () => {
    await h.close();
    await inbox.close();
    await receiver.close();
  });

  it('the table covers every route declared in src/http/routes', () => {
    const { services } = h.auth;
    expect(services.realtime, 'the harness enables realtime so /iot-credentials is mounted').to.be.ok;
    expect(services.passkeys, 'the harness enables passkeys so /passkeys is mounted').to.be.ok;
    const endpoints = [
      ...accountEndpoints(services),
      ...orgEndpoints(services),
      ...apiKeyEndpoints(services),
      ...auditEndpoints(services),
      ...webhookEndpoints(services),
      ...orgPolicyEndpoints(services),
      ...roleEndpoints(services),
      ...mfaEndpoints(services),
      ...stepUpEndpoints(services),
      ...sessionEndpoints(services),
      ...accountDeletionEndpoints(services),
      ...accountEmailEndpoints(services),
      ...(services.realtime ? realtimeEndpoints(services.realtime) : []),
      ...(services.passkeys ? passkeyEndpoints(services.passkeys) : []),
    ];
    const declared = endpoints.flatMap((ep) => (Array.isArray(ep.method) ? ep.method : [ep.method]).map((m) => ({ ep, method: m as Method })));
    const tested = new Set(routes.map((r) => `${r.method} ${r.route}`));
    expect([...tested].sort()).to.deep.equal([...new Set(declared.map((d) => `${d.method} ${d.ep.path}`))].sort());
    for (const { ep, method } of declared) {
      const r = routes.find((x) => x.method === method && x.route === ep.path);
      const name = `${method} ${ep.path}`;
      expect(r?.bearer, name).to.equal(ep.auth !== 'none');
      expect(r?.body !== undefined, `${name} body`).to.equal(ep.body !== undefined);
      expect(r?.bodyOptional ?? false, `${name} bodyOptional`).to.equal(ep.bodyOptional ?? false);
    }
  });

  it('the table covers every route the mounted router serves', () => {
    const stack = (h.auth as unknown as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> }).stack;
    // GET /openapi.json is the router's own and takes no input: test/http/openapi.test.ts covers it.
    const mounted = stack
      .flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((m) => `${m} ${layer.route?.path}`) : []))
      .filter((route) => route !== 'get /openapi.json');
    expect(mounted.length).to.be.above(10);
    expect([...new Set(mounted)].sort()).to.deep.equal([...new Set(routes.map((r) => `${r.method} ${r.route}`))].sort());
  });

  for (const r of routes) {
    describe(label(r), () => {
      it(`a valid request answers ${r.ok} (the table is right)`, async () => {
        const base = await makeCtx(h.app);
        const fresh = { ...base, ...(r.prepare ? await r.prepare(h.app, base) : {}) };
        const req = call(h.app, r, fresh);
        const res = r.body ? await req.send(r.body(fresh)) : await req;
        expect(res.status, res.text).to.equal(r.ok);
        expectNoPassword(res);
      });

      it('malformed JSON → 400 invalid_json', async () => {
        for (const raw of ['{"email": ', '{bad json}', "{'a': 1}", '{"a":1,}']) {
          expectProblem(await sendRaw(h.app, r, c, raw), 400, 'invalid_json');
        }
      });

      it('a body over 32 kb → 413 payload_too_large', async () => {
        const big = JSON.stringify({ ...(r.body ? r.body(c) : {}), padding: 'x'.repeat(33 * 1024) });
        expectProblem(await sendRaw(h.app, r, c, big), 413, 'payload_too_large');
      });

      it('a __proto__ key never pollutes Object.prototype', async () => {
        const made = await makeCtx(h.app);
        // A route without a body answers r.ok below, so it gets the state a valid request needs.
        const fresh = { ...made, ...(r.prepare && !r.body ? await r.prepare(h.app, made) : {}) };
        const valid = JSON.stringify(r.body ? r.body(fresh) : {});
        const raw = `{"__proto__":{"polluted":1,"isAdmin":true},${valid.slice(1)}`.replace(/,}$/, '}');
        const res = await sendRaw(h.app, r, fresh, raw);
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
        expect(({} as Record<string, unknown>).isAdmin).to.equal(undefined);
        expect(Object.prototype).not.to.have.property('polluted');
        if (r.body) {
          expectProblem(res, 400, 'invalid_request');
          expect(res.body.errors.map((e: { message: string }) => e.message).join(' ')).to.contain('__proto__');
        } else {
          // Routes without a body ignore it; they must still not fail.
          expect(res.status, res.text).to.equal(r.ok);
        }
      });

      if (!r.body) return;
      const validBody = r.body;

      it('a body that is an array, a string, a number or null → 400', async () => {
        for (const raw of ['[]', '[{"a":1}]', '"a string"', '42', 'null', 'true']) {
          expectProblem(await sendRaw(h.app, r, c, raw), 400, ['invalid_request', 'invalid_json']);
        }
        const arr = await sendRaw(h.app, r, c, JSON.stringify([validBody(c)]));
        expectProblem(arr, 400, 'invalid_request');
        expect(errorPaths(arr)).to.include('');
      });

      it('a non-JSON content type with a body → 415 unsupported_media_type', async () => {
        const text = JSON.stringify(validBody(c));
        expectProblem(await sendRaw(h.app, r, c, text, 'text/plain'), 415, 'unsupported_media_type');
        expectProblem(await sendRaw(h.app, r, c, 'email=a%40b.co&password=x', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
      });

      it('a wrong type for any field → 400 invalid_request naming the field', async () => {
        const body = validBody(c);
        const fields = leaves(body);
        expect(fields).not.to.be.empty;
        for (const [path, value] of fields) {
          for (const [kind, wrong] of wrongTypes(value)) {
            const res = await call(h.app, r, c).send(withValue(body, path, wrong));
            expectProblem(res, 400, 'invalid_request');
            expect(errorPaths(res), `${path} as ${kind}`).to.include(path);
          }
        }
      });

      it('a missing required field → 400 invalid_request naming it', async () => {
        const body = validBody(c);
        for (const path of r.required ?? []) {
          const res = await call(h.app, r, c).send(without(body, path));
          expectProblem(res, 400, 'invalid_request');
          expect(errorPaths(res), path).to.include(path);
        }
        if (!r.bodyOptional) {
          const empty = await call(h.app, r, c).send({});
          expectProblem(empty, 400, 'invalid_request');
          // No body at all.
          const none = await call(h.app, r, c);
          expectProblem(none, 400, 'invalid_request');
        }
      });

      it('an unknown field → 400 invalid_request', async () => {
        const res = await call(h.app, r, c).send({ ...validBody(c), isAdmin: true });
        expectProblem(res, 400, 'invalid_request');
      });
    });
  }

  it('path parameters are validated: an over-long id → 400 naming it', async () => {
    const long = 'x'.repeat(200);
    const res = await request(h.app).get(`/auth/orgs/${long}/members`).set('Authorization', `Bearer ${c.owner.access}`);
    expectProblem(res, 400, 'invalid_request');
    expect(errorPaths(res)).to.include('orgId');
  });

  it('query parameters are validated: a bad envSlug → 400 naming it', async () => {
    const res = await request(h.app).get('/auth/iot-credentials?envSlug=a%2Fb').set('Authorization', `Bearer ${c.owner.access}`);
    expectProblem(res, 400, 'invalid_request');
    expect(errorPaths(res)).to.include('envSlug');
    const ok = await request(h.app).get('/auth/iot-credentials?envSlug=staging').set('Authorization', `Bearer ${c.owner.access}`);
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body.envSlug).to.equal('staging');
  });

  it('an unknown route under /auth → 404 not_found problem', async () => {
    expectProblem(await request(h.app).get('/auth/nope'), 404, 'not_found');
    expectProblem(await request(h.app).get('/auth/signup'), 404, 'not_found');
    expectProblem(await request(h.app).put('/auth/orgs').set('Authorization', `Bearer ${c.owner.access}`).send({}), 404, 'not_found');
    expectProblem(await request(h.app).post('/auth/orgs/x/members/y/extra').send({ password: OTHER_PASSWORD }), 404, 'not_found');
  });

  it('emails are trimmed and lowercased', async () => {
    const id = unique();
    const res = await request(h.app)
      .post('/auth/signup')
      .send({ email: `  Mixed-${id}@Example.COM `, password: PASSWORD, action: 'create', orgCreateProps: { name: 'Mixed', slug: `mixed-${id}` } });
    expect(res.status, res.text).to.equal(201);
    expect(res.body.email).to.equal(`mixed-${id}@example.com`);
    expect((await h.storage.users.findByEmail(`mixed-${id}@example.com`))?.id).to.equal(res.body.id);
    const tokens = await signin(h.app, `mixed-${id}@example.com`);
    expect(tokens.access).to.be.a('string');
    const me = await request(h.app).get('/auth/me').set('Authorization', `Bearer ${tokens.access}`);
    expect(me.body.email).to.equal(`mixed-${id}@example.com`);
    expectNoPassword(me);
  });
});
