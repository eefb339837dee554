// Things apps do with the `parse` SDK that once answered differently from Parse Server 9.10:
// relation ops combined in one save, relation queries on a parent known by id, queries on a
// class that does not exist yet, a field named `length`, invalid `$regex` options, geo
// constraint errors, schema field options, class-level permissions and index deletion.
import { test } from 'node:test';
import { Parse, assert, className, createClass, expectParseError, rest } from '../lib/parse.mjs';

test('one save that adds and removes relation members (the SDK\'s Batch op)', async () => {
  const P = className('RelParent');
  const K = className('RelKid');
  const kids = await Parse.Object.saveAll([0, 1, 2].map((i) => new Parse.Object(K, { i })), { useMasterKey: true });
  const parent = new Parse.Object(P);
  parent.relation('kids').add([kids[0], kids[1]]);
  await parent.save(null, { useMasterKey: true });
  // Adding and removing before one save makes the SDK send {"__op":"Batch","ops":[…]}.
  const rel = parent.relation('kids');
  rel.add(kids[2]);
  rel.remove(kids[0]);
  await parent.save(null, { useMasterKey: true });
  const got = await parent.relation('kids').query().ascending('i').find({ useMasterKey: true });
  assert.deepEqual(got.map((k) => k.get('i')), [1, 2]);

  // A relation query on a parent known only by its id.
  const byId = new Parse.Object(P, { id: parent.id });
  const viaId = await byId.relation('kids').query().ascending('i').find({ useMasterKey: true });
  assert.deepEqual(viaId.map((k) => k.get('i')), [1, 2]);

  // Cloning an object that has a relation keeps working.
  const fetched = await new Parse.Query(P).get(parent.id, { useMasterKey: true });
  const copy = fetched.clone();
  assert.equal(copy.relation('kids').targetClassName, K);
});

// Clients get 119 instead unless the server allows client class creation (schemas.test.mjs).
test('a query on a class that does not exist yet is empty for the master key', async () => {
  const C = className('NotYet');
  for (const opts of [{ useMasterKey: true }]) {
    assert.deepEqual(await new Parse.Query(C).find(opts), []);
    assert.equal(await new Parse.Query(C).count(opts), 0);
    assert.equal(await new Parse.Query(C).first(opts), undefined);
  }
});

test('an invalid $regex option letter is error 102', async () => {
  const C = await createClass(className('RegexOpt'), (s) => s.addString('name'));
  await new Parse.Object(C, { name: 'Alpha' }).save(null, { useMasterKey: true });
  const q = new Parse.Query(C).matches('name', 'alp', 'iq');
  await expectParseError(q.find(), Parse.Error.INVALID_QUERY);
  assert.equal((await new Parse.Query(C).matches('name', 'alp', 'i').find()).length, 1);
});

test('a field named length is a field like any other', async () => {
  const C = await createClass(className('Len'));
  const o = new Parse.Object(C, { length: 5, name: 'a' });
  await o.save(null, { useMasterKey: true });
  const got = await new Parse.Query(C).equalTo('length', 5).find();
  assert.equal(got.length, 1);
  assert.equal(got[0].get('length'), 5);
  o.set('length', 7);
  await o.save(null, { useMasterKey: true });
  const again = await new Parse.Query(C).get(o.id);
  assert.equal(again.get('length'), 7);
  assert.equal((await new Parse.Query(C).greaterThan('length', 6).find()).length, 1);
});

test('geo constraints: swapped $box corners and invalid polygons answer as Parse', async () => {
  const C = await createClass(className('Geo'), (s) => s.addGeoPoint('at'));
  await new Parse.Object(C, { at: new Parse.GeoPoint(10, 10) }).save(null, { useMasterKey: true });
  const sw = new Parse.GeoPoint(0, 0);
  const ne = new Parse.GeoPoint(20, 20);
  assert.equal((await new Parse.Query(C).withinGeoBox('at', sw, ne).find()).length, 1);
  // Corners given the other way round: Parse's stores read the same box.
  assert.equal((await new Parse.Query(C).withinGeoBox('at', ne, sw).find()).length, 1);
  // $geoWithin.$polygon: fewer than 3 points, not an array, bad points → 107.
  const where = (polygon) => ({ at: { $geoWithin: { $polygon: polygon } } });
  for (const polygon of [[[0, 0], [1, 1]], 'nope', [[0, 0], [1, 1], ['x', 'y']]]) {
    const r = await rest('GET', `/classes/${C}?where=${encodeURIComponent(JSON.stringify(where(polygon)))}`);
    assert.equal(r.status, 400, `${JSON.stringify(polygon)}: ${r.text}`);
    assert.equal(r.body.code, Parse.Error.INVALID_JSON, `${JSON.stringify(polygon)}: ${r.text}`);
  }
  // A second GeoPoint field is refused.
  await expectParseError(
    new Parse.Object(C, { other: new Parse.GeoPoint(1, 1) }).save(null, { useMasterKey: true }),
    Parse.Error.INCORRECT_TYPE,
  );
});

test('schema field options, class-level permissions and index deletion through Parse.Schema', async () => {
  const C = className('Opts');
  const schema = new Parse.Schema(C);
  schema.addString('title', { required: true });
  schema.addNumber('stars', { defaultValue: 3 });
  schema.addIndex('by_title', { title: 1 });
  schema.addIndex('by_stars', { stars: -1 });
  await schema.save();
  const got = await new Parse.Schema(C).get();
  assert.deepEqual(got.fields.title, { type: 'String', required: true });
  assert.deepEqual(got.fields.stars, { type: 'Number', defaultValue: 3 });

  const o = await new Parse.Object(C, { title: 't' }).save();
  assert.equal(o.get('stars'), 3, 'the create answer carries the default');
  await expectParseError(new Parse.Object(C, { stars: 1 }).save(), Parse.Error.VALIDATION_ERROR, /title is required/);
  o.unset('title');
  await expectParseError(o.save(), Parse.Error.VALIDATION_ERROR);

  const clp = { find: { '*': true }, get: { '*': true }, count: { '*': true }, create: { '*': true }, update: {}, delete: {}, addField: {} };
  const s2 = new Parse.Schema(C);
  s2.setCLP(clp);
  await s2.update();
  assert.deepEqual((await new Parse.Schema(C).get()).classLevelPermissions, clp);

  const s3 = new Parse.Schema(C);
  s3.deleteIndex('by_title');
  const after = await s3.update();
  assert.deepEqual(after.indexes, { _id_: { _id: 1 }, by_stars: { stars: -1 } });
});
