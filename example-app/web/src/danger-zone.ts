import type { AuthClient, DeletionProof } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, h, notify, onSubmit } from './ui.js';

/** A TOTP code when it looks like one, else the password. */
const proofOf = (value: string): DeletionProof => (/^\d{6}$/.test(value) ? { code: value } : { password: value });

/** Transfer ownership, delete the active organization, delete the account. */
export function initDangerZone(client: AuthClient): Panel {
  const transferForm = $<HTMLFormElement>('transfer-form');
  const deleteOrgForm = $<HTMLFormElement>('delete-org-form');
  const deleteAccountForm = $<HTMLFormElement>('delete-account-form');
  const newOwner = transferForm.elements.namedItem('userId') as HTMLSelectElement;
  let orgName = '';

  const orgId = () => {
    const org = client.claims?.org;
    if (typeof org !== 'string') throw new Error('this session has no organization');
    return org;
  };

  const enable = (form: HTMLFormElement, on: boolean, why: string) => {
    for (const el of form.elements) (el as HTMLInputElement).disabled = !on;
    form.title = on ? '' : why;
  };

  onSubmit(transferForm, async ({ userId = '', password = '' }) => {
    const name = newOwner.selectedOptions[0]?.textContent ?? userId;
    // Handing an organization over needs a recent sign-in: the password proves it first.
    await client.reauthenticate({ password });
    await client.transferOrg(orgId(), userId);
    transferForm.reset();
    // The client refreshed into the new role, so every card has reloaded.
    notify(`${name} now owns ${orgName}; you are an admin.`, 'success');
  });

  onSubmit(deleteOrgForm, async ({ proof = '' }) => {
    const name = orgName;
    if (!confirm(`Delete ${name} for everyone in it?`)) return;
    await client.deleteOrg(orgId(), proofOf(proof));
    deleteOrgForm.reset();
    notify(`${name} is deleted, and every session in it ended. Sign in again to continue with your other organizations.`, 'success');
  });

  onSubmit(deleteAccountForm, async ({ proof = '' }) => {
    if (!confirm('Delete your account? This cannot be undone.')) return;
    await client.deleteAccount(proofOf(proof));
    deleteAccountForm.reset();
    notify('Your account is deleted.', 'success');
  });

  return {
    async load() {
      const me = client.claims?.sub;
      const owner = client.claims?.role === 'owner';
      const org = client.claims?.org;
      const [orgs, members] = await Promise.all([client.orgs(), typeof org === 'string' ? client.members(org) : Promise.resolve([])]);
      orgName = orgs.find((o) => o.id === org)?.name ?? 'this organization';
      for (const el of document.querySelectorAll('#danger-card .org-name')) el.textContent = orgName;
      const others = members.filter((m) => m.userId !== me);
      newOwner.replaceChildren(...others.map((m) => Object.assign(h('option', {}, `${m.email} (${m.role})`), { value: m.userId })));
      enable(transferForm, owner && others.length > 0, owner ? 'No other member to hand over to: invite someone first' : 'Only the owner can transfer the organization');
      enable(deleteOrgForm, owner, 'Only the owner can delete the organization');
    },
    reset() {
      transferForm.reset();
      deleteOrgForm.reset();
      deleteAccountForm.reset();
      newOwner.replaceChildren();
    },
  };
}
