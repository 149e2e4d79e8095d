import type { Knex } from 'knex';
import type { Repositories } from '../../../src/ports.js';
import type { TableNames } from '../tables.js';
import { apiKeyRepository } from './api-keys.js';
import { identityRepository } from './identities.js';
import { applicationRepository } from './applications.js';
import { invitationRepository } from './invitations.js';
import { mfaRepository } from './mfa.js';
import { membershipRepository } from './memberships.js';
import { orgRepository } from './orgs.js';
import { refreshTokenRepository } from './refresh-tokens.js';
import { revocationRepository } from './revocations.js';
import { usedTokenRepository } from './used-tokens.js';
import { mailTokenRepository } from './mail-tokens.js';
import { outboxRepository } from './outbox.js';
import { passkeyRepository } from './passkeys.js';
import { webhookRepository } from './webhooks.js';
import { auditRepository } from './audit.js';
import { orgPolicyRepository } from './org-policies.js';
import { orgRoleRepository } from './org-roles.js';
import { userRepository } from './users.js';

/** Repositories running their queries on `db`, which may be a transaction. */
export function createRepositories(db: Knex, tables: TableNames): Repositories {
  return {
    users: userRepository(db, tables),
    orgs: orgRepository(db, tables),
    memberships: membershipRepository(db, tables),
    invitations: invitationRepository(db, tables),
    refreshTokens: refreshTokenRepository(db, tables),
    revocations: revocationRepository(db, tables),
    apiKeys: apiKeyRepository(db, tables),
    mfa: mfaRepository(db, tables),
    identities: identityRepository(db, tables),
    applications: applicationRepository(db, tables),
    usedTokens: usedTokenRepository(db, tables),
    mailTokens: mailTokenRepository(db, tables),
    outbox: outboxRepository(db, tables),
    passkeys: passkeyRepository(db, tables),
    webhooks: webhookRepository(db, tables),
    audit: auditRepository(db, tables),
    orgPolicies: orgPolicyRepository(db, tables),
    orgRoles: orgRoleRepository(db, tables),
  };
}
