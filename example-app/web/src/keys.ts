import type { AuthClient } from 'gatehouse-auth/client';
import { isGatehouseError } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, h, notify, onSubmit, show, time } from './ui.js';

/** API keys of the active organization: created (shown once), listed without secrets, revoked. */
export function initKeys(client: AuthClient): Panel {
  const table = $('keys-table');
  const rows = table.querySelector('tbody') as HTMLTableSectionElement;
  const form = $<HTMLFormElement>('key-form');
  const hint = $('keys-hint');
  const limit = $('key-permissions');
  // Checked boxes limit the key to those permissions (within its creator's); none: what its role grants.
  const limitedTo = () => [...limit.querySelectorAll<HTMLInputElement>('input:checked')].map((box) => box.value);

  async function loadPermissions(): Promise<void> {
    const { permissions } = await client.roles(client.claims?.org ?? '');
    limit.replaceChildren(
      ...permissions.map((name) => {
        const box = h('input');
        box.type = 'checkbox';
        box.value = name;
        return h('label', { class: 'check' }, box, ` ${name}`);
      }),
    );
    show($('key-limit'), permissions.length > 0);
  }

  async function list(): Promise<void> {
    try {
      const keys = await client.apiKeys();
      rows.replaceChildren(
        ...keys.map((key) =>
          h(
            'tr',
            {},
            h('td', {}, key.name),
            h('td', {}, h('code', {}, key.prefix)),
            h('td', { title: key.permissions ? `limited to ${key.permissions.join(', ')}` : '' }, h('span', { class: 'pill' }, key.role), key.permissions && ` ${key.permissions.join(', ')}`),
            h('td', {}, key.lastUsedAt ? time(key.lastUsedAt) : 'never'),
            h('td', {}, h('button', { class: 'danger small', onclick: () => void revoke(key.id, key.name) }, 'Revoke')),
          ),
        ),
      );
      show(table, keys.length > 0);
      show(hint, keys.length === 0);
      hint.textContent = 'No API keys yet.';
    } catch (err) {
      if (!isGatehouseError(err, 'forbidden')) throw err;
      show(table, false);
      show(hint, true);
      hint.textContent = 'Only owners and admins manage API keys.';
    }
  }

  let shownKeyId: string | null = null;

  async function revoke(id: string, name: string): Promise<void> {
    try {
      await client.revokeApiKey(id);
      if (id === shownKeyId) show($('new-key'), false);
      notify(`Revoked ${name}`, 'success');
      await list();
    } catch (err) {
      notify(String(err), 'error');
    }
  }

  onSubmit(form, async ({ name = '', role }) => {
    const permissions = limitedTo();
    const created = await client.createApiKey({ name, role: role === 'owner' || role === 'admin' ? role : 'member', ...(permissions.length ? { permissions } : {}) });
    $('new-key-value').textContent = created.key;
    shownKeyId = created.id;
    const tenant = client.claims?.org ?? '<org id>';
    $('new-key-usage').textContent = `curl ${location.origin}/api/hello \\\n  -H 'X-API-Key: ${created.key}' \\\n  -H 'X-Tenant-Id: ${tenant}'`;
    show($('new-key'), true);
    form.reset();
    for (const box of limit.querySelectorAll<HTMLInputElement>('input')) box.checked = false;
    await list();
  });

  return {
    async load() {
      // Members cannot manage keys: the form is disabled rather than answered with 403.
      const member = client.claims?.role === 'member';
      for (const el of form.elements) (el as HTMLInputElement).disabled = member;
      show($('key-limit'), false);
      await Promise.all([list(), member ? Promise.resolve() : loadPermissions()]);
    },
    reset() {
      rows.replaceChildren();
      limit.replaceChildren();
      show($('new-key'), false);
    },
  };
}
