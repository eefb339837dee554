import { test, before } from 'node:test';
import { Parse, assert, className, createClass } from '../lib/parse.mjs';

const C = className('Ops');

before(async () => {
  await createClass(C);
});

async function reload(o) {
  return new Parse.Query(C).get(o.id);
}

const sorted = (a) => [...a].sort();

test('increment / decrement (int, amount, float, on a missing field)', async () => {
  const o = new Parse.Object(C);
  o.set('n', 1);
  await o.save();

  o.increment('n');
  await o.save();
  assert.equal(o.get('n'), 2, 'server result applied locally');

  o.increment('n', 10);
  await o.save();
  o.decrement('n', 3);
  await o.save();
  o.increment('n', 0.5);
  await o.save();
  assert.equal(o.get('n'), 9.5);

  o.increment('fresh', 4); // field that does not exist yet on this object
  await o.save();
  const f = await reload(o);
  assert.equal(f.get('n'), 9.5);
  assert.equal(f.get('fresh'), 4);
});

test('increment applies to the stored value, not the client copy', async () => {
  const o = new Parse.Object(C);
  o.set('n', 100);
  await o.save();
  // A stale instance that believes n is 0.
  const stale = new Parse.Object(C);
  stale.id = o.id;
  stale.increment('n', 5);
  await stale.save();
  assert.equal(stale.get('n'), 105, 'save response carries the server-side result');
  assert.equal((await reload(o)).get('n'), 105);
});

test('add / addAll append (duplicates allowed)', async () => {
  const o = new Parse.Object(C);
  o.set('arr', ['a']);
  await o.save();
  o.add('arr', 'b');
  await o.save();
  o.addAll('arr', ['a', 'c']);
  await o.save();
  assert.deepEqual((await reload(o)).get('arr'), ['a', 'b', 'a', 'c']);

  const fresh = new Parse.Object(C);
  fresh.add('list', 1);
  fresh.add('list', { x: 1 });
  await fresh.save();
  assert.deepEqual((await reload(fresh)).get('list'), [1, { x: 1 }]);
});

test('add on a stale instance appends to the stored array', async () => {
  const o = new Parse.Object(C);
  o.set('arr', ['x', 'y']);
  await o.save();
  const stale = new Parse.Object(C);
  stale.id = o.id;
  stale.add('arr', 'z');
  await stale.save();
  assert.deepEqual((await reload(o)).get('arr'), ['x', 'y', 'z']);
});

test('addUnique / addAllUnique do not duplicate', async () => {
  const o = new Parse.Object(C);
  o.set('arr', ['a', 'b']);
  await o.save();
  o.addUnique('arr', 'b');
  await o.save();
  o.addUnique('arr', 'c');
  await o.save();
  o.addAllUnique('arr', ['a', 'd', 'd']);
  await o.save();
  const got = (await reload(o)).get('arr');
  // Postgres Parse prepends new unique elements (Mongo appends): compare as sets.
  assert.deepEqual(sorted(got), ['a', 'b', 'c', 'd']);
  assert.equal(got.length, 4);
  assert.deepEqual(sorted(o.get('arr')), ['a', 'b', 'c', 'd'], 'local copy matches server');
});

test('addUnique on a missing field creates the array', async () => {
  const o = new Parse.Object(C);
  await o.save();
  const stale = new Parse.Object(C);
  stale.id = o.id;
  stale.addUnique('u', 5);
  await stale.save();
  assert.deepEqual((await reload(o)).get('u'), [5]);
});

test('remove / removeAll delete every occurrence', async () => {
  const o = new Parse.Object(C);
  o.set('arr', ['a', 'b', 'a', 'c', 'd', 1, 2]);
  await o.save();
  o.remove('arr', 'a');
  await o.save();
  assert.deepEqual((await reload(o)).get('arr'), ['b', 'c', 'd', 1, 2]);
  o.removeAll('arr', ['c', 2, 'not-there']);
  await o.save();
  assert.deepEqual((await reload(o)).get('arr'), ['b', 'd', 1]);
});

test('remove on a stale instance uses the stored array', async () => {
  const o = new Parse.Object(C);
  o.set('arr', ['keep', 'drop', 'keep2']);
  await o.save();
  const stale = new Parse.Object(C);
  stale.id = o.id;
  stale.remove('arr', 'drop');
  await stale.save();
  assert.deepEqual((await reload(o)).get('arr'), ['keep', 'keep2']);
});

test('unset removes the field', async () => {
  const o = new Parse.Object(C);
  o.set({ gone: 'bye', stays: 'hi' });
  await o.save();
  o.unset('gone');
  await o.save();
  assert.equal(o.has('gone'), false);
  const f = await reload(o);
  assert.equal(f.has('gone'), false);
  assert.equal(f.get('gone'), undefined);
  assert.equal(f.get('stays'), 'hi');
  // The field can be set again afterwards.
  o.set('gone', 'back');
  await o.save();
  assert.equal((await reload(o)).get('gone'), 'back');
});

test('several ops in one save', async () => {
  const o = new Parse.Object(C);
  o.set({ n: 1, arr: ['a'], label: 'x', tmp: 'y' });
  await o.save();
  o.increment('n', 2);
  o.add('arr', 'b');
  o.set('label', 'z');
  o.unset('tmp');
  await o.save();
  const f = await reload(o);
  assert.equal(f.get('n'), 3);
  assert.deepEqual(f.get('arr'), ['a', 'b']);
  assert.equal(f.get('label'), 'z');
  assert.equal(f.has('tmp'), false);
});

test('concurrent increments are atomic: 2 x 200 parallel saves → 400', { timeout: 120_000 }, async () => {
  const o = new Parse.Object(C);
  o.set('n', 0);
  await o.save();
  for (let round = 0; round < 2; round++) {
    const saves = [];
    for (let i = 0; i < 200; i++) {
      const inst = new Parse.Object(C);
      inst.id = o.id;
      inst.increment('n');
      saves.push(inst.save());
    }
    const results = await Promise.all(saves);
    assert.equal(results.length, 200);
  }
  assert.equal((await reload(o)).get('n'), 400);
});
