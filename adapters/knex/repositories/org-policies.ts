import type { Knex } from 'knex';
import type { OrgPolicyRecord, OrgPolicyRepository } from '../../../src/ports.js';
import type { TableNames } from '../tables.js';

interface OrgPolicyRow {
  org_id: string;
  // SQLite answers booleans as 0/1.
  require_mfa: boolean | number;
  allowed_sign_in_methods: string | null;
  max_session_age: number | null;
  api_key_max_lifetime: number | null;
  // bigint: a number from SQLite, a string from PostgreSQL.
  updated_at: number | string;
}

/** The stored method list, checked on read: anything but an array of strings is a corrupt row, not a policy. */
function methodsOf(json: string | null, orgId: string): string[] | null {
  if (json === null) return null;
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((m) => typeof m === 'string')) throw new Error(`the stored sign-in methods of org ${orgId} are not a list of names`);
  return parsed as string[];
}

export function orgPolicyRepository(db: Knex, t: TableNames): OrgPolicyRepository {
  return {
    async find(orgId) {
      const row = (await db(t.orgPolicies).where({ org_id: orgId }).first()) as OrgPolicyRow | undefined;
      if (!row) return null;
      return {
        orgId: row.org_id,
        requireMfa: Boolean(row.require_mfa),
        allowedSignInMethods: methodsOf(row.allowed_sign_in_methods, row.org_id),
        maxSessionAge: row.max_session_age === null ? null : Number(row.max_session_age),
        apiKeyMaxLifetime: row.api_key_max_lifetime === null ? null : Number(row.api_key_max_lifetime),
        updatedAt: Number(row.updated_at),
      } satisfies OrgPolicyRecord;
    },

    async save(policy) {
      const row = {
        org_id: policy.orgId,
        require_mfa: policy.requireMfa,
        allowed_sign_in_methods: policy.allowedSignInMethods === null ? null : JSON.stringify(policy.allowedSignInMethods),
        max_session_age: policy.maxSessionAge,
        api_key_max_lifetime: policy.apiKeyMaxLifetime,
        updated_at: policy.updatedAt,
      };
      await db(t.orgPolicies).insert(row).onConflict('org_id').merge();
    },
  };
}
