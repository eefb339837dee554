// Development harness for bootstrap.cjs: plays ferrobase's side of
// docs/cloud-protocol.md. It listens on a Unix socket, spawns the worker with
// e2e/cloud/main.js (or the file given as argv[2]), checks the manifest, sends
// calls and answers `rest` frames with canned answers.
//
//   cd e2e && npm ci && node ../crates/ferrobase/src/cloud/test-harness.mjs
//
// Prints one line per check and `N passed, M failed`; exits 1 on a failure.

import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../../..');
const mainJs = path.resolve(process.argv[2] || path.join(repo, 'e2e/cloud/main.js'));
const parseDir = path.join(repo, 'e2e/node_modules/parse');
const sockPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fbcloud-')), 'cloud.sock');

// ---- framing -------------------------------------------------------------
function encode(msg) {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}
function reader(sock, onMsg) {
  let buf = Buffer.alloc(0);
  sock.on('data', d => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (buf.length < 4 + len) break;
      onMsg(JSON.parse(buf.subarray(4, 4 + len).toString('utf8')));
      buf = buf.subarray(4 + len);
    }
  });
}

// ---- canned REST answers ---------------------------------------------------
const restLog = [];
function answerRest(f) {
  restLog.push(f);
  const key = `${f.method} ${f.path}`;
  if (key === 'GET classes/GameScore' && f.body.where && f.body.where.objectId === 'missing') {
    return { status: 200, body: { results: [] } };
  }
  if (key === 'GET classes/GameScore') {
    return { status: 200, body: { results: [{ objectId: 'g1', score: 10 }, { objectId: 'g2', score: 20 }] } };
  }
  if (key === 'GET classes/GameScore/missing') return { status: 404, body: { code: 101, error: 'Object not found.' } };
  if (key === 'POST classes/GameScore') {
    return { status: 201, body: { objectId: 'new1', createdAt: '2024-05-01T00:00:00.000Z' } };
  }
  if (key === 'POST batch') {
    return {
      status: 200,
      body: f.body.requests.map((r, i) => ({ success: { objectId: 'b' + i, createdAt: '2024-05-01T00:00:00.000Z' } })),
    };
  }
  if (key === 'POST functions/hello') return { status: 200, body: { result: `Hello ${f.body.name}` } };
  if (key === 'POST jobs/cleanup') return { status: 200, body: {}, headers: { 'X-Parse-Job-Status-Id': 'js1' } };
  if (key === 'GET classes/_Role') {
    const where = f.body.where;
    if (where.users && where.users.objectId === 'admin1') return { status: 200, body: { results: [{ objectId: 'r1', name: 'Staff' }] } };
    if (where.roles) return { status: 200, body: { results: [{ objectId: 'r2', name: 'Admin' }] } };
    return { status: 200, body: { results: [] } };
  }
  return { status: 400, body: { code: 119, error: `no canned answer for ${key}` } };
}

