import { browserSupportsWebAuthn, startAuthentication, startRegistration } from '@simplewebauthn/browser';
import { GatehouseError, isGatehouseError, type AuthClient } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, h, notify, onClick, onSubmit, show, time } from './ui.js';

interface PasskeyView {
  id: string;
  name: string | null;
  deviceType: string;
  backedUp: boolean;
  createdAt: string;
  lastUsedAt: string | null;
}

/** The answer's JSON, or the problem document as a GatehouseError (the shape the rest of the page shows). */
async function json<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (res.ok) return body as T;
  const code = typeof body?.code === 'string' ? body.code : 'bad_response';
  const errors = Array.isArray(body?.errors) ? (body.errors as GatehouseError['errors']) : [];
  throw new GatehouseError(code, typeof body?.detail === 'string' ? body.detail : `${res.status} ${res.statusText}`, { status: res.status, errors, ...(body ? { body } : {}) });
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/**
 * Passkeys: signing in with one (signed out) and registering, listing and removing them
 * (signed in). WebAuthn needs the page's host to be the server's RP ID: the example
 * binds it to `localhost`, so open the demo at http://localhost:PORT, not 127.0.0.1.
 */
export function initPasskeys(client: AuthClient): Panel {
  const signInButton = $<HTMLButtonElement>('passkey-signin');
  const table = $('passkeys-table');
  const rows = table.querySelector('tbody') as HTMLTableSectionElement;
  const hint = $('passkeys-hint');
  const form = $<HTMLFormElement>('passkey-form');
  const usable = browserSupportsWebAuthn() && location.hostname !== '127.0.0.1' && location.hostname !== '[::1]';

  onClick(signInButton, async () => {
    if (!usable) throw new Error(`passkeys need the demo opened at http://localhost:${location.port}: browsers refuse IP addresses`);
    const optionsJSON = await json<Parameters<typeof startAuthentication>[0]['optionsJSON']>(await post('/auth/passkeys/authentication/options', {}));
    const credential = await startAuthentication({ optionsJSON });
    // The cookie transport: the answer sets the refresh cookie, and resume() signs the client in from it.
    const res = await post('/auth/passkeys/authentication/verify', { credential }, { 'x-auth-transport': 'cookie' });
    try {
      await json(res);
    } catch (err) {
      if (isGatehouseError(err, 'mfa_required')) throw new Error('this passkey did not verify you (no PIN or biometrics): sign in with the password and your code');
      throw err;
    }
    await client.resume();
    notify('Signed in with a passkey.', 'success');
  });

  async function list(): Promise<void> {
    const { passkeys } = await json<{ passkeys: PasskeyView[] }>(await client.request('passkeys'));
    rows.replaceChildren(
      ...passkeys.map((p) =>
        h(
          'tr',
          {},
          h('td', {}, p.name ?? 'passkey'),
          h('td', {}, h('span', { class: 'pill' }, p.backedUp ? 'synced' : 'this device')),
          h('td', {}, p.lastUsedAt ? time(p.lastUsedAt) : 'never'),
          h('td', {}, h('button', { class: 'danger small', onclick: () => void remove(p) }, 'Remove')),
        ),
      ),
    );
    show(table, passkeys.length > 0);
    show(hint, passkeys.length === 0 || !usable);
    hint.textContent = usable ? 'No passkeys yet.' : `Passkeys need the demo opened at http://localhost:${location.port} (browsers refuse IP addresses).`;
  }

  async function remove(p: PasskeyView): Promise<void> {
    try {
      const res = await client.request(`passkeys/${encodeURIComponent(p.id)}`, { method: 'DELETE' });
      if (!res.ok) await json(res);
      notify(`Removed ${p.name ?? 'the passkey'}`, 'success');
      await list();
    } catch (err) {
      notify(String(err), 'error');
    }
  }

  // Registering needs a recent sign-in (step-up): the password field renews it when the sign-in is older.
  onSubmit(form, async ({ name = '', password = '' }) => {
    const options = () => client.request('passkeys/registration/options', { method: 'POST' });
    let res = await options();
    if (res.status === 403 && password !== '') {
      await client.reauthenticate({ password });
      res = await options();
    }
    const optionsJSON = await json<Parameters<typeof startRegistration>[0]['optionsJSON']>(res);
    const credential = await startRegistration({ optionsJSON });
    const body = JSON.stringify({ credential, ...(name ? { name } : {}) });
    await json(await client.request('passkeys/registration/verify', { method: 'POST', headers: { 'content-type': 'application/json' }, body }));
    form.reset();
    notify('Passkey added: sign out and use "Sign in with a passkey".', 'success');
    await list();
  });

  return {
    load: list,
    reset() {
      rows.replaceChildren();
      form.reset();
    },
  };
}
