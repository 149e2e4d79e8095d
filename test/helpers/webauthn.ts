import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * A software authenticator for HTTP tests: it makes ES256 passkeys ('none' attestation)
 * and signs assertions the way a browser plus platform authenticator would, so the
 * server's WebAuthn checks run for real without a browser.
 */

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  if (length < 0x10000) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(length, 1);
  return b;
}

function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64 = (bytes: Buffer) => bytes.toString('base64url');
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();

export interface SoftPasskey {
  credentialId: Buffer;
  privateKey: KeyObject;
  userHandle: string;
  counter: number;
}

export interface CeremonyOptions {
  origin?: string;
  rpId?: string;
  /** User verification (PIN, biometrics) done: the UV flag. Default true. */
  userVerified?: boolean;
  /** Overrides the challenge put in clientDataJSON. */
  challenge?: string;
}

export const FLAG_UP = 0x01;
export const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

function authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter);
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
}

/** Answers registration options (the JSON of POST /passkeys/registration/options) like navigator.credentials.create(). */
export function createPasskey(
  options: { challenge: string; rp: { id?: string }; user: { id: string } },
  at: CeremonyOptions = {},
): { passkey: SoftPasskey; credential: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const coseKey = cbor(
    new Map<Cbor, Cbor>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x ?? '', 'base64url')],
      [-3, Buffer.from(jwk.y ?? '', 'base64url')],
    ]),
  );
  const credentialId = randomBytes(16);
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(credentialId.length);
  const attested = Buffer.concat([Buffer.alloc(16), idLength, credentialId, coseKey]);
  const rpId = at.rpId ?? options.rp.id ?? 'localhost';
  const flags = FLAG_UP | (at.userVerified === false ? 0 : FLAG_UV) | FLAG_BE | FLAG_BS | FLAG_AT;
  const attestationObject = cbor(
    new Map<Cbor, Cbor>([
      ['fmt', 'none'],
      ['attStmt', new Map()],
      ['authData', authData(rpId, flags, 0, attested)],
    ]),
  );
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: at.challenge ?? options.challenge, origin: at.origin ?? 'http://localhost', crossOrigin: false }));
  return {
    passkey: { credentialId, privateKey, userHandle: options.user.id, counter: 0 },
    credential: {
      id: b64(credentialId),
      rawId: b64(credentialId),
      type: 'public-key',
      response: { clientDataJSON: b64(clientDataJSON), attestationObject: b64(attestationObject), transports: ['internal'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    },
  };
}

/** Answers authentication options like navigator.credentials.get() with `passkey` (its counter goes up by one). */
export function assertPasskey(passkey: SoftPasskey, options: { challenge: string; rpId?: string }, at: CeremonyOptions = {}): Record<string, unknown> {
  passkey.counter += 1;
  const rpId = at.rpId ?? options.rpId ?? 'localhost';
  const data = authData(rpId, FLAG_UP | (at.userVerified === false ? 0 : FLAG_UV) | FLAG_BE | FLAG_BS, passkey.counter);
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: at.challenge ?? options.challenge, origin: at.origin ?? 'http://localhost', crossOrigin: false }));
  const signature = sign('sha256', Buffer.concat([data, sha256(clientDataJSON)]), passkey.privateKey);
  return {
    id: b64(passkey.credentialId),
    rawId: b64(passkey.credentialId),
    type: 'public-key',
    response: { clientDataJSON: b64(clientDataJSON), authenticatorData: b64(data), signature: b64(signature), userHandle: passkey.userHandle },
    clientExtensionResults: {},
    authenticatorAttachment: 'platform',
  };
}
