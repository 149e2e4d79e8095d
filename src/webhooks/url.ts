import { isIP } from 'node:net';
import { AuthError } from '../errors.js';
import { isLoopbackHost, isPublicAddress } from './addresses.js';

export const MAX_WEBHOOK_URL = 2048;

const refuse = (message: string): never => {
  throw new AuthError('invalid_webhook_url', `invalid webhook URL: ${message}`, { errors: [{ path: 'url', message }] });
};

/**
 * Checks an endpoint URL when it is registered or changed: https, or http to this
 * machine when `allowInsecureLoopback`; no credentials in it; with
 * `blockPrivateAddresses`, no IP literal that delivery would refuse anyway. Host names
 * are resolved and checked again at every send (they may change meanwhile). Returns the
 * normalized URL.
 */
export function checkWebhookUrl(value: string, rules: { allowInsecureLoopback: boolean; blockPrivateAddresses: boolean }): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return refuse('not an absolute URL');
  }
  if (url.protocol === 'http:') {
    if (!rules.allowInsecureLoopback || !isLoopbackHost(url.hostname)) return refuse('must use https (http only to localhost in development)');
  } else if (url.protocol !== 'https:') {
    return refuse('must use https');
  }
  // Credentials in a URL end up in logs and the endpoint list; the receiver checks the signature instead.
  if (url.username !== '' || url.password !== '') return refuse('must not contain a user name or password');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (rules.blockPrivateAddresses && isIP(host) !== 0 && !isPublicAddress(host)) return refuse('must not point to a private, loopback or link-local address');
  url.hash = '';
  const normalized = url.toString();
  if (normalized.length > MAX_WEBHOOK_URL) return refuse(`must be at most ${MAX_WEBHOOK_URL} characters`);
  return normalized;
}
