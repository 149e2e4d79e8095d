import { z } from 'zod';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Passkeys } from '../../core/passkeys.js';
import type { PasskeyRecord } from '../../ports.js';
import { bodyTransport, type PairTransport } from '../cookies.js';
import { endpoint } from '../endpoint.js';
import { signInReply } from '../sign-in-reply.js';
import * as s from '../schemas.js';
import * as r from '../responses.js';

// base64url as browsers (and @simplewebauthn/browser) send it; bounded so a body cannot balloon.
const b64url = (max: number) => z.string().min(1, 'is required').max(max).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
const transports = z.array(z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])).max(8);
// The browser's credential JSON. Loose objects: browsers add fields (publicKey, authenticatorData, ...) the check does not need.
const credentialBase = {
  id: b64url(1400),
  rawId: b64url(1400),
  type: z.literal('public-key'),
  clientExtensionResults: z.looseObject({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
};

export const registrationVerifyBody = z.strictObject({
  credential: z.looseObject({
    ...credentialBase,
    response: z.looseObject({ clientDataJSON: b64url(4096), attestationObject: b64url(16384), transports: transports.optional() }),
  }),
  name: z.string().trim().min(1, 'is required').max(100).optional(),
});

export const authenticationOptionsBody = z.strictObject({ email: s.email.optional() });

export const authenticationVerifyBody = z.strictObject({
  credential: z.looseObject({
    ...credentialBase,
    response: z.looseObject({
      clientDataJSON: b64url(4096),
      authenticatorData: b64url(4096),
      signature: b64url(1024),
      userHandle: b64url(256).optional(),
    }),
  }),
});

const isoDate = z.iso.datetime({ offset: true });

export const passkeyView = z.object({
  id: z.string(),
  name: z.string().nullable(),
  deviceType: z.enum(['singleDevice', 'multiDevice']),
  backedUp: z.boolean(),
  transports: z.array(z.string()),
  createdAt: isoDate,
  lastUsedAt: isoDate.nullable(),
});

// What navigator.credentials.create()/get() take (as JSON; @simplewebauthn/browser decodes it).
const creationOptions = z.looseObject({ challenge: z.string(), rp: z.looseObject({ name: z.string() }), user: z.looseObject({ id: z.string(), name: z.string() }) });
const requestOptions = z.looseObject({ challenge: z.string() });

function view(p: PasskeyRecord): z.output<typeof passkeyView> {
  return {
    id: p.id,
    name: p.name,
    deviceType: p.deviceType,
    backedUp: p.backedUp,
    transports: p.transports,
    createdAt: new Date(p.createdAt).toISOString(),
    lastUsedAt: p.lastUsedAt === null ? null : new Date(p.lastUsedAt).toISOString(),
  };
}

/** Passkeys (WebAuthn): registering and listing them (Bearer), and signing in with one (answered as `cookies` says). */
export function passkeyEndpoints(passkeys: Passkeys, cookies: PairTransport = bodyTransport) {
  return [
    endpoint({
      method: 'post',
      path: '/passkeys/registration/options',
      summary: 'Options for navigator.credentials.create() to make a passkey for the signed-in user (challenge valid for a few minutes, once). Needs a recent sign-in (step-up)',
      auth: 'jwt',
      stepUp: true,
      responses: { 200: creationOptions, 403: r.problem },
      async handler({ auth }) {
        return { status: 200, body: await passkeys.registrationOptions(auth.userId) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/passkeys/registration/verify',
      summary: "Register the passkey the browser made (`credential`: its JSON, as @simplewebauthn/browser's startRegistration returns it). Needs a recent sign-in (step-up)",
      auth: 'jwt',
      stepUp: true,
      responses: { 201: passkeyView, 401: r.problem, 403: r.problem, 409: r.problem },
      body: registrationVerifyBody,
      async handler({ auth, body, client }) {
        const record = await passkeys.verifyRegistration(auth.userId, body.credential as unknown as RegistrationResponseJSON, body.name ?? null, client);
        return { status: 201, body: view(record) };
      },
    }),
    endpoint({
      method: 'get',
      path: '/passkeys',
      summary: "The signed-in user's passkeys",
      auth: 'jwt',
      responses: { 200: z.object({ passkeys: z.array(passkeyView) }) },
      async handler({ auth }) {
        return { status: 200, body: { passkeys: (await passkeys.list(auth.userId)).map(view) } };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/passkeys/:id',
      summary: 'Remove one of the signed-in user’s passkeys',
      auth: 'jwt',
      responses: { 204: null, 404: r.problem },
      params: s.apiKeyParams,
      async handler({ auth, params, client }) {
        await passkeys.remove(auth.userId, params.id, client);
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'post',
      path: '/passkeys/authentication/options',
      summary: "Options for navigator.credentials.get() to sign in with a passkey: with `email`, that account's passkeys; without, any discoverable one",
      auth: 'none',
      responses: { 200: requestOptions },
      body: authenticationOptionsBody,
      bodyOptional: true,
      async handler({ body }) {
        return { status: 200, body: await passkeys.authenticationOptions(body.email) };
      },
    }),
    endpoint({
      method: 'post',
      path: '/passkeys/authentication/verify',
      summary:
        'Sign in with the passkey assertion (`credential`: the JSON startAuthentication returns): a token pair, as POST /signin answers. With user verification it needs no TOTP step',
      auth: 'none',
      responses: {
        200: cookies.enabled ? r.tokenPairOrCookie : r.tokenPair,
        401: r.problem,
        403: cookies.enabled ? r.mfaRequiredOrProblem : r.mfaRequired,
        429: r.problem,
      },
      body: authenticationVerifyBody,
      documentedParameters: cookies.parameters(false),
      async handler({ body, req, client }) {
        const reply = cookies.replier(req);
        return signInReply(await passkeys.signIn(body.credential as unknown as AuthenticationResponseJSON, client), {}, reply);
      },
    }),
  ];
}
