/* global fetch */
// What a host app's client does against the README's "Mount it in an existing app" code:
// signup → signin → guarded route → refresh → logout, over real HTTP.
import assert from 'node:assert/strict';

async function call(baseUrl, method, path, { token, json } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  return { status: res.status, body, what: `${method} ${path} → ${res.status} ${text}` };
}

export async function runFlow(baseUrl) {
  const id = Date.now().toString(36);
  const email = `consumer-${id}@example.com`;
  const password = 'correct horse battery staple';

  const signup = await call(baseUrl, 'POST', '/auth/signup', {
    json: { email, password, action: 'create', orgCreateProps: { name: `Consumer ${id}`, slug: `consumer-${id}` } },
  });
  assert.equal(signup.status, 201, signup.what);

  const signin = await call(baseUrl, 'POST', '/auth/signin', { json: { email, password } });
  assert.equal(signin.status, 200, signin.what);
  const { access_token: access, refresh_token: refresh } = signin.body;

  const anonymous = await call(baseUrl, 'GET', '/api/projects');
  assert.equal(anonymous.status, 401, anonymous.what);
  assert.equal(anonymous.body.code, 'missing_token', anonymous.what);

  const projects = await call(baseUrl, 'GET', '/api/projects', { token: access });
  assert.equal(projects.status, 200, projects.what);
  assert.deepEqual(projects.body, { userId: signup.body.id, orgId: signup.body.organizationId, role: 'owner' });

  // A path parameter and a role check on the host's own route.
  const removed = await call(baseUrl, 'DELETE', '/api/projects/p-1', { token: access });
  assert.equal(removed.status, 204, removed.what);

  const refreshed = await call(baseUrl, 'POST', '/auth/refresh', { json: { refresh_token: refresh } });
  assert.equal(refreshed.status, 200, refreshed.what);
  const next = refreshed.body.access_token;
  assert.equal((await call(baseUrl, 'GET', '/api/projects', { token: next })).status, 200);

  const logout = await call(baseUrl, 'POST', '/auth/logout', { token: next });
  assert.equal(logout.status, 204, logout.what);
  const after = await call(baseUrl, 'GET', '/api/projects', { token: next });
  assert.equal(after.status, 401, after.what);
  const reuse = await call(baseUrl, 'POST', '/auth/refresh', { json: { refresh_token: refreshed.body.refresh_token } });
  assert.equal(reuse.status, 401, reuse.what);
}
