import type { Request } from 'express';
import type { ClientInfo } from '../core/client-info.js';

/**
 * The client of a request, read only when a session or an audit entry records it: `req.ip`
 * (proxy-addr walking X-Forwarded-For by the trust setting) costs a few µs on routes that
 * never ask.
 */
export class RequestClient implements ClientInfo {
  constructor(private readonly req: Request) {}
  get ip(): string | undefined {
    return this.req.ip;
  }
  get userAgent(): string | undefined {
    return this.req.get('user-agent');
  }
}
