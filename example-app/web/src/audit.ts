import { isGatehouseError, type AuditEntry, type AuthClient } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, h, onClick, onSubmit, show } from './ui.js';

const PAGE = 20;

/**
 * The active organization's audit log (owners and admins): newest first, a filter by
 * action, "Load more" with the page's cursor, and a check of the hash chain (owners).
 */
export function initAudit(client: AuthClient): Panel {
  const table = $('audit-table');
  const rows = table.querySelector('tbody') as HTMLTableSectionElement;
  const hint = $('audit-hint');
  const form = $<HTMLFormElement>('audit-filter-form');
  const more = $<HTMLButtonElement>('audit-more');
  const verifyButton = $<HTMLButtonElement>('audit-verify');
  const verdict = $('audit-verdict');
  let next: string | null = null;
  let action = '';
  // User ids as the members' addresses, so the actor column reads as people.
  let names = new Map<string, string>();

  const orgId = () => client.claims?.org ?? '';

  const actor = (e: AuditEntry) => (e.actor.type === 'system' ? 'gatehouse' : e.actor.type === 'api_key' ? `API key ${short(e.actor.id)}` : (names.get(e.actor.id ?? '') ?? `user ${short(e.actor.id)}`));
  const target = (e: AuditEntry) => (e.target ? `${e.target.type} ${e.target.type === 'user' ? (names.get(e.target.id) ?? short(e.target.id)) : short(e.target.id)}` : '');

  const row = (e: AuditEntry) => {
    const tr = h(
      'tr',
      { title: JSON.stringify(e.data) },
      h('td', {}, new Date(e.at).toLocaleString()),
      h('td', {}, h('code', {}, e.action)),
      h('td', {}, actor(e)),
      h('td', {}, target(e)),
    );
    tr.dataset.action = e.action;
    return tr;
  };

  async function page(reset: boolean): Promise<void> {
    // Members come and go: read them with each first page.
    if (reset) names = new Map((await client.members(orgId())).map((m) => [m.userId, m.email]));
    const answer = await client.auditLog(orgId(), { limit: PAGE, ...(action ? { action } : {}), ...(!reset && next ? { cursor: next } : {}) });
    if (reset) rows.replaceChildren();
    rows.append(...answer.entries.map(row));
    next = answer.next;
    show(more, next !== null);
    show(table, rows.children.length > 0);
    show(hint, rows.children.length === 0);
    hint.textContent = action ? `No ${action} entries.` : 'No entries yet.';
  }

  async function load(): Promise<void> {
    verdict.textContent = '';
    verdict.className = 'pill';
    show(verdict, false);
    const role = client.claims?.role;
    verifyButton.disabled = role !== 'owner';
    verifyButton.title = role === 'owner' ? '' : 'Only owners check the chain';
    try {
      await page(true);
      for (const el of form.elements) (el as HTMLInputElement).disabled = false;
    } catch (err) {
      if (!isGatehouseError(err, 'forbidden')) throw err;
      rows.replaceChildren();
      show(table, false);
      show(more, false);
      show(hint, true);
      hint.textContent = 'Only owners and admins read the audit log.';
      for (const el of form.elements) (el as HTMLInputElement).disabled = true;
    }
  }

  onSubmit(form, async (fields) => {
    action = fields.action ?? '';
    await page(true);
  });
  onClick($<HTMLButtonElement>('audit-reload'), () => page(true));
  onClick(more, () => page(false));
  onClick(verifyButton, async () => {
    const result = await client.verifyAuditLog(orgId());
    verdict.textContent = result.valid ? `chain valid · ${result.checked} checked` : `chain broken at #${result.brokenAt} (entry ${result.entryId ?? 'missing'}) · ${result.checked} checked`;
    verdict.className = `pill ${result.valid ? 'on' : 'bad'}`;
    verdict.dataset.state = result.valid ? 'valid' : 'broken';
    show(verdict, true);
  });

  return {
    load,
    reset() {
      rows.replaceChildren();
      next = null;
      action = '';
      form.reset();
      show(verdict, false);
    },
  };
}

function short(id: string | null): string {
  return id ? id.slice(0, 8) : '?';
}
