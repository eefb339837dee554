import { test, before } from 'node:test';
import { Parse, assert, className, createClass, expectParseError, OBJECT_ID_RE } from '../lib/parse.mjs';

const C = className('Batch');

before(async () => {
  await createClass(C, (s) => s.addNumber('i'));
});

test('saveAll creates 30 objects (SDK sends batches of 20 + 10)', async () => {
  const objs = Array.from({ length: 30 }, (_, i) => {
    const o = new Parse.Object(C);
    o.set({ i, group: 'create' });
    return o;
  });
  const saved = await Parse.Object.saveAll(objs);
  assert.equal(saved.length, 30);
  const ids = saved.map((o) => o.id);
  assert.ok(ids.every((id) => OBJECT_ID_RE.test(id)));
  assert.equal(new Set(ids).size, 30, 'ids are unique');
  assert.ok(saved.every((o) => o.createdAt instanceof Date && o.updatedAt instanceof Date));

  const found = await new Parse.Query(C).equalTo('group', 'create').ascending('i').limit(100).find();
  assert.equal(found.length, 30);
  assert.deepEqual(found.map((o) => o.get('i')), [...Array(30).keys()]);
  assert.deepEqual(found.map((o) => o.id), ids);
});

test('saveAll updates existing objects (with ops)', async () => {
  const objs = Array.from({ length: 25 }, (_, i) => {
    const o = new Parse.Object(C);
    o.set({ i, group: 'update', n: 0 });
    return o;
  });
  await Parse.Object.saveAll(objs);
  for (const o of objs) {
    o.set('group', 'updated');
    o.increment('n', 2);
  }
  await Parse.Object.saveAll(objs);
  const found = await new Parse.Query(C).equalTo('group', 'updated').limit(100).find();
  assert.equal(found.length, 25);
  assert.ok(found.every((o) => o.get('n') === 2));
  assert.ok(objs.every((o) => o.updatedAt.getTime() >= o.createdAt.getTime()));
});

test('destroyAll removes every object', async () => {
  const objs = Array.from({ length: 30 }, (_, i) => {
    const o = new Parse.Object(C);
    o.set({ i, group: 'destroy' });
    return o;
  });
  await Parse.Object.saveAll(objs);
  assert.equal(await new Parse.Query(C).equalTo('group', 'destroy').count(), 30);
  const res = await Parse.Object.destroyAll(objs);
  assert.equal(res.length, 30);
  assert.equal(await new Parse.Query(C).equalTo('group', 'destroy').count(), 0);
  await expectParseError(new Parse.Query(C).get(objs[0].id), 101);
});

test('saveAll mixing new and existing objects', async () => {
  const existing = new Parse.Object(C);
  existing.set({ group: 'mixed', i: 1 });
  await existing.save();
  existing.set('i', 100);
  const fresh = new Parse.Object(C);
  fresh.set({ group: 'mixed', i: 2 });
  await Parse.Object.saveAll([existing, fresh]);
  assert.match(fresh.id, OBJECT_ID_RE);
  const found = await new Parse.Query(C).equalTo('group', 'mixed').ascending('i').find();
  assert.deepEqual(found.map((o) => o.get('i')), [2, 100]);
});

test('saveAll with one invalid object: error code 111, the others are saved', async () => {
  const objs = [1, 2, 3].map((i) => {
    const o = new Parse.Object(C);
    o.set({ group: 'partial', i: i === 2 ? 'not a number' : i });
    return o;
  });
  await expectParseError(Parse.Object.saveAll(objs), Parse.Error.INCORRECT_TYPE);
  assert.match(objs[0].id, OBJECT_ID_RE);
  assert.equal(objs[1].id, undefined);
  assert.match(objs[2].id, OBJECT_ID_RE);
  assert.equal(await new Parse.Query(C).equalTo('group', 'partial').count(), 2);
});
