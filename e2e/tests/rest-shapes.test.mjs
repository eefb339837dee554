// Raw REST response shapes (see ORACLE-NOTES.md). The SDK hides most of these details, but
// other clients (and the SDK's own decoding) depend on them.
import { test, before } from 'node:test';
import { assert, className, rest, RUN, uid, SERVER_URL, APP_ID, OBJECT_ID_RE } from '../lib/parse.mjs';

const C = className('Rest');
const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

before(async () => {
  const r = await rest('POST', `/schemas/${C}`, { master: true, body: {} });
  assert.equal(r.status, 200, r.text);
});

test('POST /schemas/X → 200 with default fields and CLP', async () => {
  const X = className('RestSchema');
  const r = await rest('POST', `/schemas/${X}`, { master: true, body: {} });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {
    className: X,
    fields: { objectId: { type: 'String' }, createdAt: { type: 'Date' }, updatedAt: { type: 'Date' }, ACL: { type: 'ACL' } },
    classLevelPermissions: {
      ACL: { '*': { read: true, write: true } },
      find: { '*': true }, get: { '*': true }, count: { '*': true }, create: { '*': true },
      update: { '*': true }, delete: { '*': true }, addField: { '*': true }, protectedFields: { '*': [] },
    },
  });
  const g = await rest('GET', `/schemas/${X}`, { master: true });
  assert.equal(g.status, 200);
  assert.deepEqual(g.body, r.body);
  const noMaster = await rest('GET', `/schemas/${X}`);
  assert.equal(noMaster.status, 403);
});

test('POST /classes/X → 201, Location header, {objectId, createdAt} only', async () => {
  const r = await rest('POST', `/classes/${C}`, { body: { title: 'hello', n: 1 } });
  assert.equal(r.status, 201);
  assert.deepEqual(Object.keys(r.body).sort(), ['createdAt', 'objectId']);
  assert.match(r.body.objectId, OBJECT_ID_RE);
  assert.match(r.body.createdAt, ISO_RE);
  assert.equal(r.headers.get('location'), `${SERVER_URL}/classes/${C}/${r.body.objectId}`);
  assert.match(r.headers.get('content-type'), /^application\/json/);

  const g = await rest('GET', `/classes/${C}/${r.body.objectId}`);
  assert.equal(g.status, 200);
  assert.deepEqual(g.body, { objectId: r.body.objectId, createdAt: r.body.createdAt, updatedAt: r.body.createdAt, title: 'hello', n: 1 });
});

test('GET /classes/X?count=1&limit=0 → {results:[], count}', async () => {
  await rest('POST', `/classes/${C}`, { body: { kind: 'counted' } });
  await rest('POST', `/classes/${C}`, { body: { kind: 'counted' } });
  const where = encodeURIComponent(JSON.stringify({ kind: 'counted' }));
  const r = await rest('GET', `/classes/${C}?where=${where}&count=1&limit=0`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { results: [], count: 2 });
  const plain = await rest('GET', `/classes/${C}?where=${where}`);
  assert.equal(plain.body.results.length, 2);
  assert.equal('count' in plain.body, false);
});

test('PUT with ops → {updatedAt} plus the op-changed fields only', async () => {
  const c = await rest('POST', `/classes/${C}`, { body: { n: 5, tags: ['a'], title: 't' } });
  const id = c.body.objectId;
  let r = await rest('PUT', `/classes/${C}/${id}`, { body: { n: { __op: 'Increment', amount: 3 }, title: 'plain set' } });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['n', 'updatedAt']);
  assert.equal(r.body.n, 8);
  assert.match(r.body.updatedAt, ISO_RE);
  r = await rest('PUT', `/classes/${C}/${id}`, { body: { tags: { __op: 'Add', objects: ['b'] } } });
  assert.deepEqual(r.body.tags, ['a', 'b']);
  r = await rest('PUT', `/classes/${C}/${id}`, { body: { tags: { __op: 'Remove', objects: ['a'] } } });
  assert.deepEqual(r.body.tags, ['b']);
  r = await rest('PUT', `/classes/${C}/${id}`, { body: { title: { __op: 'Delete' } } });
  assert.deepEqual(Object.keys(r.body), ['updatedAt']);
  r = await rest('PUT', `/classes/${C}/${id}`, { body: { title: 'x' } });
  assert.deepEqual(Object.keys(r.body), ['updatedAt']);
});

