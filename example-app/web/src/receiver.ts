import { isGatehouseError, type AuthClient } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, h, onClick, show, time } from './ui.js';
import { isFresh, verifyWebhook } from './verify-webhook.js';
import { RECEIVER_PATH } from './webhooks.js';

interface Received {
  receivedAt: string;
  id: string | null;
  timestamp: string | null;
  signature: string | null;
  body: string;
}

const POLL_MS = 2_000;

/**
 * The example's built-in receiver (`POST /demo/webhook-receiver`): the deliveries it kept
 * for this organization, each signature checked here in the browser, with WebCrypto, by
 * verify-webhook.ts, whose source the card shows (and docs/webhooks.md quotes). The
 * secrets are the one pasted in and those registered or rotated on this page (in memory only).
 */
export function initReceiver(client: AuthClient): Panel & { remember(secret: string): void } {
  const rows = $('receiver-table').querySelector('tbody') as HTMLTableSectionElement;
  const hint = $('receiver-hint');
  const input = $<HTMLInputElement>('receiver-secret');
  const remembered = new Set<string>();
  let received: Received[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  let active = false;

  const secrets = () => [...new Set([input.value.trim(), ...remembered].filter((s) => s !== ''))];

  async function verdict(d: Received): Promise<{ state: string; text: string }> {
    if (!d.id || !d.timestamp || !d.signature) return { state: 'unsigned', text: 'no signature headers' };
    const all = secrets();
    if (all.length === 0) return { state: 'unknown', text: 'no secret to check with' };
    for (const secret of all) {
      if (await verifyWebhook(secret, { id: d.id, timestamp: d.timestamp, signature: d.signature }, d.body)) {
        return isFresh(d.timestamp) ? { state: 'valid', text: 'signature valid' } : { state: 'valid', text: 'signature valid (older than 5 min: a receiver would refuse it now)' };
      }
    }
    return { state: 'invalid', text: 'signature invalid' };
  }

  async function render(): Promise<void> {
    const verdicts = await Promise.all(received.map(verdict));
    rows.replaceChildren(
      ...received.map((d, i) => {
        const v = verdicts[i] ?? { state: 'unknown', text: '' };
        let type = '?';
        try {
          type = String((JSON.parse(d.body) as { type?: unknown }).type ?? '?');
        } catch {
          // Not JSON: the row still shows, as unsigned or invalid.
        }
        const pill = h('span', { class: `pill ${v.state === 'valid' ? 'on' : v.state === 'invalid' ? 'bad' : 'off'}` }, v.text);
        const tr = h('tr', { title: d.body }, h('td', {}, time(d.receivedAt)), h('td', {}, h('code', {}, type)), h('td', {}, h('code', {}, d.id ?? '')), h('td', {}, pill));
        tr.dataset.signature = v.state;
        tr.dataset.webhookId = d.id ?? '';
        return tr;
      }),
    );
    show(hint, received.length === 0);
  }

  async function load(): Promise<void> {
    const res = await client.request(RECEIVER_PATH);
    if (res.status === 403 || res.status === 404) {
      stop();
      received = [];
      hint.textContent = res.status === 403 ? 'Only owners and admins see what the receiver got.' : 'The receiver is off (NODE_ENV=production).';
      return render();
    }
    if (!res.ok) throw new Error(`GET ${RECEIVER_PATH} answered ${res.status}`);
    const next = ((await res.json()) as { deliveries: Received[] }).deliveries;
    const changed = next.length !== received.length || next[0]?.receivedAt !== received[0]?.receivedAt;
    received = next;
    hint.textContent = `Nothing received yet. Register ${location.origin}${RECEIVER_PATH} above, then do something in the organization.`;
    if (changed || rows.children.length !== received.length) await render();
    start();
  }

  // Polls only while there is a secret to check with (an endpoint registered here, or one pasted in):
  // a page that is just open makes no calls of its own.
  function start(): void {
    if (timer !== undefined || !active || secrets().length === 0) return;
    timer = setInterval(() => {
      if (document.visibilityState !== 'visible' || client.state.status !== 'signed-in') return;
      load().catch(() => stop());
    }, POLL_MS);
  }

  function stop(): void {
    clearInterval(timer);
    timer = undefined;
  }

  input.addEventListener('input', () => {
    void render();
    if (secrets().length === 0) stop();
    else start();
  });
  onClick($<HTMLButtonElement>('receiver-reload'), async () => {
    await load();
    await render();
  });

  // The code that runs here, as the server has it: what docs/webhooks.md shows too.
  fetch('/demo/verify-webhook.ts')
    .then((res) => (res.ok ? res.text() : Promise.reject(new Error(String(res.status)))))
    .then((source) => ($('receiver-code').textContent = source))
    .catch(() => ($('receiver-code').textContent = 'see example-app/web/src/verify-webhook.ts'));

  return {
    remember(secret: string) {
      remembered.add(secret);
      input.value = secret;
      void render();
      start();
    },
    async load() {
      active = true;
      try {
        await load();
      } catch (err) {
        if (!isGatehouseError(err)) throw err;
      }
    },
    reset() {
      active = false;
      stop();
      received = [];
      remembered.clear();
      input.value = '';
      rows.replaceChildren();
    },
  };
}
