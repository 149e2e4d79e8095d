/**
 * Checks a gatehouse webhook (Standard Webhooks) with WebCrypto only: browsers, Deno,
 * Cloudflare Workers, Bun and Node 20+. `body` is the raw request body, exactly as it
 * arrived: parse it only after the check, since the signature covers those bytes.
 */
export async function verifyWebhook(
  secret: string, // the whsec_… shown when the endpoint was registered
  headers: { id: string; timestamp: string; signature: string }, // webhook-id, webhook-timestamp, webhook-signature
  body: string,
): Promise<boolean> {
  try {
    const keyBytes = base64ToBytes(secret.replace(/^whsec_/, ''));
    const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    const signed = new TextEncoder().encode(`${headers.id}.${headers.timestamp}.${body}`);
    // The header may list several signatures, space-separated (`v1,<sig> v1,<sig>`).
    for (const entry of headers.signature.split(' ')) {
      const [version, signature] = entry.split(',');
      if (version !== 'v1' || !signature) continue;
      // subtle.verify compares in constant time.
      if (await crypto.subtle.verify('HMAC', key, base64ToBytes(signature), signed)) return true;
    }
    return false;
  } catch {
    return false; // a secret or signature that is not base64
  }
}

/** Refuse old requests too (replays): gatehouse signs each attempt with the time it is sent. */
export function isFresh(timestamp: string, toleranceSeconds = 300): boolean {
  return Math.abs(Date.now() / 1000 - Number(timestamp)) <= toleranceSeconds;
}

function base64ToBytes(text: string) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
