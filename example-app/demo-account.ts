import type { AuthRouter, StorageAdapter } from 'gatehouse-auth';

export interface DemoAccount {
  email: string;
  username?: string;
  password: string;
  /** Registers an application at this URL (for per-application sign-in) and gives the account access. */
  appUrl?: string;
}

/**
 * Creates the demo account (owner of a "Demo" organization) unless it exists, for
 * presets whose wire contract has no sign-up route. Returns the application id when
 * `appUrl` is given.
 */
export async function ensureDemoAccount(auth: AuthRouter, storage: StorageAdapter, demo: DemoAccount): Promise<{ appId: string | null }> {
  const { accounts, applications, orgs } = auth.services;
  const existing = await storage.users.findByEmail(demo.email.trim().toLowerCase());
  const user =
    existing ??
    (
      await accounts.signup(
        { email: demo.email.trim().toLowerCase(), username: demo.username ?? null, password: demo.password, firstName: 'Demo', lastName: 'User' },
        { action: 'create', org: { name: 'Demo', slug: `demo-${Date.now().toString(36)}` } },
      )
    ).user;
  if (!demo.appUrl) return { appId: null };
  const [membership] = await orgs.listMine(user.id);
  if (!membership) throw new Error(`the demo account ${demo.email} belongs to no organization`);
  const known = (await applications.list(user.id, membership.orgId)).find((app) => app.url === demo.appUrl);
  const app = known ?? (await applications.register(user.id, membership.orgId, { name: 'Demo app', url: demo.appUrl }));
  await applications.grant(user.id, membership.orgId, app.id, user.id);
  return { appId: app.id };
}
