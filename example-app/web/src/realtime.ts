import mqtt from 'mqtt';
import type { AuthClient, RealtimeConnection } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, countdown, describeError, h, notify, onSubmit, time } from './ui.js';

const decoder = new TextDecoder();

/**
 * Live realtime: credentials from /auth/iot-credentials, the browser build of mqtt
 * (bundled from the `mqtt` package) over WebSocket to the example broker, and
 * gatehouse-auth/client renewing the credentials before they expire.
 */
export function initRealtime(client: AuthClient): Panel {
  const status = $('rt-status');
  const info = $('rt-info');
  const log = $('rt-log');
  const error = $('rt-error');
  const protocolSelect = $<HTMLSelectElement>('rt-protocol');
  const connectButton = $<HTMLButtonElement>('rt-connect');
  const disconnectButton = $<HTMLButtonElement>('rt-disconnect');
  const subscribeForm = $<HTMLFormElement>('rt-subscribe-form');
  const publishForm = $<HTMLFormElement>('rt-publish-form');
  const chips = $('rt-subscriptions');
  let connection: RealtimeConnection | null = null;
  let protocolVersion: 4 | 5 = 5;
  let ticker: ReturnType<typeof setInterval> | undefined;

  const append = (item: HTMLLIElement) => {
    log.append(item);
    log.scrollTop = log.scrollHeight;
  };
  const system = (text: string) => append(h('li', { class: 'system' }, h('span', { class: 'time' }, time(Date.now())), text));

  const setConnected = (up: boolean) => {
    status.textContent = up ? 'connected' : 'disconnected';
    status.className = `pill ${up ? 'on' : 'off'}`;
    connectButton.disabled = up;
    protocolSelect.disabled = up;
    disconnectButton.disabled = !up;
    for (const form of [subscribeForm, publishForm]) for (const el of form.elements) (el as HTMLInputElement).disabled = !up;
  };

  const renderInfo = () => {
    if (!connection) return void info.replaceChildren();
    const creds = connection.credentials;
    const row = (label: string, value: string) => [h('dt', {}, label), h('dd', {}, h('code', {}, value))];
    info.replaceChildren(
      ...row('Broker', creds.presignedWssUrl),
      ...row('Client id', creds.clientId),
      ...row('Topic prefix', creds.topicPrefix),
      ...row('Credentials expire', `${time(creds.expiresAt)} (in ${countdown(Date.parse(creds.expiresAt) - Date.now())})`),
      ...row('Protocol', protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1'),
    );
  };

  const renderChips = () => chips.replaceChildren(...(connection?.subscriptions ?? []).map((f) => h('li', {}, f)));

  // Not onClick(): that re-enables the button afterwards, while these follow the connection state.
  connectButton.addEventListener('click', () => {
    connectButton.disabled = true;
    protocolSelect.disabled = true;
    connect().catch((err: unknown) => {
      error.textContent = describeError(err);
      setConnected(false);
    });
  });
  disconnectButton.addEventListener('click', () => {
    disconnectButton.disabled = true;
    connection?.close().catch((err: unknown) => notify(describeError(err), 'error'));
  });

  async function connect(): Promise<void> {
    error.textContent = '';
    // MQTT 5 by default, as AxonPush's SDKs; 3.1.1 for brokers without it (aedes 1.x). The example's aedes 2.x speaks both.
    protocolVersion = protocolSelect.value === '4' ? 4 : 5;
    const conn = await client.connectRealtime({
      mqtt,
      protocolVersion,
      onMessage: (topic, payload) =>
        append(h('li', {}, h('span', { class: 'time' }, time(Date.now())), h('span', { class: 'topic' }, topic), decoder.decode(payload))),
    });
    connection = conn;
    conn.on('connect', (_creds, reason) => {
      if (reason !== 'initial') system(`reconnected with fresh credentials (${reason})`);
      renderInfo();
    });
    conn.on('error', (err) => (error.textContent = describeError(err)));
    conn.on('close', () => {
      system('disconnected');
      if (connection === conn) connection = null;
      setConnected(false);
      renderInfo();
      renderChips();
      clearInterval(ticker);
    });
    const prefix = conn.credentials.topicPrefix;
    $<HTMLInputElement>('rt-filter').value = `${prefix}/${conn.credentials.envSlug}/#`;
    $<HTMLInputElement>('rt-topic').value = conn.topic({ appId: 'demo', channelId: 'general', eventType: 'chat', agentId: 'web' });
    setConnected(true);
    renderInfo();
    clearInterval(ticker);
    ticker = setInterval(renderInfo, 1_000);
    system(`connected as ${conn.credentials.clientId} (${protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1'})`);
  }

  onSubmit(subscribeForm, async ({ filter = '' }) => {
    if (!connection) throw new Error('connect first');
    await connection.subscribe(filter, { qos: 1 });
    renderChips();
    system(`subscribed to ${filter}`);
  });

  onSubmit(publishForm, async ({ topic = '', message = '' }) => {
    if (!connection) throw new Error('connect first');
    await connection.publish(topic, message, { qos: 1 });
  });

  return {
    async load() {
      // Connecting is the user's choice; nothing to read on sign-in.
    },
    reset() {
      void connection?.close();
      connection = null;
      log.replaceChildren();
      error.textContent = '';
      setConnected(false);
    },
  };
}