test('POST /batch → array of {success}|{error} in request order', async () => {
  const a = (await rest('POST', `/classes/${C}`, { body: { n: 1 } })).body.objectId;
  const b = (await rest('POST', `/classes/${C}`, { body: { n: 2 } })).body.objectId;
  const base = new URL(SERVER_URL).pathname; // e.g. /parse
  const r = await rest('POST', '/batch', {
    body: {
      requests: [
        { method: 'POST', path: `${base}/classes/${C}`, body: { n: 10 } },
        { method: 'PUT', path: `${base}/classes/${C}/${a}`, body: { n: { __op: 'Increment', amount: 5 } } },
        { method: 'DELETE', path: `${base}/classes/${C}/${b}` },
        { method: 'POST', path: `${base}/classes/${C}`, body: { n: 'str' } },
      ],
    },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 4);
  assert.deepEqual(Object.keys(r.body[0].success).sort(), ['createdAt', 'objectId']);
  assert.deepEqual(Object.keys(r.body[1].success).sort(), ['n', 'updatedAt']);
  assert.equal(r.body[1].success.n, 6);
  assert.deepEqual(r.body[2], { success: {} });
  assert.equal(r.body[3].error.code, 111);
  assert.equal(typeof r.body[3].error.error, 'string');
});

test('signup / login / users/me / sessions/me shapes', async () => {
  const username = `rest_${RUN}_${uid(4)}`;
  const su = await rest('POST', '/users', { body: { username, password: 'pw', email: `${username}@example.com` } });
  assert.equal(su.status, 201);
  assert.deepEqual(Object.keys(su.body).sort(), ['createdAt', 'objectId', 'sessionToken']);
  assert.match(su.body.sessionToken, /^r:/);
  assert.equal(su.headers.get('location'), `${SERVER_URL}/users/${su.body.objectId}`);

  const li = await rest('GET', `/login?username=${encodeURIComponent(username)}&password=pw`);
  assert.equal(li.status, 200);
  assert.equal(li.body.objectId, su.body.objectId);
  assert.equal(li.body.username, username);
  assert.equal(li.body.email, `${username}@example.com`);
  assert.match(li.body.sessionToken, /^r:/);
  assert.notEqual(li.body.sessionToken, su.body.sessionToken);
  assert.deepEqual(li.body.ACL, { [su.body.objectId]: { read: true, write: true } });
  assert.equal('password' in li.body, false);
  assert.equal('_hashed_password' in li.body, false);

  const me = await rest('GET', '/users/me', { session: li.body.sessionToken });
  assert.equal(me.status, 200);
  assert.equal(me.body.objectId, su.body.objectId);
  assert.equal(me.body.sessionToken, li.body.sessionToken);

  const sm = await rest('GET', '/sessions/me', { session: li.body.sessionToken });
  assert.equal(sm.status, 200);
  assert.equal(sm.body.sessionToken, li.body.sessionToken);
  assert.deepEqual(sm.body.user, { __type: 'Pointer', className: '_User', objectId: su.body.objectId });
  assert.deepEqual(sm.body.createdWith, { action: 'login', authProvider: 'password' });
  assert.equal(sm.body.expiresAt.__type, 'Date');

  const bad = await rest('POST', '/login', { body: { username, password: 'wrong' } });
  assert.equal(bad.status, 404);
  assert.deepEqual(bad.body, { code: 101, error: 'Invalid username/password.' });

  const out = await rest('POST', '/logout', { session: li.body.sessionToken });
  assert.equal(out.status, 200);
  assert.deepEqual(out.body, {});
  const after = await rest('GET', '/users/me', { session: li.body.sessionToken });
  assert.equal(after.status, 400);
  assert.equal(after.body.code, 209);
});

test('OPTIONS preflight and CORS headers on every response', async () => {
  const pre = await fetch(`${SERVER_URL}/classes/${C}`, {
    method: 'OPTIONS',
    headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'X-Parse-Application-Id, Content-Type' },
  });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.equal(pre.headers.get('access-control-allow-methods'), 'GET,PUT,POST,DELETE,OPTIONS');
  const allowed = pre.headers.get('access-control-allow-headers').split(',').map((s) => s.trim().toLowerCase());
  for (const h of ['x-parse-master-key', 'x-parse-rest-api-key', 'x-parse-javascript-key', 'x-parse-application-id',
    'x-parse-client-version', 'x-parse-session-token', 'x-requested-with', 'x-parse-revocable-session',
    'x-parse-request-id', 'content-type', 'pragma', 'cache-control']) {
    assert.ok(allowed.includes(h), `allow-headers has ${h}`);
  }
  assert.equal(pre.headers.get('access-control-expose-headers'), 'X-Parse-Job-Status-Id, X-Parse-Push-Status-Id');

  const err = await rest('GET', `/classes/${C}`, { appId: 'nope' });
  assert.equal(err.status, 403);
  assert.equal(err.headers.get('access-control-allow-origin'), '*');
  const ok = await rest('GET', `/classes/${C}?limit=0`);
  assert.equal(ok.headers.get('access-control-allow-origin'), '*');
});

