import type { Role } from '../ports.js';

/** Who made a request, as set on `req.auth` by `requireAuth()`. */
export interface AuthContext {
  userId: string;
  /** The org the credentials are scoped to; null for a user who has none yet. */
  orgId: string | null;
  role: Role | null;
  /** `jti` of the access token, or the API key's id. */
  tokenId: string;
  /** How the request authenticated. */
  via: 'jwt' | 'api_key';
  /** Set when `via` is 'api_key'. */
  apiKeyId?: string;
  /** The application a token is limited to, when sign-in was per application. */
  appId?: string;
  /** Refresh family (session) the access token belongs to. */
  sessionId: string | undefined;
  /** Epoch ms when the credentials stop working (Infinity for a key without expiry). */
  expiresAt: number;
  /**
   * Epoch seconds of the sign-in behind an access token (its `auth_time`), which step-up
   * routes compare with `stepUp.maxAge`. Absent for API keys and tokens that don't carry it.
   */
  authTime?: number;
  /**
   * The permissions the credential holds in its org (docs/permissions.md): set on routes
   * guarded with `requireAuth({ permissions })` (an empty list asks for none and only
   * resolves them). For an API key, its creator's within the key's subset or role.
   */
  permissions?: readonly string[];
  /** The permissions an API key was limited to at creation; absent for other credentials and keys without a subset. */
  apiKeyPermissions?: readonly string[];
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by gatehouse's `requireAuth()`. */
      auth?: AuthContext;
    }
  }
}
