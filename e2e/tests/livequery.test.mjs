// LiveQuery with the real SDK: Parse.LiveQueryClient / query.subscribe() over WebSocket (the
// SDK's default liveQueryServerURL: the serverURL with http -> ws). Node uses the `ws` package the
// `parse` package depends on.
import { test, before, after } from 'node:test';
import {
  Parse, assert, className, createClass, newUser, APP_ID, SERVER_URL, MASTER_KEY, rest,
} from '../lib/parse.mjs';

const C = className('Live');
const WS_URL = SERVER_URL.replace(/^http/, 'ws');
const clients = [];

/** A LiveQueryClient as a given user (no master key), opened and tracked for cleanup. */
function client({ sessionToken, url = WS_URL, masterKey } = {}) {
  const c = new Parse.LiveQueryClient({ applicationId: APP_ID, serverURL: url, sessionToken, masterKey });
  c.open();
  clients.push(c);
  return c;
}

/** Resolves with the arguments of the next `event` on `emitter`, or rejects after `ms`. */
function next(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    // The SDK's subscriptions and clients expose `on` only (no `once`).
    emitter.on(event, (...args) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** Collects every event of the given names on a subscription. */
function record(sub, names = ['create', 'update', 'enter', 'leave', 'delete']) {
  const seen = [];
  for (const n of names) sub.on(n, (obj, original) => seen.push({ op: n, obj, original }));
  return seen;
}

const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));

async function subscribed(sub) {
  await sub.subscribePromise;
  return sub;
}

before(async () => {
  await createClass(C);
});

after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await Parse.LiveQuery.close().catch(() => {});
});

test('query.subscribe() receives create, enter, update, leave and delete', async () => {
  const q = new Parse.Query(C).greaterThan('score', 10);
  const sub = await subscribed(await q.subscribe());
  const obj = new Parse.Object(C);
  obj.set({ name: 'p1', score: 1 });
  await obj.save(null, { useMasterKey: true });

  let created = next(sub, 'create');
  const other = new Parse.Object(C);
  await other.save({ name: 'p2', score: 50 }, { useMasterKey: true });
  const [c] = await created;
  assert.ok(c instanceof Parse.Object);
  assert.equal(c.className, C);
  assert.equal(c.id, other.id);
  assert.equal(c.get('score'), 50);

  let entered = next(sub, 'enter');
  await obj.save({ score: 20 }, { useMasterKey: true });
  const [e, eOriginal] = await entered;
  assert.equal(e.id, obj.id);
  assert.equal(e.get('score'), 20);
  assert.equal(eOriginal.get('score'), 1);

  let updated = next(sub, 'update');
  await obj.save({ score: 30, name: 'p1b' }, { useMasterKey: true });
  const [u, uOriginal] = await updated;
  assert.equal(u.get('name'), 'p1b');
  assert.equal(uOriginal.get('score'), 20);

  let left = next(sub, 'leave');
  await obj.save({ score: 0 }, { useMasterKey: true });
  const [l] = await left;
  assert.equal(l.id, obj.id);

  let deleted = next(sub, 'delete');
  await other.destroy({ useMasterKey: true });
  const [d] = await deleted;
  assert.equal(d.id, other.id);

  await sub.unsubscribe();
  const seen = record(sub);
  await new Parse.Object(C).save({ score: 99 }, { useMasterKey: true });
  await settle();
  assert.equal(seen.length, 0, 'no events after unsubscribe');
});

