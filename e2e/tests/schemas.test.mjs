import { test } from 'node:test';
import { Parse, assert, className, expectParseError } from '../lib/parse.mjs';

const DEFAULT_FIELDS = {
  objectId: { type: 'String' },
  createdAt: { type: 'Date' },
  updatedAt: { type: 'Date' },
  ACL: { type: 'ACL' },
};

test('create a schema with typed fields and read it back', async () => {
  const C = className('Schema');
  const created = await new Parse.Schema(C)
    .addString('a')
    .addNumber('b')
    .addBoolean('c')
    .addDate('d')
    .addArray('e')
    .addObject('f')
    .addGeoPoint('g')
    .addPointer('h', '_User')
    .save();
  assert.equal(created.className, C);

  const s = await new Parse.Schema(C).get();
  assert.equal(s.className, C);
  assert.deepEqual(s.fields, {
    ...DEFAULT_FIELDS,
    a: { type: 'String' },
    b: { type: 'Number' },
    c: { type: 'Boolean' },
    d: { type: 'Date' },
    e: { type: 'Array' },
    f: { type: 'Object' },
    g: { type: 'GeoPoint' },
    h: { type: 'Pointer', targetClass: '_User' },
  });
  // default class-level permissions: public everything
  const clp = s.classLevelPermissions;
  for (const op of ['find', 'get', 'count', 'create', 'update', 'delete', 'addField']) {
    assert.deepEqual(clp[op], { '*': true }, `CLP ${op}`);
  }
  assert.deepEqual(clp.protectedFields, { '*': [] });
});

test('an empty schema has exactly the default fields', async () => {
  const C = className('SchemaEmpty');
  await new Parse.Schema(C).save();
  const s = await new Parse.Schema(C).get();
  assert.deepEqual(s.fields, DEFAULT_FIELDS);
});

test('fields added by saving objects show up in the schema with inferred types', async () => {
  const C = className('SchemaInfer');
  await new Parse.Schema(C).save();
  const o = new Parse.Object(C);
  o.set({ s: 'x', n: 1.5, b: true, d: new Date(), arr: [1], obj: { k: 1 }, geo: new Parse.GeoPoint(1, 1), bytes: { __type: 'Bytes', base64: 'AA==' } });
  await o.save();
  const ptr = new Parse.Object(C);
  ptr.set('p', o);
  await ptr.save();
  const s = await new Parse.Schema(C).get();
  assert.deepEqual(s.fields, {
    ...DEFAULT_FIELDS,
    s: { type: 'String' },
    n: { type: 'Number' },
    b: { type: 'Boolean' },
    d: { type: 'Date' },
    arr: { type: 'Array' },
    obj: { type: 'Object' },
    geo: { type: 'GeoPoint' },
    bytes: { type: 'Bytes' },
    p: { type: 'Pointer', targetClass: C },
  });
});

test('saving a wrong type for a known field → 111', async () => {
  const C = className('SchemaType');
  await new Parse.Schema(C).addString('a').addNumber('b').save();
  const bad = new Parse.Object(C);
  bad.set('b', 'not a number');
  await expectParseError(bad.save(), Parse.Error.INCORRECT_TYPE, /expected Number but got String/);
  const bad2 = new Parse.Object(C);
  bad2.set('a', 42);
  await expectParseError(bad2.save(), 111);

  // also on update, and for a type learned from a previous save
  const ok = new Parse.Object(C);
  ok.set({ a: 'fine', b: 1, flag: true });
  await ok.save();
  ok.set('b', { nested: true });
  await expectParseError(ok.save(), 111);
  const again = new Parse.Object(C);
  again.id = ok.id;
  again.set('flag', 'yes');
  await expectParseError(again.save(), 111);
  assert.equal((await new Parse.Query(C).get(ok.id)).get('b'), 1);
});

test('creating an existing class → 103; getting a missing class → 103', async () => {
  const C = className('SchemaDup');
  await new Parse.Schema(C).save();
  await expectParseError(new Parse.Schema(C).save(), Parse.Error.INVALID_CLASS_NAME, /already exists/);
  await expectParseError(new Parse.Schema(className('NoSuch')).get(), 103);
});

test('update adds and deletes fields', async () => {
  const C = className('SchemaUpd');
  await new Parse.Schema(C).addString('a').save();
  const s = new Parse.Schema(C);
  s.addNumber('extra');
  s.deleteField('a');
  await s.update();
  const got = await new Parse.Schema(C).get();
  assert.deepEqual(got.fields, { ...DEFAULT_FIELDS, extra: { type: 'Number' } });
});

test('Schema.all lists the classes, purge empties a class, delete drops it', async () => {
  const C = className('SchemaAll');
  await new Parse.Schema(C).save();
  const all = await Parse.Schema.all();
  assert.ok(Array.isArray(all));
  assert.ok(all.some((s) => s.className === C));
  assert.ok(all.some((s) => s.className === '_User'));

  const objs = [1, 2, 3].map((i) => new Parse.Object(C).set('i', i));
  await Parse.Object.saveAll(objs);
  await expectParseError(new Parse.Schema(C).delete(), 255); // not empty
  await new Parse.Schema(C).purge();
  assert.equal(await new Parse.Query(C).greaterThan('i', 0).count(), 0);
  await new Parse.Schema(C).delete();
  await expectParseError(new Parse.Schema(C).get(), 103);
});

test('a class that does not exist cannot be used without the master key → 119', async () => {
  const C = className('NotCreated');
  await expectParseError(new Parse.Object(C).save(), Parse.Error.OPERATION_FORBIDDEN);
  await expectParseError(new Parse.Query(C).find(), 119);
  // with the master key the class is created on first save
  const o = new Parse.Object(C);
  o.set('a', 1);
  await o.save(null, { useMasterKey: true });
  assert.equal((await new Parse.Query(C).get(o.id)).get('a'), 1);
});
