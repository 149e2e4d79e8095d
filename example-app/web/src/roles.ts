import { isGatehouseError, type AuthClient, type CustomRole, type Member, type OrgRoles } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, h, notify, onClick, onSubmit, show } from './ui.js';

/** The example's routes guarded by permission (example-app/app.ts): what "Try it" calls. */
const TRIES = [
  { id: 'try-read', method: 'GET', path: '/api/projects' },
  { id: 'try-write', method: 'POST', path: '/api/projects' },
] as const;

/**
 * The active organization's roles: the built-in ones with the permissions they grant,
 * its custom roles (owners create, edit and delete them from the service's permissions,
 * and give them to members), and "Try it" on the example's routes that check permissions.
 */
export function initRoles(client: AuthClient): Panel {
  const rows = $('roles-table').querySelector('tbody') as HTMLTableSectionElement;
  const form = $<HTMLFormElement>('role-form');
  const boxes = $('role-permissions');
  const assignForm = $<HTMLFormElement>('assign-form');
  const hint = $('roles-hint');
  const result = $('try-result');
  const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
  const assignField = (name: string) => assignForm.elements.namedItem(name) as HTMLSelectElement;
  let editing: CustomRole | null = null;

  const orgId = () => client.claims?.org ?? '';
  const isOwner = () => client.claims?.role === 'owner';
  const pills = (names: string[]) => (names.length ? names.map((name) => h('span', { class: 'pill' }, name)) : [h('span', { class: 'hint' }, 'none')]);

  function render(roles: OrgRoles, members: Member[]): void {
    const holders = (roleId: string) => members.filter((m) => m.customRoleId === roleId).map((m) => m.email);
    const builtIn = roles.builtIn.map((role) =>
      h('tr', {}, h('td', {}, h('strong', {}, role.name), ' ', h('span', { class: 'pill off' }, 'built-in')), h('td', { class: 'perms' }, ...pills(role.permissions)), h('td', {}), h('td', {})),
    );
    const custom = roles.custom.map((role) => {
      const row = h(
        'tr',
        {},
        h('td', { title: role.description ?? '' }, h('strong', {}, role.name), ' ', h('span', { class: 'pill' }, 'custom')),
        h('td', { class: 'perms' }, ...pills(role.permissions)),
        h('td', {}, holders(role.id).join(', ')),
        h(
          'td',
          {},
          isOwner() && h('button', { class: 'ghost small', onclick: () => edit(role) }, 'Edit'),
          isOwner() && h('button', { class: 'danger small', onclick: () => void remove(role) }, 'Delete'),
        ),
      );
      row.dataset.roleId = role.id;
      row.dataset.name = role.name;
      return row;
    });
    rows.replaceChildren(...builtIn, ...custom);

    // One checkbox per permission of the service, kept checked across reloads while editing.
    const checked = new Set(selected());
    boxes.replaceChildren(
      ...roles.permissions.map((name) => {
        const box = h('input');
        box.type = 'checkbox';
        box.name = 'permission';
        box.value = name;
        box.checked = checked.has(name);
        box.disabled = !isOwner();
        return h('label', { class: 'check' }, box, ` ${name}`);
      }),
    );

    // Custom roles sit on top of the member role: only plain members can be given one.
    const plain = members.filter((m) => m.role === 'member');
    const memberSelect = assignField('userId');
    const before = memberSelect.value;
    memberSelect.replaceChildren(...plain.map((m) => option(m.userId, m.email)));
    if (plain.some((m) => m.userId === before)) memberSelect.value = before;
    const roleSelect = assignField('roleId');
    const chosen = roleSelect.value;
    roleSelect.replaceChildren(option('', 'no custom role'), ...roles.custom.map((role) => option(role.id, role.name)));
    if (roles.custom.some((role) => role.id === chosen)) roleSelect.value = chosen;
    for (const el of assignForm.elements) (el as HTMLInputElement).disabled = !isOwner() || plain.length === 0;
    assignForm.title = plain.length === 0 ? 'No member has the plain member role' : '';
  }

  function option(value: string, text: string): HTMLOptionElement {
    const el = h('option', {}, text);
    el.value = value;
    return el;
  }

  const selected = () => [...boxes.querySelectorAll<HTMLInputElement>('input[name="permission"]')].filter((b) => b.checked).map((b) => b.value);

  async function load(): Promise<void> {
    const [roles, members] = await Promise.all([client.roles(orgId()), client.members(orgId())]);
    render(roles, members);
  }

  function edit(role: CustomRole | null): void {
    editing = role;
    field('name').value = role?.name ?? '';
    field('description').value = role?.description ?? '';
    for (const box of boxes.querySelectorAll<HTMLInputElement>('input[name="permission"]')) box.checked = role?.permissions.includes(box.value) ?? false;
    $('role-form-title').textContent = role ? `Edit ${role.name}` : 'New custom role';
    (form.querySelector('button[type="submit"]') as HTMLButtonElement).textContent = role ? 'Save role' : 'Create role';
    show($('role-cancel'), role !== null);
    if (role) form.scrollIntoView({ block: 'nearest' });
  }

  async function remove(role: CustomRole): Promise<void> {
    try {
      await client.deleteRole(orgId(), role.id);
      if (editing?.id === role.id) edit(null);
      notify(`Deleted the role ${role.name}`, 'success');
      await load();
    } catch (err) {
      // Said plainly: a held role is refused until its holders get another one.
      if (isGatehouseError(err, 'role_in_use')) notify(`409 role_in_use: ${role.name} is held by a member; give them another role first.`, 'error');
      else notify(String(err), 'error');
    }
  }

  onSubmit(form, async ({ name = '', description = '' }) => {
    const permissions = selected();
    if (editing) {
      const updated = await client.updateRole(orgId(), editing.id, { name, permissions, description: description || null });
      notify(`Saved the role ${updated.name}`, 'success');
    } else {
      const created = await client.createRole(orgId(), { name, permissions, ...(description ? { description } : {}) });
      notify(`Created the role ${created.name}`, 'success');
    }
    edit(null);
    await load();
  });

  $('role-cancel').addEventListener('click', () => edit(null));

  onSubmit(assignForm, async ({ userId = '', roleId = '' }) => {
    // role 'member' without customRoleId ends the custom role; with it, gives it.
    await client.changeRole(orgId(), userId, 'member', roleId || null);
    notify(roleId ? 'Custom role given: it counts on the member’s next request.' : 'Custom role taken away.', 'success');
    await load();
  });

  onClick($<HTMLButtonElement>('roles-reload'), load);

  for (const { id, method, path } of TRIES) {
    onClick($<HTMLButtonElement>(id), async () => {
      const res = await client.request(path, { method });
      const body = (await res.json().catch(() => ({}))) as { permissions?: string[]; code?: string; permission?: string };
      const allowed = res.ok;
      result.dataset.call = `${method} ${path}`;
      result.dataset.status = String(res.status);
      result.dataset.outcome = allowed ? 'allowed' : 'denied';
      result.className = `result ${allowed ? 'ok' : 'bad'}`;
      result.textContent = allowed
        ? `${method} ${path} → ${res.status} allowed\nyou hold: ${(body.permissions ?? []).join(', ') || 'nothing'}`
        : `${method} ${path} → ${res.status} ${body.code ?? ''}${body.permission ? `\nmissing permission: ${body.permission}` : ''}`;
      show(result, true);
    });
  }

  return {
    async load() {
      edit(null);
      show(result, false);
      const owner = isOwner();
      for (const el of form.elements) (el as HTMLInputElement).disabled = !owner;
      show(hint, !owner);
      hint.textContent = 'Only owners define custom roles and give them to members; everyone can try the routes.';
      await load();
    },
    reset() {
      rows.replaceChildren();
      boxes.replaceChildren();
      form.reset();
      editing = null;
      show(result, false);
    },
  };
}
