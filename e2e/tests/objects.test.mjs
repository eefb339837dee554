import { test, before } from 'node:test';
import { Parse, assert, className, createClass, expectParseError, OBJECT_ID_RE } from '../lib/parse.mjs';

const C = className('Obj');
const T = className('ObjTarget');

before(async () => {
  await createClass(C);
  await createClass(T);
});

test('create: objectId is 10 alphanumeric chars, createdAt/updatedAt are Dates', async () => {
  const o = new Parse.Object(C);
  o.set('title', 'hello');
  const saved = await o.save();
  assert.equal(saved, o);
  assert.match(o.id, OBJECT_ID_RE);
  assert.ok(o.createdAt instanceof Date, 'createdAt is a Date');
  assert.ok(o.updatedAt instanceof Date, 'updatedAt is a Date');
  assert.ok(!Number.isNaN(o.createdAt.getTime()));
  assert.equal(o.createdAt.getTime(), o.updatedAt.getTime(), 'on create updatedAt == createdAt');
  assert.ok(Math.abs(Date.now() - o.createdAt.getTime()) < 10 * 60 * 1000, 'createdAt is about now');
  assert.equal(o.get('title'), 'hello');
});

test('create two objects: distinct ids', async () => {
  const [a, b] = [new Parse.Object(C), new Parse.Object(C)];
  await a.save();
  await b.save();
  assert.notEqual(a.id, b.id);
});

test('fetch returns the saved fields', async () => {
  const o = new Parse.Object(C);
  o.set({ title: 'fetch me', n: 7 });
  await o.save();

  const copy = new Parse.Object(C);
  copy.id = o.id;
  await copy.fetch();
  assert.equal(copy.get('title'), 'fetch me');
  assert.equal(copy.get('n'), 7);
  assert.equal(copy.createdAt.getTime(), o.createdAt.getTime());
  assert.equal(copy.updatedAt.getTime(), o.updatedAt.getTime());

  const viaGet = await new Parse.Query(C).get(o.id);
  assert.equal(viaGet.id, o.id);
  assert.equal(viaGet.get('title'), 'fetch me');
});

test('update changes the field and bumps updatedAt', async () => {
  const o = new Parse.Object(C);
  o.set({ title: 'v1', keep: 'same' });
  await o.save();
  const created = o.createdAt.getTime();
  await new Promise((r) => setTimeout(r, 15));
  o.set('title', 'v2');
  await o.save();
  assert.ok(o.updatedAt.getTime() > created, 'updatedAt moved forward');
  assert.equal(o.createdAt.getTime(), created, 'createdAt unchanged');

  const fresh = await new Parse.Query(C).get(o.id);
  assert.equal(fresh.get('title'), 'v2');
  assert.equal(fresh.get('keep'), 'same', 'untouched field kept');
  assert.equal(fresh.updatedAt.getTime(), o.updatedAt.getTime());
});

test('destroy, then fetch/get → 101 Object not found', async () => {
  const o = new Parse.Object(C);
  o.set('title', 'doomed');
  await o.save();
  const id = o.id;
  await o.destroy();

  const copy = new Parse.Object(C);
  copy.id = id;
  await expectParseError(copy.fetch(), Parse.Error.OBJECT_NOT_FOUND);
  await expectParseError(new Parse.Query(C).get(id), 101, /Object not found/);
  // destroying again is also 101
  const again = new Parse.Object(C);
  again.id = id;
  await expectParseError(again.destroy(), 101);
});

test('fetch of a never-existing id → 101', async () => {
  const o = new Parse.Object(C);
  o.id = 'zzzzzzzzzz';
  await expectParseError(o.fetch(), 101);
});

