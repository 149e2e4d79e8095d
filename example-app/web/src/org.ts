import type { AuthClient } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, date, h, notify, onClick, onSubmit, orgChoice, show, wireChoice, wireSlug } from './ui.js';

/** Why an org's policy refuses this session (GET /orgs `access`), as the switch button's stand-in. */
const ACCESS_HINTS = {
  mfa_enrollment_required: 'requires a second factor: turn on TOTP or add a passkey, then sign in again',
  sign_in_method_not_allowed: 'does not allow the way you signed in: sign in with a method it allows',
} as const;

/** Members of the active organization, invitations, and switching between the user's organizations. */
export function initOrg(client: AuthClient): Panel {
  const members = $('members-table').querySelector('tbody') as HTMLTableSectionElement;
  const myOrgs = $('my-orgs');
  const inviteForm = $<HTMLFormElement>('invite-form');
  const inviteResult = $('invite-result');
  const setupForm = $<HTMLFormElement>('setup-org-form');

  const orgId = () => {
    const org = client.claims?.org;
    if (typeof org !== 'string') throw new Error('this session has no organization');
    return org;
  };

  async function loadMembers(): Promise<void> {
    const me = client.claims?.sub;
    const rows = (await client.members(orgId())).map((m) => {
      const row = h('tr', {}, h('td', {}, m.email), h('td', {}, h('span', { class: 'pill' }, m.role)), h('td', {}, date(m.joinedAt)));
      if (m.userId === me) row.className = 'me';
      return row;
    });
    members.replaceChildren(...rows);
  }

  async function loadOrgs(): Promise<void> {
    const current = client.claims?.org;
    const items = (await client.orgs()).map((org) =>
      h(
        'li',
        {},
        h('strong', {}, org.name),
        h('span', { class: 'slug' }, org.slug),
        h('span', { class: 'pill' }, org.role),
        org.id === current
          ? h('span', { class: 'pill on' }, 'active')
          : org.access === 'allowed'
            ? h('button', { class: 'ghost small', onclick: () => void switchTo(org.id, org.name) }, 'Switch')
            : h('span', { class: 'hint' }, ACCESS_HINTS[org.access]),
      ),
    );
    myOrgs.replaceChildren(...items);
  }

  async function switchTo(id: string, name: string): Promise<void> {
    try {
      // New tokens scoped to that org; the state event reloads every card.
      await client.switchOrg(id);
      notify(`Switched to ${name}`, 'success');
    } catch (err) {
      notify(String(err), 'error');
    }
  }

  onSubmit(inviteForm, async ({ email, role }) => {
    const invitation = await client.invite(orgId(), { ...(email ? { email } : {}), role: role === 'admin' ? 'admin' : 'member' });
    $('invite-code').textContent = invitation.code;
    show(inviteResult, true);
    inviteForm.reset();
  });

  onClick($<HTMLButtonElement>('org-reload'), () => Promise.all([loadMembers(), loadOrgs()]).then(() => undefined));

  const updateChoice = wireChoice(setupForm);
  wireSlug(setupForm);
  onSubmit(setupForm, async (fields) => {
    await client.setupOrg(orgChoice(fields));
    setupForm.reset();
    updateChoice();
    (setupForm.parentElement as HTMLDetailsElement).open = false;
    notify('Switched to the new organization', 'success');
  });

  return {
    async load() {
      const role = client.claims?.role;
      // Members may not invite: say so up front instead of letting the server answer 403.
      for (const el of inviteForm.elements) (el as HTMLInputElement).disabled = role === 'member';
      inviteForm.title = role === 'member' ? 'Only owners and admins can invite' : '';
      show(inviteResult, false);
      await Promise.all([loadMembers(), loadOrgs()]);
    },
    reset() {
      members.replaceChildren();
      myOrgs.replaceChildren();
      show(inviteResult, false);
    },
  };
}
