import { test, before } from 'node:test';
import { Parse, assert, className, createClass, PG_BUG } from '../lib/parse.mjs';

const C = className('Fruit');
const OWNER = className('Owner');
const COUNTRY = className('Country');

const day = (i) => new Date(Date.UTC(2024, 0, i, 12, 0, 0));
const ROWS = [
  { name: 'apple', n: 1, f: 1.5, g: 'A', tags: ['red', 'fruit'], meta: { color: 'red', size: 1 }, when: day(1), flag: true, opt: 'x' },
  { name: 'Banana', n: 2, f: 2.5, g: 'A', tags: ['yellow', 'fruit'], meta: { color: 'yellow', size: 2 }, when: day(2), flag: false },
  { name: 'cherry', n: 3, f: 3.5, g: 'B', tags: ['red', 'fruit', 'small'], meta: { color: 'red', size: 3 }, when: day(3), flag: true, opt: 'y' },
  { name: 'date', n: 4, f: 4.5, g: 'B', tags: ['brown'], meta: { color: 'brown', size: 4 }, when: day(4), flag: false },
  { name: 'elder', n: 5, f: 5.5, g: 'C', tags: [], meta: { color: 'purple', size: 5 }, when: day(5), flag: true },
  { name: 'fig', n: 5, f: 6.5, g: 'C', tags: ['purple'], meta: { color: 'purple', size: 6 }, when: day(6), flag: false },
];
const ALL = ROWS.map((r) => r.name);

let owner1, owner2, country;

before(async () => {
  await createClass(C);
  await createClass(OWNER);
  await createClass(COUNTRY);
  country = new Parse.Object(COUNTRY);
  country.set('cname', 'Spain');
  await country.save();
  owner1 = new Parse.Object(OWNER);
  owner1.set({ oname: 'alice', country });
  owner2 = new Parse.Object(OWNER);
  owner2.set({ oname: 'bob', country });
  await owner1.save();
  await owner2.save();
  for (const [i, r] of ROWS.entries()) {
    const o = new Parse.Object(C);
    o.set(r);
    o.set('owner', i < 3 ? owner1 : owner2);
    o.set('fans', i % 2 === 0 ? [owner1, owner2] : [owner2]); // array of pointers
    await o.save();
  }
});

const q = () => new Parse.Query(C);
const names = (res) => res.map((o) => o.get('name'));
const sortedNames = (res) => names(res).sort();
const expectNames = async (query, expected) => {
  const res = await query.find();
  assert.deepEqual(sortedNames(res), [...expected].sort());
  return res;
};

test('find with no constraints returns every row', async () => {
  await expectNames(q(), ALL);
});

test('equalTo / notEqualTo', async () => {
  await expectNames(q().equalTo('name', 'apple'), ['apple']);
  await expectNames(q().equalTo('n', 5), ['elder', 'fig']);
  await expectNames(q().equalTo('flag', false), ['Banana', 'date', 'fig']);
  await expectNames(q().equalTo('name', 'nope'), []);
  await expectNames(q().notEqualTo('name', 'apple'), ALL.filter((n) => n !== 'apple'));
  await expectNames(q().notEqualTo('n', 5), ['apple', 'Banana', 'cherry', 'date']);
});

test('lessThan / lessThanOrEqualTo / greaterThan / greaterThanOrEqualTo', async () => {
  await expectNames(q().lessThan('n', 3), ['apple', 'Banana']);
  await expectNames(q().lessThanOrEqualTo('n', 3), ['apple', 'Banana', 'cherry']);
  await expectNames(q().greaterThan('n', 4), ['elder', 'fig']);
  await expectNames(q().greaterThanOrEqualTo('n', 4), ['date', 'elder', 'fig']);
  await expectNames(q().greaterThan('f', 2.5).lessThan('f', 5), ['cherry', 'date']);
});

test('containedIn / notContainedIn', async () => {
  await expectNames(q().containedIn('name', ['apple', 'fig', 'nope']), ['apple', 'fig']);
  await expectNames(q().containedIn('n', [2, 4]), ['Banana', 'date']);
  await expectNames(q().notContainedIn('name', ['apple', 'fig']), ['Banana', 'cherry', 'date', 'elder']);
});

test('exists / doesNotExist', async () => {
  await expectNames(q().exists('opt'), ['apple', 'cherry']);
  await expectNames(q().doesNotExist('opt'), ['Banana', 'date', 'elder', 'fig']);
});

