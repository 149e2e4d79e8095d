import { expect } from 'chai';
import { createAuthClient, type AuthClient } from 'gatehouse-auth/client';
import { PASSWORD, unique } from '../helpers/harness.js';
import { startExample, type RunningExample } from '../helpers/example.js';

/**
 * A fetch with the cookie jar a browser would have (one origin, Path ignored: the client
 * only talks to the router), recording the header and body of each pair route it sends.
 */
function browserLikeFetch() {
  const jar = new Map<string, string>();
  const sent: { path: string; transport: string | null; body: string | null; cookie: boolean }[] = [];
  const fetchFn: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    const url = new URL(String(input));
    if (init?.credentials === 'include' && jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    sent.push({ path: url.pathname, transport: headers.get('x-auth-transport'), body: typeof init?.body === 'string' ? init.body : null, cookie: headers.has('cookie') });
    const res = await fetch(input, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const [name = '', value = ''] = pair.split('=');
      if (attributes.some((a) => /^\s*max-age=0$/i.test(a))) jar.delete(name.trim());
      else jar.set(name.trim(), value.trim());
    }
    return res;
  };
  return { jar, sent, fetch: fetchFn };
}

describe('gatehouse-auth/client with transport: cookie', function () {
  this.timeout(30_000);
  let example: RunningExample;
  let baseUrl: string;
  const clients: AuthClient[] = [];

  before(async () => {
    example = await startExample({ accessTtl: 60 });
    baseUrl = `${example.url}/auth`;
  });
  after(async () => {
    for (const client of clients) client.close();
    await example.close();
  });

  function client(fetchFn: typeof fetch): AuthClient {
    const made = createAuthClient({ baseUrl, fetch: fetchFn, transport: 'cookie' });
    clients.push(made);
    return made;
  }

  async function signedIn(browser: ReturnType<typeof browserLikeFetch>) {
    const id = unique();
    const email = `cookie-${id}@example.com`;
    const first = client(browser.fetch);
    await first.signup({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: `Cookie ${id}`, slug: `cookie-${id}` } });
    const result = await first.signin(email, PASSWORD);
    expect(result.status).to.equal('signed-in');
    return { first, email };
  }

  it('signs in with the refresh token in the cookie only, and refreshes and logs out with it', async () => {
    const browser = browserLikeFetch();
    const { first } = await signedIn(browser);
    expect(first.tokens?.refreshToken).to.equal('');
    expect(browser.jar.get('gatehouse_refresh')).to.be.a('string').with.length.greaterThan(20);
    const signin = browser.sent.find((s) => s.path === '/auth/signin');
    expect(signin?.transport).to.equal('cookie');
    // Only the routes that read or set the cookie get the header.
    expect(browser.sent.find((s) => s.path === '/auth/signup')?.transport).to.equal(null);

    const cookieBefore = browser.jar.get('gatehouse_refresh');
    const accessBefore = first.tokens?.accessToken;
    await first.refresh();
    const refresh = browser.sent.filter((s) => s.path === '/auth/refresh').at(-1);
    expect(refresh).to.include({ transport: 'cookie', body: null, cookie: true });
    expect(browser.jar.get('gatehouse_refresh')).to.not.equal(cookieBefore);
    expect(first.tokens?.accessToken).to.not.equal(accessBefore);
    expect((await first.me()).email).to.match(/^cookie-/);

    await first.logout();
    expect(first.state).to.deep.equal({ status: 'signed-out', reason: 'logout' });
    expect(browser.sent.at(-1)).to.include({ path: '/auth/logout', transport: 'cookie', body: '{}', cookie: true });
    expect(browser.jar.has('gatehouse_refresh')).to.equal(false);
  });

  it('resumes a new client from the cookie without a sign-in', async () => {
    const browser = browserLikeFetch();
    const { email } = await signedIn(browser);
    const later = client(browser.fetch);
    expect(later.state.status).to.equal('signed-out');
    const state = await later.resume();
    expect(state.status).to.equal('signed-in');
    expect((await later.me()).email).to.equal(email);
    // Resuming again while signed in sends nothing.
    const count = browser.sent.length;
    expect((await later.resume()).status).to.equal('signed-in');
    expect(browser.sent.length).to.equal(count);
  });

  it('resumes to signed-out (no reason) without a cookie, or with a dead one', async () => {
    const empty = client(browserLikeFetch().fetch);
    expect(await empty.resume()).to.deep.equal({ status: 'signed-out', reason: null });

    const browser = browserLikeFetch();
    const { first } = await signedIn(browser);
    const stolen = browser.jar.get('gatehouse_refresh') ?? '';
    await first.logout();
    browser.jar.set('gatehouse_refresh', stolen);
    expect(await client(browser.fetch).resume()).to.deep.equal({ status: 'signed-out', reason: null });
  });

  it('leaves a body-token client as it was: resume() sends nothing', async () => {
    const browser = browserLikeFetch();
    const body = createAuthClient({ baseUrl, fetch: browser.fetch });
    clients.push(body);
    expect(await body.resume()).to.deep.equal({ status: 'signed-out', reason: null });
    expect(browser.sent).to.deep.equal([]);
  });
});
