import { createAuthClient, type AuthState } from 'gatehouse-auth/client';
import { initAccount } from './account.js';
import { initAudit } from './audit.js';
import { initDangerZone } from './danger-zone.js';
import { initKeys } from './keys.js';
import { handleMailLinks } from './links.js';
import { initMfa } from './mfa.js';
import { initOrg } from './org.js';
import { initRealtime } from './realtime.js';
import { initSecurity } from './security.js';
import { initSession } from './session.js';
import { initSessionList } from './session-list.js';
import { initPasskeys } from './passkeys.js';
import { initPolicy } from './policy.js';
import { initReceiver } from './receiver.js';
import { initRoles } from './roles.js';
import { initWebhooks } from './webhooks.js';
import { $, clearNotice, describeError, notify, show } from './ui.js';

// The refresh token is an HttpOnly cookie and the access token lives in memory only: nothing sits in
// localStorage for a script to steal. A reload or a new tab signs in from the cookie (resume below).
const client = createAuthClient({ baseUrl: '/auth', transport: 'cookie' });
const receiver = initReceiver(client);
const panels = [
  initAccount(client),
  initOrg(client),
  initKeys(client),
  initMfa(client),
  initSecurity(client),
  initSessionList(client),
  initPasskeys(client),
  initPolicy(client),
  initRoles(client),
  initAudit(client),
  // The secret shown at registration goes to the receiver card, which checks signatures with it.
  initWebhooks(client, (secret) => receiver.remember(secret)),
  receiver,
  initRealtime(client),
  initDangerZone(client),
];
initSession(client);

const REASONS = {
  logout: 'You signed out.',
  revoked: 'Your session was ended on the server (signed out elsewhere, a password or MFA change). Sign in again.',
  expired: 'Your session expired. Sign in again.',
} as const;

async function onState(state: AuthState): Promise<void> {
  const signedIn = state.status === 'signed-in';
  show($('signed-out'), !signedIn);
  show($('signed-in'), signedIn);
  const badge = $('session-badge');
  badge.classList.toggle('on', signedIn);
  document.body.dataset.session = state.status;
  if (!signedIn) {
    badge.textContent = 'signed out';
    for (const panel of panels) panel.reset();
    if (state.reason) notify(REASONS[state.reason], state.reason === 'logout' ? 'info' : 'error');
    return;
  }
  clearNotice();
  badge.textContent = `signed in · ${state.claims.role ?? 'no org'}`;
  // Every card reads its data again: after a sign-in and after switching organization alike.
  const results = await Promise.allSettled(panels.map((panel) => panel.load()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed && client.state.status === 'signed-in') notify(describeError(failed.reason), 'error');
}

client.on('state', (state) => void onState(state));
// A success emits 'state' itself; without a live cookie the page shows the sign-in form. Mail links
// come after, so the first render of the signed-in view does not clear their notice. A reset link's
// form is part of the signed-out view: a live cookie (of whichever account) must not resume over it,
// and the reset ends that account's sessions anyway.
const opening = location.pathname === '/reset-password' ? Promise.resolve(client.state) : client.resume();
opening
  .then((state) => {
    if (state.status === 'signed-out') void onState(state);
  })
  .catch((err: unknown) => {
    void onState(client.state);
    notify(describeError(err), 'error');
  })
  .finally(() => handleMailLinks(client));