// ---- worker ----------------------------------------------------------------
let conn;
let ready;
const frames = [];
const waiting = new Map();
let nextId = 1;
const readyP = new Promise(r => (ready = r));
const server = net.createServer(s => {
  conn = s;
  reader(s, m => {
    frames.push(m);
    if (m.t === 'ready' || m.t === 'fatal') ready(m);
    else if (m.t === 'result' || m.t === 'pong') {
      const w = waiting.get(`${m.t}:${m.id}`);
      if (w) {
        waiting.delete(`${m.t}:${m.id}`);
        w(m);
      }
    } else if (m.t === 'rest') {
      const a = answerRest(m);
      s.write(encode({ t: 'rest_result', id: m.id, status: a.status, body: a.body, headers: a.headers }));
    }
  });
});
await new Promise(r => server.listen(sockPath, r));
const child = spawn(process.execPath, [path.join(here, 'bootstrap.cjs')], {
  env: {
    ...process.env,
    FERROBASE_CLOUD_SOCKET: sockPath,
    FERROBASE_CLOUD_MAIN: mainJs,
    FERROBASE_CLOUD_PARSE: parseDir,
    FERROBASE_APP_ID: 'app',
    FERROBASE_MASTER_KEY: 'master',
    FERROBASE_SERVER_URL: 'http://127.0.0.1:1/parse',
    FERROBASE_CLOUD_WORKER: 'main',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let childOut = '';
child.stdout.on('data', d => (childOut += d));
child.stderr.on('data', d => (childOut += d));
const childExit = new Promise(r => child.on('exit', code => r(code)));

function rpc(type, msg, timeout = 5000) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} for id ${id}`)), timeout);
    waiting.set(`${type}:${id}`, m => {
      clearTimeout(timer);
      resolve(m);
    });
    conn.write(encode({ ...msg, id }));
  });
}
const base = (extra = {}) => ({ master: false, user: null, installationId: null, ip: '1.2.3.4', headers: { 'user-agent': 'ua' }, context: {}, requestId: 'rq', ...extra });
const user = { className: '_User', objectId: 'u1', username: 'alice', sessionToken: 'r:tok', email: 'a@x' };
const admin = { className: '_User', objectId: 'admin1', username: 'boss', sessionToken: 'r:adm' };
const fn = (name, params = {}, extra = {}) => rpc('result', { t: 'call', hook: 'function', name, request: base({ functionName: name, params, ...extra }) });
const trig = (trigger, className, request) => rpc('result', { t: 'call', hook: 'trigger', trigger, className, request: base(request) });
const ok = r => {
  assert.equal(r.ok, true, JSON.stringify(r.error));
  return r.value;
};
const fails = (r, code, message) => {
  assert.equal(r.ok, false, 'expected failure, got ' + JSON.stringify(r.value));
  assert.deepEqual([r.error.code, r.error.message], [code, message]);
};

// ---- checks ----------------------------------------------------------------
let passed = 0;
let failed = 0;
async function check(name, f) {
  try {
    await f();
    passed++;
    console.log('ok   ' + name);
  } catch (e) {
    failed++;
    console.log('FAIL ' + name + '\n     ' + String(e && e.stack ? e.stack : e).split('\n').slice(0, 30).join('\n     '));
  }
}

const first = await Promise.race([readyP, childExit.then(c => ({ t: 'exit', code: c }))]);
await check('ready manifest', () => {
  assert.equal(first.t, 'ready', childOut);
  const m = first.manifest;
  assert.deepEqual(m.functions.hello, { validator: { rateLimit: { requestTimeWindow: 1000, requestCount: 5 } } });
  assert.deepEqual(m.functions.echo, {});
  assert.deepEqual(m.functions.needsUser, { validator: {} });
  assert.deepEqual(m.jobs, ['cleanup']);
  assert.deepEqual(m.triggers.GameScore.sort(), ['afterEvent', 'afterFind', 'afterSave', 'beforeDelete', 'beforeFind', 'beforeSave', 'beforeSubscribe'].sort());
  assert.deepEqual(m.triggers._User.sort(), ['afterLogin', 'beforeLogin', 'beforePasswordResetRequest', 'beforeSave']);
  assert.deepEqual(m.triggers._Session, ['afterLogout']);
  assert.deepEqual(m.triggers['@File'], ['beforeSave', 'afterSave']);
  assert.deepEqual(m.triggers['@Config'], ['beforeSave', 'afterSave']);
  assert.deepEqual(m.triggers['@Connect'], ['beforeConnect']);
  assert.deepEqual(m.triggers.Profile, ['beforeSave']);
  assert.ok(m.rateLimits.some(r => r.requestPath === '/requestPasswordReset' && r.requestCount === 1));
  assert.ok(m.rateLimits.some(r => r.requestPath === '/functions/hello' && r.requestCount === 5));
});
if (first.t !== 'ready') {
  console.log(childOut);
  process.exit(1);
}

await check('ping/pong', async () => assert.equal((await rpc('pong', { t: 'ping' })).t, 'pong'));

await check('function result and params', async () => {
  assert.deepEqual(ok(await fn('hello', { name: 'Bob' })), { result: 'Hello Bob' });
  const v = ok(await fn('echo', { when: { __type: 'Date', iso: '2024-01-01T00:00:00.000Z' }, ptr: { __type: 'Pointer', className: 'X', objectId: 'x1' } }, { user, installationId: 'inst', context: { c: 1 } })).result;
  assert.equal(v.user, 'u1');
  assert.equal(v.token, 'r:tok');
  assert.equal(v.installationId, 'inst');
  assert.equal(v.ip, '1.2.3.4');
  assert.equal(v.ua, 'ua');
  assert.deepEqual(v.context, { c: 1 });
  assert.equal(v.isDate, true);
  assert.equal(v.isPointer, true);
  assert.deepEqual(v.params.ptr, { __type: 'Pointer', className: 'X', objectId: 'x1' });
});
await check('function returns Parse.Object full JSON', async () => {
  const v = ok(await fn('object')).result;
  assert.deepEqual(v.o, { n: 1, objectId: 't1', createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z', __type: 'Object', className: 'Thing' });
  assert.equal(v.list[0].__type, 'Object');
  assert.deepEqual(v.date, { __type: 'Date', iso: '2024-01-02T00:00:00.000Z' });
});
await check('function errors', async () => {
  fails(await fn('nope'), 141, 'Invalid function: "nope"');
  fails(await fn('throwString'), 141, 'plain string');
  fails(await fn('throwError'), 141, 'an Error');
  fails(await fn('throwParse'), 101, 'nope');
  fails(await fn('throwNothing'), 141, 'Script failed.');
});
await check('express-style function', async () => {
  assert.deepEqual(ok(await fn('express')), { result: { ok: true }, status: 201, headers: { 'X-Test': 'yes' } });
});
await check('validators: user, master, skip, keys', async () => {
  fails(await fn('needsUser'), 142, 'Validation failed. Please login to continue.');
  assert.deepEqual(ok(await fn('needsUser', {}, { user })), { result: 'ok' });
  fails(await fn('needsMaster', {}, { user }), 142, 'Validation failed. Master key is required to complete this request.');
  assert.deepEqual(ok(await fn('needsMaster', {}, { master: true })), { result: 'ok' });
  // Parse Server 9's FunctionsRouter runs the function even when skipWithMasterKey is set.
  assert.deepEqual(ok(await fn('skipMaster', {}, { master: true })), { result: 'ran' });
  assert.deepEqual(ok(await fn('skipMaster', {})), { result: 'ran' });
  fails(await fn('needsKeys', {}, { user: { ...user, email: undefined } }), 142, 'Validation failed. Please set data for email on your account.');
  assert.deepEqual(ok(await fn('needsKeys', {}, { user })), { result: 'ok' });
});
await check('validators: roles through _Role', async () => {
  fails(await fn('needsRole', {}, { user }), 142, 'Validation failed. User does not match the required roles.');
  assert.deepEqual(ok(await fn('needsRole', {}, { user: admin })), { result: 'ok' });
  assert.deepEqual(ok(await fn('needsAllRoles', {}, { user: admin })), { result: 'ok' });
  const roleCalls = restLog.filter(f => f.path === 'classes/_Role');
  assert.ok(roleCalls.every(f => f.auth.master === true && f.method === 'GET'));
});
await check('validators: fields', async () => {
  fails(await fn('fields', {}), 142, 'Validation failed. Please specify data for name.');
  fails(await fn('fields', { name: 3 }), 142, 'Validation failed. Invalid type for name. Expected: string');
  fails(await fn('fields', { name: 'x', kind: 'c' }), 142, 'Validation failed. Invalid option for kind. Expected: a, b');
  fails(await fn('fields', { name: 'x', odd: 2 }), 142, 'must be odd');
  assert.deepEqual(ok(await fn('fields', { name: 'x', kind: 'a', odd: 3 })).result, { name: 'x', kind: 'a', odd: 3, n: 7 });
  fails(await fn('fieldsArray', { a: 1 }), 142, 'Validation failed. Please specify data for b.');
  fails(await fn('fnValidator', {}), 142, 'no pass');
  assert.deepEqual(ok(await fn('fnValidator', { pass: 1 })), { result: 'ok' });
});
await check('SDK calls become rest frames', async () => {
  restLog.length = 0;
  assert.deepEqual(ok(await fn('query', {}, { user })).result, [10, 20]);
  const f = restLog[0];
  assert.equal(f.method, 'GET');
  assert.equal(f.path, 'classes/GameScore');
  assert.deepEqual(f.body.where, { player: 'p1' });
  assert.deepEqual(f.auth, { master: false, sessionToken: 'r:tok', installationId: null });
  assert.deepEqual(ok(await fn('save')).result, { id: 'new1', existed: false });
  const s = restLog[1];
  assert.deepEqual([s.method, s.path, s.body, s.auth.master, s.context], ['POST', 'classes/GameScore', { score: 5 }, true, { from: 'cloud' }]);
  assert.deepEqual(ok(await fn('saveAll')).result, ['b0', 'b1']);
  assert.equal(restLog[2].path, 'batch');
  assert.deepEqual(restLog[2].body.requests.map(r => r.path), ['/parse/classes/GameScore', '/parse/classes/GameScore']);
  fails(await fn('restError'), 101, 'Object not found.');
  assert.deepEqual(ok(await fn('runOther')), { result: 'Hello nested' });
  assert.deepEqual(ok(await fn('startJob')), { result: 'js1' });
  assert.equal(restLog.at(-1).auth.master, true);
  assert.deepEqual(ok(await fn('currentUser')), { result: null });
});
await check('logs and job messages', async () => {
  const before = frames.length;
  assert.deepEqual(ok(await fn('log')), { result: 'logged' });
  const logs = frames.slice(before).filter(f => f.t === 'log');
  assert.deepEqual(logs.map(l => [l.level, l.requestId]), [['info', 'rq'], ['error', 'rq']]);
  // As Parse Server's logger: the string is the message, a plain object after it the entry's fields.
  assert.equal(logs[0].message, 'info line');
  assert.deepEqual(logs[0].meta, { a: 1 });
  assert.equal(logs[1].message, 'error line');
  assert.equal(logs[1].meta, undefined);
  const j = await rpc('result', { t: 'call', hook: 'job', name: 'cleanup', request: base({ jobName: 'cleanup', jobId: 'J1', params: {} }) });
  ok(j);
  assert.ok(frames.some(f => f.t === 'job_message' && f.jobId === 'J1' && f.message === 'halfway'));
  fails(await rpc('result', { t: 'call', hook: 'job', name: 'none', request: base({ jobId: 'J2' }) }), 141, 'Invalid job.');
});
await check('beforeSave create', async () => {
  const v = ok(await trig('beforeSave', 'GameScore', { object: { className: 'GameScore' }, original: null, body: { score: 3, secret: 'x', tags: { __op: 'AddUnique', objects: ['a'] } }, user, context: { c: 1 } }));
  assert.deepEqual(v.body, { score: 3, checked: true, createdBy: 'u1', secret: { __op: 'Delete' }, tags: { __op: 'AddUnique', objects: ['a'] } });
  assert.deepEqual(v.context, { c: 1, seen: ['checked', 'score', 'secret', 'tags'] });
});
await check('beforeSave update with ops', async () => {
  const original = { className: 'GameScore', objectId: 'g1', score: 10, createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z' };
  const v = ok(await trig('beforeSave', 'GameScore', { object: original, original, body: { score: { __op: 'Increment', amount: 5 }, 'stats.wins': 2 } }));
  assert.deepEqual(v.body, { score: { __op: 'Increment', amount: 5 }, stats: { wins: 2 }, checked: true, secret: { __op: 'Delete' }, objectId: 'g1' });
  assert.deepEqual(v.context.seen, ['checked', 'score', 'secret', 'stats']);
  fails(await trig('beforeSave', 'GameScore', { object: { className: 'GameScore' }, body: { score: -1 } }), 141, 'negative score');
});
await check('beforeSave keeps typed values and relation ops', async () => {
  const body = {
    ACL: { '*': { read: true }, u1: { read: true, write: true } },
    owner: { __type: 'Pointer', className: '_User', objectId: 'u1' },
    at: { __type: 'Date', iso: '2024-03-01T00:00:00.000Z' },
    where: { __type: 'GeoPoint', latitude: 1, longitude: 2 },
    pic: { __type: 'File', name: 'f.png', url: 'http://x/f.png' },
    fans: { __op: 'AddRelation', objects: [{ __type: 'Pointer', className: '_User', objectId: 'u2' }] },
  };
  const v = ok(await trig('beforeSave', 'GameScore', { object: { className: 'GameScore' }, body: { ...body, score: 1 } }));
  for (const k of Object.keys(body)) assert.deepEqual(v.body[k], body[k], k);
});
await check('beforeSave subclass, constant/default fields, _User', async () => {
  const v = ok(await trig('beforeSave', 'Profile', { object: { className: 'Profile' }, body: { bio: '  hi  ', plan: 'gold' } }));
  assert.deepEqual(v.body, { bio: 'hi', plan: 'free' });
  const orig = { className: 'Profile', objectId: 'p1', plan: 'pro', bio: 'x' };
  const u = ok(await trig('beforeSave', 'Profile', { object: orig, original: orig, body: { plan: 'gold' } }));
  assert.deepEqual(u.body, { bio: 'x', objectId: 'p1' });
  const w = ok(await trig('beforeSave', '_User', { object: { className: '_User' }, body: { username: 'bob', password: 'pw' } }));
  assert.deepEqual(w.body, { username: 'bob', password: 'pw', nickname: 'BOB' });
});
await check('afterSave / beforeDelete', async () => {
  const v = ok(await trig('afterSave', 'GameScore', { object: { className: 'GameScore', objectId: 'g1', score: 1 }, original: null, context: { x: 1 } }));
  assert.deepEqual(v, { context: { x: 1 } });
  fails(await trig('beforeDelete', 'GameScore', { object: { className: 'GameScore', objectId: 'g1', locked: true } }), 119, 'locked');
  assert.deepEqual(ok(await trig('beforeDelete', 'GameScore', { object: { className: 'GameScore', objectId: 'g1' } })), { context: {} });
});
await check('beforeFind / afterFind', async () => {
  const v = ok(await trig('beforeFind', 'GameScore', { query: { className: 'GameScore', where: { player: 'p' }, limit: 100, order: 'score' }, count: false, isGet: false }));
  assert.deepEqual(v.query, { className: 'GameScore', where: { player: 'p', score: { $lt: 100 } }, limit: 10, order: 'score' });
  const c = ok(await trig('beforeFind', 'Cached', { query: { className: 'Cached', where: {} } }));
  assert.deepEqual(c.objects, [{ v: 1, objectId: 'c1', className: 'Cached' }]);
  const a = ok(await trig('afterFind', 'GameScore', { objects: [{ objectId: 'a', score: 1 }, { objectId: 'b', hidden: true }], query: { className: 'GameScore', where: {} } }));
  assert.deepEqual(a.objects, [{ objectId: 'a', score: 1, seen: true, className: 'GameScore' }]);
});
await check('login triggers', async () => {
  fails(await trig('beforeLogin', '_User', { object: { ...user, banned: true } }), 205, 'banned');
  assert.deepEqual(ok(await trig('beforeLogin', '_User', { object: user })), {});
  assert.deepEqual(ok(await trig('afterLogout', '_Session', { object: { className: '_Session', objectId: 's1' } })), {});
});
await check('file and config triggers', async () => {
  fails(await trig('beforeSave', '@File', { file: { name: 'a.exe', type: 'application/octet-stream', base64: 'AA==' }, fileSize: 1 }), 130, 'no executables');
  assert.deepEqual(ok(await trig('beforeSave', '@File', { file: { name: 'a.txt', type: 'text/plain', base64: 'aGk=' }, fileSize: 2 })), {});
  assert.deepEqual(ok(await trig('beforeSave', '@File', { file: { name: 'rename.txt', type: 'text/plain', base64: 'AA==' }, fileSize: 1 })), { file: { name: 'renamed.txt', base64: 'aGk=', type: 'text/plain' } });
  assert.deepEqual(ok(await trig('beforeSave', '@Config', { object: { params: { a: 1 } }, original: { params: {} } })), { object: { params: { a: 1, touched: true } } });
});
await check('live query triggers', async () => {
  fails(await trig('beforeConnect', '@Connect', { useMasterKey: false, clients: 1, subscriptions: 0, sessionToken: null }), 141, 'login first');
  assert.deepEqual(ok(await trig('beforeConnect', '@Connect', { sessionToken: 'r:tok', clients: 1, subscriptions: 0 })), {});
  assert.deepEqual(ok(await trig('beforeSubscribe', 'GameScore', { query: { className: 'GameScore', where: { a: 1 } }, sessionToken: null })), { query: { className: 'GameScore', where: { a: 1 }, keys: 'score' } });
  const e = ok(await trig('afterEvent', 'GameScore', { event: 'update', object: { className: 'GameScore', objectId: 'g1', score: 2 }, original: null, sendEvent: true }));
  assert.deepEqual(e, { sendEvent: true, object: { objectId: 'g1', score: 2, live: true, className: 'GameScore' }, original: null });
});
await check('unregistered trigger answers the input unchanged', async () => {
  assert.deepEqual(ok(await trig('beforeSave', 'Other', { object: { className: 'Other' }, body: { a: 1 } })), { body: { a: 1 }, context: {} });
});
await check('robustness: bad frames, unhandled rejection', async () => {
  conn.write(Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{x]')]));
  const r = await rpc('result', { t: 'bogus' });
  assert.equal(r.ok, false);
  fails(await rpc('result', { t: 'call', hook: 'nothing' }), 141, 'Unknown hook: "nothing"');
  assert.deepEqual(ok(await fn('unhandled')), { result: 'still alive' });
  await new Promise(r => setTimeout(r, 50));
  assert.equal((await rpc('pong', { t: 'ping' })).t, 'pong');
  assert.match(childOut, /unhandled rejection: Error: nobody catches me/);
  assert.match(childOut, /stdout line/);
});
await check('worker exits when the socket closes', async () => {
  conn.end();
  const code = await Promise.race([childExit, new Promise(r => setTimeout(() => r('timeout'), 3000))]);
  assert.equal(code, 0);
});

server.close();
if (failed) console.log('--- worker output ---\n' + childOut);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