test('all types round-trip', async () => {
  const target = new Parse.Object(T);
  target.set('name', 'the target');
  await target.save();

  const when = new Date('2020-01-02T03:04:05.678Z');
  const nested = { a: 1, b: { c: [1, 2, { d: 'deep' }], e: null, f: true }, g: 'str' };
  const arr = [1, 'two', 3.5, false, null, { k: 'v' }, [1, 2]];
  const acl = new Parse.ACL();
  acl.setPublicReadAccess(true);
  acl.setPublicWriteAccess(true);
  acl.setRoleWriteAccess('Admin', true);

  const o = new Parse.Object(C);
  o.set('str', 'héllo wörld 🌍 "quoted" \\ \n newline');
  o.set('emptyStr', '');
  o.set('int', 42);
  o.set('neg', -17);
  o.set('big', 2 ** 40);
  o.set('float', 3.25);
  o.set('zero', 0);
  o.set('yes', true);
  o.set('no', false);
  o.set('nothing', null);
  o.set('when', when);
  o.set('arr', arr);
  o.set('emptyArr', []);
  o.set('obj', nested);
  o.set('geo', new Parse.GeoPoint(40.5, -73.25));
  o.set('ptr', target);
  o.set('bytes', { __type: 'Bytes', base64: 'AAECAwQ=' });
  o.setACL(acl);
  await o.save();

  const f = await new Parse.Query(C).get(o.id);
  assert.equal(f.get('str'), 'héllo wörld 🌍 "quoted" \\ \n newline');
  assert.equal(f.get('emptyStr'), '');
  assert.equal(f.get('int'), 42);
  assert.equal(f.get('neg'), -17);
  assert.equal(f.get('big'), 2 ** 40);
  assert.equal(f.get('float'), 3.25);
  assert.equal(f.get('zero'), 0);
  assert.equal(f.get('yes'), true);
  assert.equal(f.get('no'), false);
  // Parse does not store a null set on create: it reads back as undefined (see ORACLE-NOTES).
  assert.equal(f.get('nothing'), undefined);

  assert.ok(f.get('when') instanceof Date, 'Date field decodes to a Date');
  assert.equal(f.get('when').toISOString(), '2020-01-02T03:04:05.678Z');

  assert.deepEqual(f.get('arr'), arr);
  assert.deepEqual(f.get('emptyArr'), []);
  assert.deepEqual(f.get('obj'), nested);

  const geo = f.get('geo');
  assert.ok(geo instanceof Parse.GeoPoint, 'GeoPoint decodes to Parse.GeoPoint');
  assert.equal(geo.latitude, 40.5);
  assert.equal(geo.longitude, -73.25);

  const ptr = f.get('ptr');
  assert.ok(ptr instanceof Parse.Object, 'pointer decodes to a Parse.Object');
  assert.equal(ptr.className, T);
  assert.equal(ptr.id, target.id);
  assert.equal(ptr.get('name'), undefined, 'pointer is not expanded without include');

  assert.deepEqual(f.get('bytes'), { __type: 'Bytes', base64: 'AAECAwQ=' });

  const facl = f.getACL();
  assert.ok(facl instanceof Parse.ACL);
  assert.equal(facl.getPublicReadAccess(), true);
  assert.equal(facl.getPublicWriteAccess(), true);
  assert.equal(facl.getRoleWriteAccess('Admin'), true);
  assert.equal(facl.getRoleReadAccess('Admin'), false);
  assert.deepEqual(facl.toJSON(), { '*': { read: true, write: true }, 'role:Admin': { write: true } });
});

test('setting an existing field to null reads back as absent', async () => {
  const o = new Parse.Object(C);
  o.set('title', 'to be nulled');
  await o.save();
  o.set('title', null);
  await o.save();
  const f = await new Parse.Query(C).get(o.id);
  assert.equal(f.get('title'), undefined);
});

test('object without an explicit ACL has no ACL field', async () => {
  const o = new Parse.Object(C);
  o.set('title', 'no acl');
  await o.save();
  const f = await new Parse.Query(C).get(o.id);
  assert.equal(f.getACL(), null); // no ACL key in the server response
});

test('update of a nested object and an array replaces them whole', async () => {
  const o = new Parse.Object(C);
  o.set({ obj: { a: 1, b: 2 }, arr: [1, 2, 3] });
  await o.save();
  o.set('obj', { c: 3 });
  o.set('arr', ['x']);
  await o.save();
  const f = await new Parse.Query(C).get(o.id);
  assert.deepEqual(f.get('obj'), { c: 3 });
  assert.deepEqual(f.get('arr'), ['x']);
});

test('Date and GeoPoint can be updated', async () => {
  const o = new Parse.Object(C);
  o.set({ when: new Date('2001-01-01T00:00:00.000Z'), geo: new Parse.GeoPoint(1, 2) });
  await o.save();
  o.set({ when: new Date('2002-02-02T02:02:02.002Z'), geo: new Parse.GeoPoint(-3.5, 4.25) });
  await o.save();
  const f = await new Parse.Query(C).get(o.id);
  assert.equal(f.get('when').toISOString(), '2002-02-02T02:02:02.002Z');
  assert.equal(f.get('geo').latitude, -3.5);
  assert.equal(f.get('geo').longitude, 4.25);
});
