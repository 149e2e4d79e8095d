/** Every table the adapter owns, named once from the configured prefix. */
export interface TableNames {
  users: string;
  orgs: string;
  memberships: string;
  invitations: string;
  refreshTokens: string;
  revocations: string;
  apiKeys: string;
  totp: string;
  recoveryCodes: string;
  identities: string;
  applications: string;
  applicationGrants: string;
  rateLimits: string;
  usedTokens: string;
  mailTokens: string;
  instanceSettings: string;
  outbox: string;
  passkeys: string;
  jobLeases: string;
  auditLog: string;
  auditHeads: string;
  webhookEndpoints: string;
  webhookDeliveries: string;
  orgPolicies: string;
  orgRoles: string;
  migrations: string;
}

// Prefixes end up inside index names too; PostgreSQL truncates identifiers at 63
// bytes, so a long or exotic prefix would fail in ways that are hard to trace.
const PREFIX_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,29}$|^$/;

export function tableNames(prefix: string): TableNames {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new TypeError(
      `invalid tablePrefix ${JSON.stringify(prefix)}: use up to 30 letters, digits or underscores, not starting with a digit`,
    );
  }
  return {
    users: `${prefix}users`,
    orgs: `${prefix}orgs`,
    memberships: `${prefix}memberships`,
    invitations: `${prefix}invitations`,
    refreshTokens: `${prefix}refresh_tokens`,
    revocations: `${prefix}revocations`,
    apiKeys: `${prefix}api_keys`,
    totp: `${prefix}mfa_totp`,
    recoveryCodes: `${prefix}mfa_recovery_codes`,
    identities: `${prefix}identities`,
    applications: `${prefix}applications`,
    applicationGrants: `${prefix}application_grants`,
    rateLimits: `${prefix}rate_limits`,
    usedTokens: `${prefix}used_tokens`,
    mailTokens: `${prefix}mail_tokens`,
    instanceSettings: `${prefix}instance_settings`,
    outbox: `${prefix}mail_outbox`,
    passkeys: `${prefix}passkeys`,
    jobLeases: `${prefix}job_leases`,
    auditLog: `${prefix}audit_log`,
    auditHeads: `${prefix}audit_heads`,
    webhookEndpoints: `${prefix}webhook_endpoints`,
    webhookDeliveries: `${prefix}webhook_deliveries`,
    orgPolicies: `${prefix}org_policies`,
    orgRoles: `${prefix}org_roles`,
    // knex names the lock table `${tableName}_lock`, i.e. `${prefix}migrations_lock`.
    migrations: `${prefix}migrations`,
  };
}
