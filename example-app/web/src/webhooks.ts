import { isGatehouseError, type AuthClient, type Webhook, type WebhookDelivery } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { withRecentSignIn } from './step-up.js';
import { $, h, notify, onClick, onSubmit, show, time } from './ui.js';

export const RECEIVER_PATH = '/demo/webhook-receiver';

/**
 * Webhook endpoints of the active organization (owners and admins): register one (the
 * secret is shown once and handed to the receiver card through `remember`), list them
 * with their state, and per endpoint its deliveries (redeliver), a new secret, enable or
 * disable, delete.
 */
export function initWebhooks(client: AuthClient, remember: (secret: string) => void): Panel {
  const form = $<HTMLFormElement>('webhook-form');
  const table = $('webhooks-table');
  const rows = table.querySelector('tbody') as HTMLTableSectionElement;
  const hint = $('webhooks-hint');
  const reveal = $('new-webhook');
  const deliveriesBox = $('webhook-deliveries');
  const deliveryRows = $('deliveries-table').querySelector('tbody') as HTMLTableSectionElement;
  const deliveriesHint = $('deliveries-hint');
  let open: Webhook | null = null;

  const orgId = () => client.claims?.org ?? '';
  const password = () => (form.elements.namedItem('password') as HTMLInputElement).value;

  const showSecret = (secret: string, what: string) => {
    $('new-webhook-label').textContent = what;
    $('new-webhook-secret').textContent = secret;
    show(reveal, true);
    remember(secret);
  };

  const status = (w: Webhook) => {
    const pill = h('span', { class: `pill ${w.enabled ? 'on' : 'off'}`, ...(w.disabledReason ? { title: w.disabledReason } : {}) }, w.enabled ? 'enabled' : 'disabled');
    return h('span', {}, pill, w.consecutiveFailures > 0 ? ` ${w.consecutiveFailures} failed` : '');
  };

  async function list(): Promise<void> {
    try {
      const hooks = await client.webhooks(orgId());
      rows.replaceChildren(
        ...hooks.map((w) => {
          const tr = h(
            'tr',
            {},
            h('td', {}, h('code', {}, w.url)),
            h('td', {}, w.events ? w.events.join(', ') : 'every event'),
            h('td', {}, status(w)),
            h(
              'td',
              { class: 'buttons' },
              h('button', { class: 'ghost small', onclick: () => void act(() => deliveries(w)) }, 'Deliveries'),
              h('button', { class: 'ghost small', onclick: () => void act(() => rotate(w)) }, 'Rotate secret'),
              h('button', { class: 'ghost small', onclick: () => void act(() => toggle(w)) }, w.enabled ? 'Disable' : 'Enable'),
              h('button', { class: 'danger small', onclick: () => void act(() => remove(w)) }, 'Delete'),
            ),
          );
          tr.dataset.id = w.id;
          return tr;
        }),
      );
      show(table, hooks.length > 0);
      show(hint, hooks.length === 0);
      hint.textContent = 'No endpoints yet.';
      if (open && !hooks.some((w) => w.id === open?.id)) closeDeliveries();
    } catch (err) {
      if (!isGatehouseError(err, 'forbidden')) throw err;
      rows.replaceChildren();
      show(table, false);
      show(hint, true);
      hint.textContent = 'Only owners and admins manage webhooks.';
    }
  }

  const act = (fn: () => Promise<void>) => fn().catch((err: unknown) => notify(err instanceof Error ? err.message : String(err), 'error'));

  async function deliveries(w: Webhook): Promise<void> {
    open = w;
    $('deliveries-of').textContent = w.url;
    const { deliveries: page } = await client.webhookDeliveries(orgId(), w.id, { limit: 20 });
    deliveryRows.replaceChildren(...page.map((d) => deliveryRow(w, d)));
    show(deliveriesBox, true);
    show(deliveriesHint, page.length === 0);
  }

  const deliveryRow = (w: Webhook, d: WebhookDelivery) => {
    const tr = h(
      'tr',
      {},
      h('td', {}, h('code', {}, d.eventType)),
      h('td', {}, h('span', { class: `pill ${d.status === 'delivered' ? 'on' : d.status === 'failed' ? 'bad' : 'off'}` }, d.status)),
      h('td', {}, String(d.attempts)),
      h('td', {}, d.lastError ?? (d.lastStatusCode === null ? '' : `HTTP ${d.lastStatusCode}`)),
      h('td', {}, time(d.createdAt)),
      h('td', {}, d.status === 'pending' ? '' : h('button', { class: 'ghost small', onclick: () => void act(() => redeliver(w, d)) }, 'Redeliver')),
    );
    tr.dataset.status = d.status;
    return tr;
  };

  async function redeliver(w: Webhook, d: WebhookDelivery): Promise<void> {
    await client.redeliverWebhook(orgId(), w.id, d.id);
    notify(`Queued ${d.eventType} again (same webhook-id).`, 'success');
    await deliveries(w);
  }

  async function rotate(w: Webhook): Promise<void> {
    const rotated = await withRecentSignIn(client, password(), () => client.rotateWebhookSecret(orgId(), w.id));
    showSecret(rotated.secret, `New signing secret of ${w.url} (shown once; later attempts are signed with it only):`);
  }

  async function toggle(w: Webhook): Promise<void> {
    await client.updateWebhook(orgId(), w.id, { enabled: !w.enabled });
    await list();
  }

  async function remove(w: Webhook): Promise<void> {
    await client.deleteWebhook(orgId(), w.id);
    notify(`Deleted the endpoint ${w.url}`, 'success');
    await list();
  }

  function closeDeliveries(): void {
    open = null;
    deliveryRows.replaceChildren();
    show(deliveriesBox, false);
  }

  onClick($<HTMLButtonElement>('webhook-use-receiver'), async () => {
    (form.elements.namedItem('url') as HTMLInputElement).value = `${location.origin}${RECEIVER_PATH}`;
  });

  onSubmit(form, async ({ url = '', events = '', password: proof = '' }) => {
    const filter = events
      .split(/[\s,]+/)
      .map((e) => e.trim())
      .filter(Boolean);
    const created = await withRecentSignIn(client, proof, () => client.createWebhook(orgId(), { url, events: filter.length > 0 ? filter : null }));
    showSecret(created.secret, 'Signing secret (shown once; the receiver card remembers it while this page is open):');
    form.reset();
    await list();
  });

  onClick($<HTMLButtonElement>('webhooks-reload'), async () => {
    await list();
    if (open) await deliveries(open);
  });

  return {
    async load() {
      const member = client.claims?.role === 'member';
      for (const el of form.elements) (el as HTMLInputElement).disabled = member;
      closeDeliveries();
      await list();
    },
    reset() {
      rows.replaceChildren();
      closeDeliveries();
      show(reveal, false);
      form.reset();
    },
  };
}
