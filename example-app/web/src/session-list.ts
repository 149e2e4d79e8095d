import type { AuthClient, Session } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, h, notify, onClick, time } from './ui.js';

/** "Chrome on Linux" from a user agent string; the whole string stays in the cell's title. */
function device(userAgent: string | null): string {
  if (!userAgent) return 'unknown device';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(userAgent)
        ? 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : (userAgent.split(/[\s/]/)[0] ?? userAgent);
  const os = /Windows/.test(userAgent) ? 'Windows' : /Mac OS X|Macintosh/.test(userAgent) ? 'macOS' : /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Linux/.test(userAgent) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

/** The user's sessions: one "Sign out" per session, and "Sign out everywhere else". */
export function initSessionList(client: AuthClient): Panel {
  const rows = $('sessions-table').querySelector('tbody') as HTMLTableSectionElement;

  const row = (session: Session) => {
    const tr = h(
      'tr',
      {},
      h('td', { class: 'device', title: session.userAgent ?? '' }, device(session.userAgent), session.current ? ' ' : null, session.current ? h('span', { class: 'pill on' }, 'this tab') : null),
      h('td', {}, session.ip ?? '–'),
      h('td', {}, time(session.lastUsedAt)),
      h('td', {}, h('button', { class: 'danger small', onclick: () => void end(session) }, 'Sign out')),
    );
    tr.dataset.sessionId = session.id;
    if (session.current) tr.dataset.current = 'true';
    return tr;
  };

  async function list(): Promise<void> {
    rows.replaceChildren(...(await client.sessions()).map(row));
  }

  async function end(session: Session): Promise<void> {
    try {
      // Ending this tab's own session signs the client out: the page switches to the sign-in view.
      await client.endSession(session.id);
      if (session.current) return;
      notify(`Signed out ${device(session.userAgent)} (${session.ip ?? 'unknown IP'})`, 'success');
      await list();
    } catch (err) {
      notify(String(err), 'error');
    }
  }

  onClick($<HTMLButtonElement>('sessions-reload'), list);
  onClick($<HTMLButtonElement>('end-other-sessions'), async () => {
    await client.endOtherSessions();
    notify('Every other session is signed out.', 'success');
    await list();
  });

  return {
    load: list,
    reset() {
      rows.replaceChildren();
    },
  };
}
