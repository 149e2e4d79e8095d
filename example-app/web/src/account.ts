import type { AuthClient, Me } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, countdown, h, onClick, show } from './ui.js';

/** Who am I: the user, the organization and role the token is scoped to, and the token's life. */
export function initAccount(client: AuthClient): Panel {
  const list = $('whoami');
  const tokenLine = $('token-line');
  const result = $('hello-result');
  let refreshes = 0;
  let ticker: ReturnType<typeof setInterval> | undefined;

  client.on('tokens', () => {
    refreshes += 1;
  });

  const renderTokenLine = () => {
    const claims = client.claims;
    if (!claims) return void (tokenLine.textContent = '');
    const now = Date.now();
    tokenLine.textContent =
      `Access token lives ${claims.exi ?? '?'} s: expires in ${countdown(client.accessExpiresAt - now)}, ` +
      `refreshes in ${countdown(client.nextRefreshAt - now)} · new tokens received: ${refreshes}`;
  };

  const render = (me: Me) => {
    const row = (label: string, value: Node | string) => [h('dt', {}, label), h('dd', {}, value)];
    const org = me.organization;
    list.replaceChildren(
      ...row('Email', me.email),
      ...row('User id', h('code', {}, me.id)),
      ...row('Organization', org ? `${org.name} (${org.slug})` : 'none yet'),
      ...row('Org id', org ? h('code', {}, org.id) : '–'),
      ...row('Role', h('span', { class: 'pill' }, me.role ?? 'none')),
      ...row('Signed in via', me.via === 'jwt' ? 'access token (Bearer)' : 'API key'),
    );
    list.dataset.email = me.email;
  };

  onClick($<HTMLButtonElement>('logout'), () => client.logout());
  onClick($<HTMLButtonElement>('refresh-now'), async () => {
    await client.refresh();
    renderTokenLine();
  });
  onClick($<HTMLButtonElement>('call-hello'), async () => {
    // A route of the host app guarded by auth.requireAuth(): client.request adds the Bearer token.
    const res = await client.request('/api/hello');
    result.textContent = `${res.status} ${JSON.stringify(await res.json(), null, 2)}`;
    show(result, true);
  });

  return {
    async load() {
      render(await client.me());
      renderTokenLine();
      clearInterval(ticker);
      ticker = setInterval(renderTokenLine, 1_000);
    },
    reset() {
      clearInterval(ticker);
      list.replaceChildren();
      delete list.dataset.email;
      tokenLine.textContent = '';
      show(result, false);
      refreshes = 0;
    },
  };
}
