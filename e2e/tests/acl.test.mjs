import { test, before } from 'node:test';
import { Parse, assert, className, createClass, newUser, expectParseError } from '../lib/parse.mjs';

const C = className('Acl');
let A, B, privateObj, publicObj, readOnlyObj;

before(async () => {
  await createClass(C);
  A = await newUser('aclA');
  B = await newUser('aclB');

  privateObj = new Parse.Object(C);
  privateObj.set({ label: 'private', n: 1 });
  privateObj.setACL(new Parse.ACL(A.user)); // A: read+write, nobody else
  await privateObj.save(null, { sessionToken: A.token });

  publicObj = new Parse.Object(C);
  publicObj.set({ label: 'public', n: 2 });
  await publicObj.save(null, { sessionToken: A.token });

  readOnlyObj = new Parse.Object(C);
  readOnlyObj.set({ label: 'readonly', n: 3 });
  const acl = new Parse.ACL(A.user);
  acl.setPublicReadAccess(true);
  readOnlyObj.setACL(acl);
  await readOnlyObj.save(null, { sessionToken: A.token });
});

const labels = (res) => res.map((o) => o.get('label')).sort();

test('the ACL is stored as given', async () => {
  const o = await new Parse.Query(C).get(privateObj.id, { sessionToken: A.token });
  const acl = o.getACL();
  assert.equal(acl.getReadAccess(A.user.id), true);
  assert.equal(acl.getWriteAccess(A.user.id), true);
  assert.equal(acl.getPublicReadAccess(), false);
  assert.deepEqual(acl.toJSON(), { [A.user.id]: { read: true, write: true } });
});

test('owner A sees the private object in find and get', async () => {
  assert.deepEqual(labels(await new Parse.Query(C).find({ sessionToken: A.token })), ['private', 'public', 'readonly']);
  const o = await new Parse.Query(C).get(privateObj.id, { sessionToken: A.token });
  assert.equal(o.get('n'), 1);
});

test('user B does not see it: find omits it, get → 101, count excludes it', async () => {
  assert.deepEqual(labels(await new Parse.Query(C).find({ sessionToken: B.token })), ['public', 'readonly']);
  await expectParseError(new Parse.Query(C).get(privateObj.id, { sessionToken: B.token }), Parse.Error.OBJECT_NOT_FOUND);
  const ghost = new Parse.Object(C);
  ghost.id = privateObj.id;
  await expectParseError(ghost.fetch({ sessionToken: B.token }), 101);
  assert.equal(await new Parse.Query(C).count({ sessionToken: B.token }), 2);
  assert.equal(await new Parse.Query(C).equalTo('label', 'private').count({ sessionToken: B.token }), 0);
});

test('anonymous callers do not see it either', async () => {
  assert.deepEqual(labels(await new Parse.Query(C).find()), ['public', 'readonly']);
  await expectParseError(new Parse.Query(C).get(privateObj.id), 101);
});

test('the master key sees everything', async () => {
  assert.deepEqual(labels(await new Parse.Query(C).find({ useMasterKey: true })), ['private', 'public', 'readonly']);
  assert.equal((await new Parse.Query(C).get(privateObj.id, { useMasterKey: true })).get('label'), 'private');
});

test('B cannot update or delete A’s objects without write access → 101', async () => {
  for (const target of [privateObj, readOnlyObj]) {
    const w = new Parse.Object(C);
    w.id = target.id;
    w.set('n', 999);
    await expectParseError(w.save(null, { sessionToken: B.token }), Parse.Error.OBJECT_NOT_FOUND);
    await expectParseError(w.destroy({ sessionToken: B.token }), 101);
  }
  const still = await new Parse.Query(C).get(readOnlyObj.id, { sessionToken: B.token });
  assert.equal(still.get('n'), 3, 'readable by B but unchanged');
});

test('A can update its private object; public objects are writable by anyone', async () => {
  const w = new Parse.Object(C);
  w.id = privateObj.id;
  w.set('n', 10);
  await w.save(null, { sessionToken: A.token });
  assert.equal((await new Parse.Query(C).get(privateObj.id, { sessionToken: A.token })).get('n'), 10);

  const p = new Parse.Object(C);
  p.id = publicObj.id;
  p.set('touchedBy', 'B');
  await p.save(null, { sessionToken: B.token });
  assert.equal((await new Parse.Query(C).get(publicObj.id)).get('touchedBy'), 'B');
});

test('granting B read access makes the object visible to B', async () => {
  const o = new Parse.Object(C);
  o.set('label', 'shared');
  const acl = new Parse.ACL(A.user);
  acl.setReadAccess(B.user.id, true);
  o.setACL(acl);
  await o.save(null, { sessionToken: A.token });
  const seen = await new Parse.Query(C).get(o.id, { sessionToken: B.token });
  assert.equal(seen.get('label'), 'shared');
  // but not writable by B
  seen.set('label', 'hijacked');
  await expectParseError(seen.save(null, { sessionToken: B.token }), 101);
  // and still invisible to anonymous
  await expectParseError(new Parse.Query(C).get(o.id), 101);
});
