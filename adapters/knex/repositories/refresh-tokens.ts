import type { Knex } from 'knex';
import type { NewRefreshToken, RefreshTokenRepository, Role, SessionRecord } from '../../../src/ports.js';
import { fromRefreshTokenRow, toNumber, toRefreshTokenRow, type RefreshTokenRow } from '../rows.js';
import { deleteRows } from '../purge.js';
import type { TableNames } from '../tables.js';
import { quoted, sqliteStatements } from '../sqlite-statements.js';
import { isPostgres } from '../dialect.js';

const COLUMNS = ['id_hash', 'family_id', 'user_id', 'org_id', 'expires_at', 'family_expires_at', 'created_at', 'used_at', 'revoked_at', 'app_id', 'user_agent', 'ip', 'last_used_at', 'method'] as const;
type FamilyEnd = { familyId: string; familyExpiresAt: number };
type Big = number | string;
/** What a session takes from all of its family's rows; the rest comes from the newest. */
type FamilyTotals = { family_id: string; created_at: Big; family_expires_at: Big; revoked_at: Big | null };

function sessionOf(newest: RefreshTokenRow, totals: FamilyTotals): SessionRecord {
  const token = fromRefreshTokenRow(newest);
  return {
    id: token.familyId,
    userId: token.userId,
    orgId: token.orgId,
    appId: token.appId,
    createdAt: toNumber(totals.created_at),
    lastUsedAt: Math.max(token.createdAt, token.lastUsedAt ?? 0),
    userAgent: token.userAgent,
    ip: token.ip,
    expiresAt: toNumber(totals.family_expires_at),
    revoked: totals.revoked_at !== null,
    ...(token.method == null ? {} : { method: token.method }),
  };
}