test('GET /serverInfo (master) and /health', async () => {
  const r = await rest('GET', '/serverInfo', { master: true });
  assert.equal(r.status, 200);
  assert.equal(typeof r.body.parseServerVersion, 'string');
  assert.equal(typeof r.body.features, 'object');
  assert.equal(r.body.features.schemas.addClass, true);
  assert.equal((await rest('GET', '/serverInfo')).status, 403);
  const h = await rest('GET', '/health');
  assert.equal(h.status, 200);
  assert.deepEqual(h.body, { status: 'ok' });
});

test('DELETE /purge/X → 200 {} and the class is empty', async () => {
  const X = className('RestPurge');
  await rest('POST', `/schemas/${X}`, { master: true, body: {} });
  await rest('POST', `/classes/${X}`, { body: { a: 1 } });
  await rest('POST', `/classes/${X}`, { body: { a: 2 } });
  const p = await rest('DELETE', `/purge/${X}`, { master: true });
  assert.equal(p.status, 200);
  assert.deepEqual(p.body, {});
  const after = await rest('GET', `/classes/${X}?count=1&limit=0&where=${encodeURIComponent('{"a":{"$gt":0}}')}`);
  assert.deepEqual(after.body, { results: [], count: 0 });
  assert.equal((await rest('DELETE', `/purge/${X}`)).status, 403);
});

test('SDK-style request: POST text/plain with _method/_ApplicationId in the body', async () => {
  await rest('POST', `/classes/${C}`, { body: { kind: 'sdkstyle', n: 1 } });
  const res = await fetch(`${SERVER_URL}/classes/${C}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ where: { kind: 'sdkstyle' }, keys: 'n', _method: 'GET', _ApplicationId: APP_ID, _ClientVersion: 'js8.6.2', _InstallationId: 'e2e-inst' }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.results.length, 1);
  assert.equal(body.results[0].n, 1);
  assert.equal(body.results[0].kind, undefined, 'keys honoured');

  const bad = await fetch(`${SERVER_URL}/classes/${C}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ _method: 'GET', _ApplicationId: 'nope' }),
  });
  assert.equal(bad.status, 403);
  assert.deepEqual(await bad.json(), { error: 'unauthorized' });
});
