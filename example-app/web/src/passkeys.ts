import { browserSupportsWebAuthn, startAuthentication, startRegistration } from '@simplewebauthn/browser';
import { isGatehouseError, type AuthClient, type Passkey, type PasskeyOptions } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, h, notify, onClick, onSubmit, show, time } from './ui.js';

// The server's options are what @simplewebauthn/browser takes as `optionsJSON`.
const signInCeremony = (options: PasskeyOptions) => startAuthentication({ optionsJSON: options as unknown as Parameters<typeof startAuthentication>[0]['optionsJSON'] });
const registrationCeremony = (options: PasskeyOptions) => startRegistration({ optionsJSON: options as unknown as Parameters<typeof startRegistration>[0]['optionsJSON'] });

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
    const result = await client.signInWithPasskey(signInCeremony);
    if (result.status === 'mfa-required') throw new Error('this passkey did not verify you (no PIN or biometrics): sign in with the password and your code');
    notify('Signed in with a passkey.', 'success');
  });

  async function list(): Promise<void> {
    const passkeys = await client.passkeys();
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

  async function remove(p: Passkey): Promise<void> {
    try {
      await client.removePasskey(p.id);
      notify(`Removed ${p.name ?? 'the passkey'}`, 'success');
      await list();
    } catch (err) {
      notify(String(err), 'error');
    }
  }

  // Registering needs a recent sign-in (step-up): the password field renews it when the sign-in is older.
  onSubmit(form, async ({ name = '', password = '' }) => {
    const register = () => client.registerPasskey(registrationCeremony, name ? { name } : {});
    try {
      await register();
    } catch (err) {
      if (!isGatehouseError(err, 'reauthentication_required') || password === '') throw err;
      await client.reauthenticate({ password });
      await register();
    }
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
