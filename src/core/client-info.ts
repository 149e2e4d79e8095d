import { AsyncLocalStorage } from 'node:async_hooks';

/** Who is asking, as far as the session list shows it: the client's IP and `User-Agent`. */
export interface ClientInfo {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

const USER_AGENT_MAX = 512;
const IP_MAX = 64;

const current = new AsyncLocalStorage<ClientInfo>();

/**
 * Runs `fn` with `client` as the ambient client: every session started or refreshed
 * inside it records that client unless the call names one. The HTTP layer wraps each
 * handler in it, so every path that starts a session (sign-in, the MFA step, Google,
 * presets, switching org) records its client without each service passing it along.
 */
export function withClient<T>(client: ClientInfo, fn: () => T): T {
  return current.run(client, fn);
}

/** The client to record: `explicit` when given, else the ambient one; cut to the stored sizes. */
export function clientFields(explicit?: ClientInfo): { userAgent: string | null; ip: string | null } {
  const client = explicit ?? current.getStore() ?? {};
  return {
    userAgent: client.userAgent ? client.userAgent.slice(0, USER_AGENT_MAX) : null,
    ip: client.ip ? client.ip.slice(0, IP_MAX) : null,
  };
}