export function refreshTokenRepository(db: Knex, t: TableNames): RefreshTokenRepository {
  // A rotation's statements, straight on better-sqlite3 (see sqlite-statements.ts).
  const fast = sqliteStatements(db);
  const table = quoted(t.refreshTokens);
  // A token's session began when its family's first token was issued: a rotation hands the
  // start on from any stored token of the family (one row through the family index, not
  // an aggregate over the family's rows, which grow with every rotation), a family whose
  // tokens a version before the column wrote takes its first token's createdAt, and a new
  // family begins at the new token's. The parameters: the family id twice, that createdAt
  // (with PostgreSQL's casts where a bare parameter would be text).
  const sessionStart = (id = '', ms = '') =>
    `coalesce((select "session_created_at" from ${table} where "family_id" = ?${id} and "session_created_at" is not null limit 1), (select min("created_at") from ${table} where "family_id" = ?${id}), ?${ms})`;
  // A consumed row comes back without its successor: the caller gave it (no copy of a long string per rotation).
  const returning = `returning ${COLUMNS.map(quoted).join(', ')}`;
  const sql = {
    find: `select * from ${table} where "id_hash" = ? limit 1`,
    insert: `insert into ${table} (${COLUMNS.map(quoted).join(', ')}, "session_created_at") values (${COLUMNS.map(() => '?').join(', ')}, ${sessionStart()})`,
    consume: `update ${table} set "used_at" = ? where "id_hash" = ? and "used_at" is null and "revoked_at" is null and "expires_at" > ? ${returning}`,
    rotate: `update ${table} set "used_at" = ?, "successor" = ? where "id_hash" = ? and "used_at" is null and "revoked_at" is null and "expires_at" > ? ${returning}`,
    remove: `delete from ${table} where "id_hash" = ?`,
    // The token and its user's role in its org, one read: a rotation needs both.
    findForRotation: `select t.*, m."role" as "membership_role" from ${table} t left join ${quoted(t.memberships)} m on m."user_id" = t."user_id" and m."org_id" = t."org_id" where t."id_hash" = ? limit 1`,
  };

  const find = async (idHash: string) => {
    const row = fast
      ? await fast.get<RefreshTokenRow>(sql.find, [idHash])
      : await db<RefreshTokenRow>(t.refreshTokens).where({ id_hash: idHash }).first();
    return row ? fromRefreshTokenRow(row) : null;
  };

  /**
   * One conditional UPDATE, never read-then-write: of concurrent callers the database
   * lets exactly one match, which is what makes reuse detectable. `successor` goes in
   * the same statement, so whoever sees the token used sees its successor too.
   */
  async function consumeWith(idHash: string, now: number, successor: string | null) {
    if (fast) {
      // The same conditional UPDATE, returning the row in the same statement.
      const row =
        successor === null
          ? await fast.writeGet<RefreshTokenRow>(sql.consume, [now, idHash, now])
          : await fast.writeGet<RefreshTokenRow>(sql.rotate, [now, successor, idHash, now]);
      return row ? consumedRecord(row, successor) : null;
    }
    return (await spend(db, idHash, now, successor)) === 1 ? find(idHash) : null;
  }

  /** The record of a token this call consumed, read without its successor: `successor` is what the call stored. */
  function consumedRecord(row: RefreshTokenRow, successor: string | null) {
    const record = fromRefreshTokenRow(row);
    // A token is consumed once, so the only successor its row can have is this call's.
    if (successor) record.successor = successor;
    return record;
  }

  /** The conditional UPDATE that spends a token (storing its successor when given): 1 when this call won. */
  function spend(q: Knex, idHash: string, now: number, successor: string | null): Promise<number> {
    return q(t.refreshTokens)
      .where({ id_hash: idHash })
      .whereNull('used_at')
      .whereNull('revoked_at')
      .where('expires_at', '>', now)
      .update(successor === null ? { used_at: now } : { used_at: now, successor });
  }

  const rowOf = (token: NewRefreshToken): RefreshTokenRow =>
    toRefreshTokenRow({ ...token, appId: token.appId ?? null, userAgent: token.userAgent ?? null, ip: token.ip ?? null, lastUsedAt: null, usedAt: null, revokedAt: null });
  /** A new token's row as statement parameters, in COLUMNS order, then those of its session's start (built directly: a rotation makes one). */
  const valuesOf = (token: NewRefreshToken): Array<string | number | null> => [
    token.idHash,
    token.familyId,
    token.userId,
    token.orgId,
    token.expiresAt,
    token.familyExpiresAt,
    token.createdAt,
    null,
    null,
    token.appId ?? null,
    token.userAgent ?? null,
    token.ip ?? null,
    null,
    token.method ?? null,
    token.familyId,
    token.familyId,
    token.createdAt,
  ];

  // PostgreSQL: the consume and the insert of its successor in one statement (one round
  // trip, atomic); the insert takes its one row from what the UPDATE matched, so a loser
  // inserts nothing. Casts, as a bare parameter in a SELECT list would be text.
  const BIGINT_COLUMNS = new Set<string>(['expires_at', 'family_expires_at', 'created_at', 'used_at', 'revoked_at', 'last_used_at']);
  const pgReplace = `with consumed as (update ?? set "used_at" = ?, "successor" = coalesce(?, "successor") where "id_hash" = ? and "used_at" is null and "revoked_at" is null and "expires_at" > ? returning *),
    added as (insert into ?? (${COLUMNS.map(quoted).join(', ')}, "session_created_at") select ${COLUMNS.map((c) => (BIGINT_COLUMNS.has(c) ? '?::bigint' : '?::text')).join(', ')}, ${sessionStart('::text', '::bigint')} from consumed)
    select * from consumed`;

  /** Consumes `idHash` (storing `successor` when given) and, only if that won, inserts `next`: all or nothing. */
  async function replaceWith(idHash: string, now: number, successor: string | null, next: NewRefreshToken) {
    const values = valuesOf(next);
    if (fast) {
      // Insert first: a failed insert leaves nothing behind (each statement is all or
      // nothing), and what a lost or failed consume leaves is deleted in the same
      // transaction, so no one ever sees it.
      const won = await fast.writeSteps((run) => {
        run.run(sql.insert, values);
        let consumed: RefreshTokenRow | undefined;
        try {
          consumed = successor === null ? run.get<RefreshTokenRow>(sql.consume, [now, idHash, now]) : run.get<RefreshTokenRow>(sql.rotate, [now, successor, idHash, now]);
        } finally {
          if (!consumed) run.run(sql.remove, [next.idHash]);
        }
        return consumed;
      });
      return won ? consumedRecord(won, successor) : null;
    }
    if (isPostgres(db)) {
      const result = (await db.raw(pgReplace, [t.refreshTokens, now, successor, idHash, now, t.refreshTokens, ...values])) as { rows: RefreshTokenRow[] };
      const won = result.rows[0];
      return won ? fromRefreshTokenRow(won) : null;
    }
    throw new Error('replace is only offered on better-sqlite3 and PostgreSQL');
  }

  async function findForRotation(idHash: string) {
    let row: (RefreshTokenRow & { membership_role: string | null; session_created_at?: number | string | null }) | undefined;
    if (fast) row = await fast.get(sql.findForRotation, [idHash]);
    else if (isPostgres(db)) {
      // The same statement with knex's placeholders (?? would be an identifier).
      const result = (await db.raw(sql.findForRotation, [idHash])) as { rows: Array<NonNullable<typeof row>> };
      row = result.rows[0];
    } else throw new Error('findForRotation is only offered on better-sqlite3 and PostgreSQL');
    if (!row) return null;
    const token = fromRefreshTokenRow(row);
    const role = (row.org_id === null ? null : row.membership_role) as Role | null;
    // Tokens a version before migration 022 wrote have no start: findSession then works it out.
    return row.session_created_at == null ? { token, role } : { token, role, sessionStartedAt: toNumber(row.session_created_at) };
  }

  /** Revokes the families with a live token among the rows `select` narrows to. */
  async function revokeLiveFamilies(now: number, select: (query: Knex.QueryBuilder) => void): Promise<FamilyEnd[]> {
    const query = db(t.refreshTokens)
      .whereNull('revoked_at')
      .where('family_expires_at', '>', now)
      .groupBy('family_id')
      .select('family_id')
      .max({ family_expires_at: 'family_expires_at' })
      .orderBy('family_id');
    select(query);
    const families = (await query) as Array<{ family_id: string; family_expires_at: number | string }>;
    if (families.length === 0) return [];
    // A token rotated into one of these families meanwhile is caught too: the
    // UPDATE selects by family, not by the rows read above.
    await db(t.refreshTokens)
      .whereIn(
        'family_id',
        families.map((f) => f.family_id),
      )
      .whereNull('revoked_at')
      .update({ revoked_at: now });
    return families.map((f) => ({ familyId: f.family_id, familyExpiresAt: toNumber(f.family_expires_at) }));
  }

  /** Per family: the sign-in (first row), the end, and whether any row was revoked. */
  async function familyTotals(familyIds: string[]): Promise<Map<string, FamilyTotals>> {
    const rows = (await db(t.refreshTokens)
      .whereIn('family_id', familyIds)
      .groupBy('family_id')
      .select('family_id')
      .select(db.raw('min(coalesce(??, ??)) as ??', ['session_created_at', 'created_at', 'created_at']))
      .max({ family_expires_at: 'family_expires_at' })
      .max({ revoked_at: 'revoked_at' })) as FamilyTotals[];
    return new Map(rows.map((row) => [row.family_id, row]));
  }

  return {
    async insert(token) {
      if (fast) await fast.write(sql.insert, valuesOf(token));
      else await db(t.refreshTokens).insert({ ...rowOf(token), session_created_at: db.raw(sessionStart(), [token.familyId, token.familyId, token.createdAt]) });
    },

    find,

    consume(idHash, now) {
      return consumeWith(idHash, now, null);
    },

    rotate(idHash, now, successor) {
      return consumeWith(idHash, now, successor);
    },

    // Elsewhere (another driver, a repository inside a transaction) rotation takes the port's two-call path.
    ...(fast || isPostgres(db) ? { replace: replaceWith, findForRotation } : {}),

    async revokeFamily(familyId, now) {
      return db(t.refreshTokens).where({ family_id: familyId }).whereNull('revoked_at').update({ revoked_at: now });
    },

    async familyExpiresAt(familyId) {
      const row = (await db(t.refreshTokens).where({ family_id: familyId }).max({ family_expires_at: 'family_expires_at' }).first()) as
        | { family_expires_at: number | string | null }
        | undefined;
      return row?.family_expires_at == null ? null : toNumber(row.family_expires_at);
    },

    async listLiveSessions(userId, now) {
      // A live family has one unused token (two for the moment of a rotation): the newest
      // of them names the session's client.
      const live = await db<RefreshTokenRow>(t.refreshTokens)
        .where({ user_id: userId })
        .whereNull('used_at')
        .whereNull('revoked_at')
        .where('expires_at', '>', now)
        .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id_hash' }]);
      const newest = new Map<string, RefreshTokenRow>();
      for (const row of live) if (!newest.has(row.family_id)) newest.set(row.family_id, row);
      if (newest.size === 0) return [];
      const totals = await familyTotals([...newest.keys()]);
      const sessions: SessionRecord[] = [];
      for (const [familyId, row] of newest) {
        const total = totals.get(familyId);
        // A token written into a family just revoked does not bring the session back.
        if (total && total.revoked_at === null) sessions.push(sessionOf(row, total));
      }
      return sessions.sort((a, b) => b.lastUsedAt - a.lastUsedAt || a.id.localeCompare(b.id));
    },

    async findSession(familyId) {
      const newest = await db<RefreshTokenRow>(t.refreshTokens)
        .where({ family_id: familyId })
        .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id_hash' }])
        .first();
      if (!newest) return null;
      const total = (await familyTotals([familyId])).get(familyId);
      return total ? sessionOf(newest, total) : null;
    },

    async touch(idHash, now, client) {
      await db(t.refreshTokens)
        .where({ id_hash: idHash })
        .update({ last_used_at: now, ...(client.userAgent === null ? {} : { user_agent: client.userAgent }), ...(client.ip === null ? {} : { ip: client.ip }) });
    },

    async revokeFamiliesOfOrg(orgId, now, filter = {}) {
      return revokeLiveFamilies(now, (query) => {
        query.where({ org_id: orgId });
        const { methodsNotIn, startedBefore, userIds } = filter;
        // Rows of one family share its method: a row filter is a family filter.
        if (methodsNotIn !== undefined) query.where((q) => void q.whereNull('method').orWhereNotIn('method', methodsNotIn));
        if (userIds !== undefined) query.whereIn('user_id', userIds);
        // A family began when its first token was issued: each of its tokens carries that start.
        if (startedBefore !== undefined) query.havingRaw('min(coalesce(??, ??)) < ?', ['session_created_at', 'created_at', startedBefore]);
      });
    },

    async revokeFamiliesOfUser(userId, now, filter = {}) {
      return revokeLiveFamilies(now, (query) => {
        query.where({ user_id: userId });
        if (filter.orgId !== undefined) query.where({ org_id: filter.orgId });
        if (filter.exceptFamilyId !== undefined) query.whereNot({ family_id: filter.exceptFamilyId });
        if (filter.appsOnly === true) query.whereNotNull('app_id');
      });
    },

    async revokeFamiliesOfApp(appId, now, filter = {}) {
      return revokeLiveFamilies(now, (query) => {
        query.where({ app_id: appId });
        if (filter.userId !== undefined) query.where({ user_id: filter.userId });
      });
    },

    async purgeExpired(now, limit) {
      // A token past its own expiry can never be presented again (never past its family's end either).
      return deleteRows(db, t.refreshTokens, 'id_hash', (q) => q.where('expires_at', '<=', now), limit);
    },
  };
}