test('matches (regex, case-insensitive flag) and startsWith', async () => {
  await expectNames(q().matches('name', '^b'), []);
  await expectNames(q().matches('name', '^b', 'i'), ['Banana']);
  await expectNames(q().matches('name', /^b/i), ['Banana']);
  await expectNames(q().matches('name', 'e.r'), ['cherry']);
  await expectNames(q().matches('name', 'er'), ['cherry', 'elder']);
  await expectNames(q().startsWith('name', 'ch'), ['cherry']);
  await expectNames(q().startsWith('name', 'Ch'), []);
  await expectNames(q().endsWith('name', 'g'), ['fig']);
  await expectNames(q().contains('name', 'an'), ['Banana']);
});

test('Parse.Query.or', async () => {
  const res = await expectNames(Parse.Query.or(q().equalTo('n', 1), q().equalTo('name', 'fig')), ['apple', 'fig']);
  assert.equal(res.length, 2);
  await expectNames(Parse.Query.or(q().lessThan('n', 2), q().greaterThan('n', 4), q().equalTo('n', 1)), ['apple', 'elder', 'fig']);
});

test('and-combination (several constraints, and Parse.Query.and)', async () => {
  await expectNames(q().greaterThan('n', 1).lessThan('n', 5).equalTo('flag', true), ['cherry']);
  await expectNames(q().greaterThanOrEqualTo('n', 2).lessThanOrEqualTo('n', 4), ['Banana', 'cherry', 'date']);
  await expectNames(Parse.Query.and(q().equalTo('g', 'C'), q().equalTo('flag', true)), ['elder']);
  await expectNames(Parse.Query.and(q().equalTo('meta.color', 'red'), Parse.Query.or(q().equalTo('n', 3), q().equalTo('n', 4))), ['cherry']);
});

// Documented Parse behaviour (works on MongoDB); Parse-on-Postgres answers 500 code 1
// ("invalid input syntax for type json"), parse-server issue #7307.
test('equalTo on an array member', { skip: PG_BUG('equalTo on an Array field, parse-server#7307') }, async () => {
  await expectNames(q().equalTo('tags', 'red'), ['apple', 'cherry']);
  await expectNames(q().equalTo('tags', 'fruit'), ['apple', 'Banana', 'cherry']);
});

test('equalTo on an array member: array of pointers', async () => {
  await expectNames(q().equalTo('fans', owner1), ['apple', 'cherry', 'elder']);
  await expectNames(q().equalTo('fans', owner2), ALL);
});

test('array membership via containsAll / containedIn', async () => {
  await expectNames(q().containsAll('tags', ['fruit']), ['apple', 'Banana', 'cherry']);
  await expectNames(q().containsAll('tags', ['red', 'small']), ['cherry']);
  await expectNames(q().containedIn('tags', ['yellow', 'brown']), ['Banana', 'date']);
});

test('dot-notation on nested objects', async () => {
  await expectNames(q().equalTo('meta.color', 'red'), ['apple', 'cherry']);
  await expectNames(q().equalTo('meta.color', 'purple'), ['elder', 'fig']);
  await expectNames(q().greaterThan('meta.size', 4), ['elder', 'fig']);
});

test('ascending / descending / multi-key order', async () => {
  assert.deepEqual(names(await q().ascending('n').addAscending('name').find()), ['apple', 'Banana', 'cherry', 'date', 'elder', 'fig']);
  assert.deepEqual(names(await q().descending('f').find()), ['fig', 'elder', 'date', 'cherry', 'Banana', 'apple']);
  // n ties for elder/fig: second key decides
  assert.deepEqual(names(await q().ascending('n').addDescending('name').find()), ['apple', 'Banana', 'cherry', 'date', 'fig', 'elder']);
  assert.deepEqual(names(await q().descending('g').addAscending('n').find()), ['elder', 'fig', 'cherry', 'date', 'apple', 'Banana']);
  // order by a Date field
  assert.deepEqual(names(await q().descending('when').find()), ['fig', 'elder', 'date', 'cherry', 'Banana', 'apple']);
  // order combined with a constraint
  assert.deepEqual(names(await q().equalTo('flag', true).descending('n').find()), ['elder', 'cherry', 'apple']);
});

test('limit and skip', async () => {
  assert.deepEqual(names(await q().ascending('f').limit(2).find()), ['apple', 'Banana']);
  assert.deepEqual(names(await q().ascending('f').skip(2).limit(2).find()), ['cherry', 'date']);
  assert.deepEqual(names(await q().ascending('f').skip(4).find()), ['elder', 'fig']);
  assert.deepEqual(names(await q().ascending('f').skip(10).find()), []);
  assert.equal((await q().limit(0).find()).length, 0);
});

