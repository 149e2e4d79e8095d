import { z } from 'zod';
import type { Services } from '../../core/index.js';
import type { AuditEntry } from '../../ports.js';
import { endpoint } from '../endpoint.js';
import * as s from '../schemas.js';
import * as r from '../responses.js';

const instant = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }).transform((v) => Date.parse(v));

const auditQuery = z.strictObject({
  action: z.string().regex(/^[a-z][a-z0-9_.]{0,63}$/, 'must be an action name such as member.invited').optional(),
  actor: s.id.optional(),
  since: instant.optional(),
  until: instant.optional(),
  cursor: z.string().regex(/^[1-9][0-9]{0,15}$/, 'use the `next` of the previous page').optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  format: z.enum(['json', 'ndjson']).optional(),
});

/** The entry as answered: `at` as an ISO date-time (to the millisecond, so the hash can be recomputed from it). */
export function auditEntryView(entry: AuditEntry) {
  return { ...entry, at: new Date(entry.at).toISOString() };
}

async function* ndjson(entries: AsyncIterable<AuditEntry>): AsyncIterable<string> {
  for await (const entry of entries) yield `${JSON.stringify(auditEntryView(entry))}\n`;
}

/** An organization's audit log: reading it (owners and admins) and verifying its hash chain (owners). */
export function auditEndpoints(services: Services) {
  const { audit } = services;
  return [
    endpoint({
      method: 'get',
      path: '/orgs/:orgId/audit',
      summary:
        "The organization's audit log, newest first (owners and admins), filtered by `action`, `actor` (a user or API key id) and `since`/`until`, a page at a time (`cursor`: the previous page's `next`); `format=ndjson` streams every matching entry as application/x-ndjson instead",
      auth: 'jwt',
      responses: { 200: r.auditPage, 403: r.problem, 404: r.problem },
      params: s.orgParams,
      query: auditQuery,
      async handler({ auth, params, query }) {
        const filters = { action: query.action, actorId: query.actor, since: query.since, until: query.until };
        if (query.format === 'ndjson') {
          const entries = await audit.export(auth.userId, params.orgId, filters);
          return { status: 200, stream: { contentType: 'application/x-ndjson; charset=utf-8', chunks: ndjson(entries) } };
        }
        const page = await audit.list(auth.userId, params.orgId, { ...filters, cursor: query.cursor, limit: query.limit });
        return { status: 200, body: { entries: page.entries.map(auditEntryView), next: page.next } };
      },
    }),
    endpoint({
      method: 'get',
      path: '/me/audit',
      summary:
        'Your own account log, newest first: the events of no organization (password, email, MFA and passkey changes, other sessions ended), with the filters and paging of `/orgs/{orgId}/audit` (no export)',
      auth: 'jwt',
      responses: { 200: r.auditPage },
      query: auditQuery.omit({ format: true }),
      async handler({ auth, query }) {
        const page = await audit.listAccount(auth.userId, { action: query.action, actorId: query.actor, since: query.since, until: query.until, cursor: query.cursor, limit: query.limit });
        return { status: 200, body: { entries: page.entries.map(auditEntryView), next: page.next } };
      },
    }),
    endpoint({
      method: 'get',
      path: '/orgs/:orgId/audit/verify',
      summary: "Recompute the organization's audit hash chain from its checkpoint (owners): `{valid: true, checked}` or `{valid: false, brokenAt, entryId}`",
      auth: 'jwt',
      responses: { 200: r.auditVerification, 403: r.problem, 404: r.problem },
      params: s.orgParams,
      async handler({ auth, params }) {
        return { status: 200, body: await audit.verify(auth.userId, params.orgId) };
      },
    }),
  ];
}
