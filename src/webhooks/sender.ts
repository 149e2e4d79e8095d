import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from './addresses.js';

/** What one attempt came to: delivered on a 2xx; otherwise the status (if any) and why. */
export interface AttemptResult {
  delivered: boolean;
  statusCode: number | null;
  error: string | null;
}

export interface SendOptions {
  timeoutMs: number;
  /** Resolve the host now and refuse private addresses (production), then connect to the address checked. */
  blockPrivateAddresses: boolean;
}

/** Errors as stored in the delivery log: the code and message only (never headers or the body). */
function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`;
  }
  return String(err);
}

/**
 * The one address a delivery may connect to, or the reason it may not. All addresses the
 * name resolves to must be public: otherwise a name with one public and one private
 * address could be steered to the private one.
 */
async function checkedAddress(hostname: string): Promise<{ address: string; family: number } | string> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const version = isIP(host);
  const addresses = version !== 0 ? [{ address: host, family: version }] : await dnsLookup(host, { all: true, verbatim: true });
  const refused = addresses.find((a) => !isPublicAddress(a.address));
  if (addresses.length === 0) return `${host} has no address`;
  if (refused) return `refused: ${host} resolves to ${refused.address}, a private, loopback or link-local address`;
  return addresses[0] as { address: string; family: number };
}

/** A `lookup` that answers with the address already checked, so the connection cannot land anywhere else (no second resolution). */
export function pinnedLookup(pinned: { address: string; family: number }): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (err: null, address: unknown, family?: number) => void) => {
    if (options.all) callback(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  }) as LookupFunction;
}

/** POSTs one signed webhook. Never throws: every failure is an AttemptResult. */
export async function postWebhook(target: string, body: string, headers: Record<string, string>, options: SendOptions): Promise<AttemptResult> {
  const url = new URL(target);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<AttemptResult>((resolve) => {
    timer = setTimeout(() => resolve({ delivered: false, statusCode: null, error: `timed out after ${options.timeoutMs} ms` }), options.timeoutMs);
  });
  let request: http.ClientRequest | undefined;
  let over = false;
  const attempt = (async (): Promise<AttemptResult> => {
    let lookup: LookupFunction | undefined;
    if (options.blockPrivateAddresses) {
      const checked = await checkedAddress(url.hostname);
      if (typeof checked === 'string') return { delivered: false, statusCode: null, error: checked };
      lookup = pinnedLookup(checked);
    }
    // The name took the whole timeout to resolve: the attempt is over, send nothing late.
    if (over) return { delivered: false, statusCode: null, error: 'timed out' };
    return new Promise<AttemptResult>((resolve) => {
      const send = url.protocol === 'http:' ? http.request : https.request;
      request = send(url, {
        method: 'POST',
        // A fresh connection per attempt: a pooled one could have been opened to an address checked earlier.
        agent: false,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        ...(lookup ? { lookup } : {}),
      });
      request.on('response', (res) => {
        const statusCode = res.statusCode ?? 0;
        // The body is not read: only the status counts, and a receiver cannot make us wait on it.
        res.destroy();
        const delivered = statusCode >= 200 && statusCode < 300;
        resolve({ delivered, statusCode, error: delivered ? null : `HTTP ${statusCode}` });
      });
      request.on('error', (err) => resolve({ delivered: false, statusCode: null, error: describe(err) }));
      request.end(body);
    });
  })().catch((err: unknown): AttemptResult => ({ delivered: false, statusCode: null, error: describe(err) }));
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    over = true;
    clearTimeout(timer);
    request?.destroy();
  }
}
