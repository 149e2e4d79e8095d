import { z } from 'zod';
import type { Services } from '../../core/index.js';
import type { ListedSession } from '../../core/session-list.js';
import { endpoint } from '../endpoint.js';
import * as s from '../schemas.js';
import * as r from '../responses.js';

const isoDate = z.iso.datetime({ offset: true });

/** One session as GET /sessions lists it. */
export const sessionSchema = z.object({
  id: z.string(),
  createdAt: isoDate,
  lastUsedAt: isoDate,
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
  orgId: z.string().nullable(),
  appId: z.string().nullable(),
  current: z.boolean(),
});
r.metadata.add(sessionSchema, {
  id: 'Session',
  description:
    'A signed-in session (a refresh family, or an application sign-in). `userAgent` and `ip` are those of its latest sign-in, refresh or renewal; `current` marks the session of the token asking',
});

const sessionList = z.object({ sessions: z.array(sessionSchema) });

const sessionParams = z.strictObject({ id: s.id });

function sessionView(session: ListedSession): z.output<typeof sessionSchema> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: session.id,
    createdAt: iso(session.createdAt),
    lastUsedAt: iso(session.lastUsedAt),
    userAgent: session.userAgent,
    ip: session.ip,
    orgId: session.orgId,
    appId: session.appId,
    current: session.current,
  };
}

/** The signed-in user's sessions: list them, end one, or end all but the current one. */
export function sessionEndpoints(services: Services) {
  const { sessionList: list } = services;
  return [
    endpoint({
      method: 'get',
      path: '/sessions',
      summary: "The signed-in user's live sessions, most recently used first",
      auth: 'jwt',
      responses: { 200: sessionList },
      async handler({ auth }) {
        return { status: 200, body: { sessions: (await list.list(auth.userId, auth.sessionId)).map(sessionView) } };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/sessions/:id',
      summary: "End one of the user's sessions: its access and refresh tokens are refused at once (404 for an id that is not one of theirs)",
      auth: 'jwt',
      responses: { 204: null, 404: r.problem },
      params: sessionParams,
      async handler({ auth, params, client }) {
        await list.end(auth.userId, params.id, client);
        return { status: 204 };
      },
    }),
    endpoint({
      method: 'delete',
      path: '/sessions',
      summary: 'End every session of the user except the current one',
      auth: 'jwt',
      responses: { 204: null },
      async handler({ auth, client }) {
        await list.endOthers(auth.userId, auth.sessionId, client);
        return { status: 204 };
      },
    }),
  ];
}
