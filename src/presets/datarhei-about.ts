import { z } from 'zod';
import { isAuthError } from '../errors.js';
import { bearerToken } from '../http/bearer.js';
import { endpoint } from '../http/endpoint.js';
import type { PresetContext } from './types.js';
import { packageVersion } from '../version.js';

/**
 * The Core version `GET /api` reports by default. The preset exists so that datarhei's
 * Restreamer UI can log in, and the UI refuses a Core outside the range in its
 * src/version.js (`^16.11.0` in restreamer-ui 1.14): it then shows "incompatible core"
 * instead of its views. 16.16.0 is the newest Core release in that range.
 */
export const DEFAULT_CORE_VERSION = '16.16.0';

export interface DatarheiOptions {
  /**
   * `version.number` of `GET /api`, `major.minor.patch`. Default DEFAULT_CORE_VERSION.
   * Set it to what the clients you serve accept; anonymous callers see `<major>.0.0`, as from Core.
   */
  coreVersion?: string;
  /** `name` of `GET /api`. Default 'gatehouse'. */
  name?: string;
  /** `id` of `GET /api`. Default a UUID stored once per installation (storage `settings`). */
  id?: string;
  /**
   * The Auth0 application the Restreamer UI logs in with: listed in `auths` as Core does
   * (`auth0 domain=… audience=… clientid=…`), which is the only form the UI offers as an
   * Auth0 login. Pair it with an `externalIssuers` entry for the same tenant and audience.
   * Without it, an external issuer is listed as a bare `auth0`, which the UI ignores.
   */
  auth0?: { domain: string; audience: string; clientId: string };
}

export interface AboutSettings {
  coreVersion: string;
  name: string;
  id: string | undefined;
  auth0: { domain: string; audience: string; clientId: string } | undefined;
}

// The UI splits the entry on spaces and each pair on '=': values with either would not survive.
const AUTHS_VALUE = /^[^\s=]{1,500}$/;

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export function resolveAboutOptions(options: DatarheiOptions): AboutSettings {
  const { coreVersion = DEFAULT_CORE_VERSION, name = 'gatehouse', id, auth0 } = options;
  if (typeof coreVersion !== 'string' || !SEMVER.test(coreVersion)) {
    throw new TypeError(`datarhei({ coreVersion }) must be a version like "${DEFAULT_CORE_VERSION}" (major.minor.patch), got ${JSON.stringify(coreVersion)}`);
  }
  if (typeof name !== 'string' || name.length > 200) throw new TypeError('datarhei({ name }) must be a string of at most 200 characters');
  if (id !== undefined && (typeof id !== 'string' || id.trim() === '' || id.length > 200)) {
    throw new TypeError('datarhei({ id }) must be a non-empty string of at most 200 characters; leave it out for a stored UUID');
  }
  if (auth0 !== undefined) {
    const values = [auth0?.domain, auth0?.audience, auth0?.clientId];
    if (!values.every((v) => typeof v === 'string' && AUTHS_VALUE.test(v))) {
      throw new TypeError('datarhei({ auth0 }) needs domain, audience and clientId: non-empty strings without spaces or "="');
    }
  }
  return { coreVersion, name, id, auth0 };
}

// Go's GOOS/GOARCH, as Core reports `arch` (e.g. "linux/amd64").
const GO_ARCH: Partial<Record<string, string>> = { x64: 'amd64', ia32: '386' };
const GO_OS: Partial<Record<string, string>> = { win32: 'windows' };
const arch = `${GO_OS[process.platform] ?? process.platform}/${GO_ARCH[process.arch] ?? process.arch}`;

/** RFC 3339 in whole seconds, as Go's time.RFC3339 writes it: the UI's parser misreads fractions. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Core's api.MinimalAbout: what anyone may know. */
const minimalAbout = z.object({ app: z.literal('datarhei-core'), auths: z.array(z.string()), version: z.object({ number: z.string() }) });

/** Core's api.About (http/api/about.go): `created_at` and `build_date` RFC 3339, `uptime_seconds` whole seconds. */
const fullAbout = z.object({
  app: z.literal('datarhei-core'),
  auths: z.array(z.string()),
  name: z.string(),
  id: z.string(),
  created_at: z.string(),
  uptime_seconds: z.number().int(),
  version: z.object({
    number: z.string(),
    repository_commit: z.string(),
    repository_branch: z.string(),
    build_date: z.string(),
    arch: z.string(),
    compiler: z.string(),
  }),
});

/**
 * Core's `GET /api`. With a valid access token: the full "about" (Core's api.About), which
 * the Restreamer UI reads after login and refuses without a non-empty `id` or with a
 * `version.number` outside its range. Without one, or with a bad one: Core's MinimalAbout,
 * how to log in (`auths`) and the major version only.
 */
export function aboutEndpoint(ctx: PresetContext, settings: AboutSettings) {
  const { sessions, instance } = ctx.services;
  const major = settings.coreVersion.split('.')[0] as string;
  const { auth0 } = settings;
  const auth0Entries = auth0
    ? [`auth0 domain=${auth0.domain} audience=${auth0.audience} clientid=${auth0.clientId}`]
    : ctx.features.externalIssuers
      ? ['auth0']
      : [];
  return endpoint({
    method: 'get',
    path: '/api',
    summary: 'What this API is and how to log in (`auths`); with a valid access token, the instance id, name, start and version',
    auth: 'none',
    responses: { 200: z.union([fullAbout, minimalAbout]) },
    async handler({ req }) {
      const auths = ['localjwt', ...auth0Entries];
      const minimal: z.output<typeof minimalAbout> = { app: 'datarhei-core', auths, version: { number: `${major}.0.0` } };
      const anonymous = { status: 200, body: minimal };
      const token = bearerToken(req);
      if (token === undefined) return anonymous;
      try {
        await sessions.verifyAccess(token);
      } catch (err) {
        // As Core: a missing, bad or expired token gets the anonymous answer, not a 401.
        if (isAuthError(err) && err.status === 401) return anonymous;
        throw err;
      }
      const { id, createdAt } = await instance.identity();
      const full: z.output<typeof fullAbout> = {
        app: 'datarhei-core',
        auths,
        name: settings.name,
        id: settings.id ?? id,
        created_at: rfc3339(createdAt),
        uptime_seconds: instance.uptimeSeconds(),
        version: {
          number: settings.coreVersion,
          // Core fills these in at build time; gatehouse is not a Core build.
          repository_commit: '',
          repository_branch: '',
          build_date: '',
          arch,
          compiler: `gatehouse/${packageVersion} node/${process.versions.node}`,
        },
      };
      return { status: 200, body: full };
    },
  });
}