test('select(keys) returns only those fields (plus objectId/createdAt/updatedAt)', async () => {
  const res = await q().select('name', 'n').ascending('n').find();
  assert.equal(res.length, 6);
  const o = res[0];
  assert.equal(o.get('name'), 'apple');
  assert.equal(o.get('n'), 1);
  assert.equal(o.get('tags'), undefined);
  assert.equal(o.get('meta'), undefined);
  assert.equal(o.get('owner'), undefined);
  assert.ok(o.id);
  assert.ok(o.createdAt instanceof Date);
  assert.ok(o.updatedAt instanceof Date);
});

test('exclude(keys) drops those fields', async () => {
  const o = await q().exclude('meta', 'tags').equalTo('name', 'cherry').first();
  assert.equal(o.get('name'), 'cherry');
  assert.equal(o.get('n'), 3);
  assert.equal(o.get('meta'), undefined);
  assert.equal(o.get('tags'), undefined);
});

test('count', async () => {
  assert.equal(await q().count(), 6);
  assert.equal(await q().greaterThan('n', 2).count(), 4);
  assert.equal(await q().equalTo('name', 'nope').count(), 0);
  assert.equal(await q().equalTo('meta.color', 'red').count(), 2);
  // count ignores limit/skip
  assert.equal(await q().limit(1).skip(1).count(), 6);
});

test('first', async () => {
  const o = await q().ascending('n').first();
  assert.ok(o instanceof Parse.Object);
  assert.equal(o.get('name'), 'apple');
  const last = await q().descending('f').first();
  assert.equal(last.get('name'), 'fig');
  assert.equal(await q().equalTo('name', 'nope').first(), undefined);
});

test('include a pointer, and a nested pointer (a.b)', async () => {
  const plain = await q().equalTo('name', 'apple').first();
  assert.equal(plain.get('owner').id, owner1.id);
  assert.equal(plain.get('owner').get('oname'), undefined, 'not expanded without include');

  const withOwner = await q().equalTo('name', 'apple').include('owner').first();
  const ow = withOwner.get('owner');
  assert.equal(ow.className, OWNER);
  assert.equal(ow.id, owner1.id);
  assert.equal(ow.get('oname'), 'alice');
  assert.ok(ow.createdAt instanceof Date);
  assert.equal(ow.get('country').id, country.id);
  assert.equal(ow.get('country').get('cname'), undefined, 'second level not expanded');

  const nested = await q().equalTo('name', 'fig').include('owner.country').first();
  assert.equal(nested.get('owner').get('oname'), 'bob', 'a.b also includes a');
  assert.equal(nested.get('owner').get('country').get('cname'), 'Spain');

  const many = await q().include('owner').ascending('n').find();
  assert.deepEqual(many.map((o) => o.get('owner').get('oname')), ['alice', 'alice', 'alice', 'bob', 'bob', 'bob']);
});

test('Date comparisons', async () => {
  await expectNames(q().greaterThan('when', day(3)), ['date', 'elder', 'fig']);
  await expectNames(q().greaterThanOrEqualTo('when', day(3)), ['cherry', 'date', 'elder', 'fig']);
  await expectNames(q().lessThan('when', day(2)), ['apple']);
  await expectNames(q().equalTo('when', day(4)), ['date']);
  await expectNames(q().greaterThan('when', day(2)).lessThan('when', day(5)), ['cherry', 'date']);
  // createdAt is queryable too
  const cutoff = new Date(Date.now() + 60_000);
  assert.equal(await q().lessThan('createdAt', cutoff).count(), 6);
});

test('equalTo / containedIn / notEqualTo with a pointer', async () => {
  await expectNames(q().equalTo('owner', owner1), ['apple', 'Banana', 'cherry']);
  await expectNames(q().equalTo('owner', owner2), ['date', 'elder', 'fig']);
  await expectNames(q().notEqualTo('owner', owner1), ['date', 'elder', 'fig']);
  await expectNames(q().containedIn('owner', [owner2]), ['date', 'elder', 'fig']);
  const ghost = Parse.Object.extend(OWNER).createWithoutData('zzzzzzzzzz');
  await expectNames(q().equalTo('owner', ghost), []);
});

test('matchesQuery on a pointer (inQuery)', async () => {
  const owners = new Parse.Query(OWNER).equalTo('oname', 'bob');
  await expectNames(q().matchesQuery('owner', owners), ['date', 'elder', 'fig']);
});

test('query by objectId', async () => {
  const apple = await q().equalTo('name', 'apple').first();
  await expectNames(q().equalTo('objectId', apple.id), ['apple']);
  await expectNames(q().containedIn('objectId', [apple.id, 'zzzzzzzzzz']), ['apple']);
});
