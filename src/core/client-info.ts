/** Who is asking, as far as the session list and the audit log show it: the client's IP and `User-Agent`. */
export interface ClientInfo {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

const USER_AGENT_MAX = 512;
const IP_MAX = 64;

/**
 * The client to record, cut to the stored sizes; none when the call has no client (a
 * service called from the host's own code rather than a request).
 *
 * The HTTP layer hands each handler its request's client, and the handler passes it to
 * every service call that records one. It was once carried implicitly (AsyncLocalStorage),
 * which on Node 20 and 22 turns on async hooks for the whole process: every promise and
 * callback of the host app paid for it (2.5 to 5 % of a refresh rotation's instructions).
 */
export function clientFields(client: ClientInfo | undefined): { userAgent: string | null; ip: string | null } {
  return {
    userAgent: client?.userAgent ? client.userAgent.slice(0, USER_AGENT_MAX) : null,
    ip: client?.ip ? client.ip.slice(0, IP_MAX) : null,
  };
}

/**
 * The client's IP address, for the per-IP throttles. Services take the request's client
 * and read the address from it; an address passed in its place (the services once took
 * `ip` and `client` side by side) is refused rather than leaving the throttle without one.
 */
export function ipOf(client: ClientInfo | undefined): string | undefined {
  if (typeof client === 'string') {
    throw new TypeError("pass the request's client ({ ip, userAgent }) rather than its IP address: the services read the address from it");
  }
  return client?.ip;
}

/**
 * The client as it is now, for a record written after the answer has gone: a request's
 * address can no longer be read once its connection has closed.
 */
export function clientNow(client: ClientInfo | undefined): ClientInfo | undefined {
  return client === undefined ? undefined : { ip: client.ip, userAgent: client.userAgent };
}