test('each subscriber only receives what its ACL lets it read', async () => {
  const A = await newUser('liveA');
  const B = await newUser('liveB');
  const ca = client({ sessionToken: A.token });
  const cb = client({ sessionToken: B.token });
  const anon = client();
  const q = new Parse.Query(C).equalTo('tag', 'acl');
  const sa = await subscribed(ca.subscribe(q));
  const sb = await subscribed(cb.subscribe(q));
  const sn = await subscribed(anon.subscribe(q));
  const seenB = record(sb);
  const seenN = record(sn);

  const gotA = next(sa, 'create');
  const mine = new Parse.Object(C);
  mine.setACL(new Parse.ACL(A.user));
  await mine.save({ tag: 'acl', secret: 'for A' }, { sessionToken: A.token });
  const [objA] = await gotA;
  assert.equal(objA.get('secret'), 'for A');
  assert.equal(objA.getACL().getReadAccess(A.user.id), true);
  await settle();
  assert.deepEqual(seenB, [], 'B may not read it');
  assert.deepEqual(seenN, [], 'the public may not read it');

  // Shared with B through the ACL: B sees it enter, without the state it could not read.
  const enterB = next(sb, 'enter');
  const acl = new Parse.ACL(A.user);
  acl.setReadAccess(B.user.id, true);
  mine.setACL(acl);
  await mine.save(null, { sessionToken: A.token });
  const [objB, originalB] = await enterB;
  assert.equal(objB.id, mine.id);
  // Without an original the SDK passes the response ({clientId, …}) second.
  assert.ok(!(originalB instanceof Parse.Object), 'no original for an ACL grant');

  // A per-subscription token works on an anonymous connection too.
  const perSub = await subscribed(anon.subscribe(new Parse.Query(C).equalTo('tag', 'acl2'), B.token));
  const gotPerSub = next(perSub, 'create');
  const forB = new Parse.Object(C);
  forB.setACL(new Parse.ACL(B.user));
  await forB.save({ tag: 'acl2' }, { sessionToken: B.token });
  const [o] = await gotPerSub;
  assert.equal(o.id, forB.id);
});

test('a logged-out subscriber stops receiving', async () => {
  const U = await newUser('liveOut');
  const c = client();
  const sub = await subscribed(c.subscribe(new Parse.Query(C).equalTo('tag', 'out'), U.token));
  const first = next(sub, 'create');
  const o1 = new Parse.Object(C);
  o1.setACL(new Parse.ACL(U.user));
  await o1.save({ tag: 'out' }, { sessionToken: U.token });
  await first;
  await rest('POST', '/logout', { session: U.token });
  const seen = record(sub);
  const error = next(sub, 'error');
  const o2 = new Parse.Object(C);
  o2.setACL(new Parse.ACL(U.user));
  await o2.save({ tag: 'out' }, { useMasterKey: true });
  const [message] = await error;
  assert.match(String(message), /session token/i);
  await settle();
  assert.deepEqual(seen, []);
});

test('subscribing with an unsupported query is an error with a Parse code', async () => {
  const c = client();
  const q = new Parse.Query(C).matchesQuery('p', new Parse.Query('Other'));
  const sub = c.subscribe(q);
  sub.on('error', () => {});
  await assert.rejects(sub.subscribePromise, (e) => e.code === Parse.Error.INVALID_QUERY);
});

test('the client reconnects and resubscribes after the connection drops', async () => {
  const c = client({ masterKey: MASTER_KEY });
  const sub = await subscribed(c.subscribe(new Parse.Query(C).equalTo('tag', 'rc')));
  await settle(300); // past the first subscription's 'open'
  const reopened = next(c, 'open', 10000);
  c.socket.close(); // as if the network dropped
  await reopened;
  await next(sub, 'open', 5000); // resubscribed under the same subscription
  const got = next(sub, 'create');
  const o = new Parse.Object(C);
  await o.save({ tag: 'rc' }, { useMasterKey: true });
  const [obj] = await got;
  assert.equal(obj.id, o.id);
});

const NODE_B = process.env.PARSE_SERVER_URL_B;
test('a write on node A reaches a subscriber on node B (Redis)', { skip: NODE_B ? false : 'no second node (PARSE_SERVER_URL_B unset: Redis not available)' }, async () => {
  const c = client({ url: NODE_B.replace(/^http/, 'ws'), masterKey: MASTER_KEY });
  const sub = await subscribed(c.subscribe(new Parse.Query(C).equalTo('tag', 'redis')));
  const got = next(sub, 'create', 10000);
  const o = new Parse.Object(C);
  await o.save({ tag: 'redis', n: 1 }, { useMasterKey: true }); // written through node A
  const [obj] = await got;
  assert.equal(obj.id, o.id);
  assert.equal(obj.get('n'), 1);
});
