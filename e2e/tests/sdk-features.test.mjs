// SDK features beyond the basics: roles, relations, geo, full text, aggregate, anonymous users.
import { test, before } from 'node:test';
import { Parse, assert, className, createClass, newUser, uid } from '../lib/parse.mjs';

const Place = className('Place');
const Article = className('Article');
const Band = className('Band');

before(async () => {
  await createClass(Place);
  await createClass(Article);
  await createClass(Band);
  const places = [
    ['paris', 48.8566, 2.3522],
    ['london', 51.5074, -0.1278],
    ['berlin', 52.52, 13.405],
    ['newyork', 40.7128, -74.006],
  ].map(([name, lat, lng]) => new Parse.Object(Place).set({ name, loc: new Parse.GeoPoint(lat, lng) }));
  await Parse.Object.saveAll(places, { useMasterKey: true });
  const articles = [
    ['a1', 'Red running shoes for the road'],
    ['a2', 'Blue suede shoes'],
    ['a3', 'A red hat, red scarf and red gloves'],
  ].map(([name, body]) => new Parse.Object(Article).set({ name, body, n: name.length }));
  await Parse.Object.saveAll(articles, { useMasterKey: true });
});

test('near and withinKilometers order by distance', async () => {
  const paris = new Parse.GeoPoint(48.8566, 2.3522);
  const near = await new Parse.Query(Place).near('loc', paris).find();
  assert.deepEqual(near.map((o) => o.get('name')), ['paris', 'london', 'berlin', 'newyork']);
  const within = await new Parse.Query(Place).withinKilometers('loc', paris, 500).find();
  assert.deepEqual(within.map((o) => o.get('name')), ['paris', 'london']);
  const box = await new Parse.Query(Place)
    .withinGeoBox('loc', new Parse.GeoPoint(45, -5), new Parse.GeoPoint(53, 5))
    .ascending('name')
    .find();
  assert.deepEqual(box.map((o) => o.get('name')), ['london', 'paris']);
});

test('fullText search, sorted by relevance', async () => {
  const q = new Parse.Query(Article).fullText('body', 'red');
  q.sortByTextScore();
  q.select('$score', 'name');
  const res = await q.find();
  assert.deepEqual(res.map((o) => o.get('name')), ['a3', 'a1']);
  assert.ok(typeof res[0].get('score') === 'number');
});

test('aggregate and distinct with the master key', async () => {
  const res = await new Parse.Query(Article).aggregate([{ $group: { objectId: null, total: { $sum: '$n' } } }], { useMasterKey: true });
  assert.deepEqual(res, [{ objectId: null, total: 6 }]);
  const names = await new Parse.Query(Article).distinct('name', { useMasterKey: true });
  assert.deepEqual(names.sort(), ['a1', 'a2', 'a3']);
});

test('relations: add, query, remove', async () => {
  const fans = [1, 2, 3].map((i) => new Parse.Object(Place).set({ name: `fan${i}` }));
  await Parse.Object.saveAll(fans, { useMasterKey: true });
  const band = new Parse.Object(Band).set({ name: 'b' });
  band.relation('fans').add(fans.slice(0, 2));
  await band.save(null, { useMasterKey: true });
  const got = await band.relation('fans').query().ascending('name').find();
  assert.deepEqual(got.map((o) => o.get('name')), ['fan1', 'fan2']);
  band.relation('fans').remove(fans[0]);
  await band.save(null, { useMasterKey: true });
  const after = await band.relation('fans').query().find();
  assert.deepEqual(after.map((o) => o.get('name')), ['fan2']);
});

test('roles grant access through ACLs', async () => {
  const member = await newUser('member');
  const outsider = await newUser('outsider');
  const acl = new Parse.ACL();
  acl.setPublicReadAccess(true);
  const role = new Parse.Role(`Editors_${uid(6)}`, acl);
  role.getUsers().add(member.user);
  await role.save(null, { useMasterKey: true });
  const doc = new Parse.Object(Band).set({ name: 'secret-setlist' });
  const docAcl = new Parse.ACL();
  docAcl.setRoleReadAccess(role, true);
  doc.setACL(docAcl);
  await doc.save(null, { useMasterKey: true });
  const seen = await new Parse.Query(Band).equalTo('name', 'secret-setlist').find({ sessionToken: member.token });
  assert.equal(seen.length, 1);
  const hidden = await new Parse.Query(Band).equalTo('name', 'secret-setlist').find({ sessionToken: outsider.token });
  assert.equal(hidden.length, 0);
});

test('anonymous users log in and come back as the same user', async () => {
  const authData = { id: `device-${uid(12)}` };
  const first = await Parse.User.logInWith('anonymous', { authData });
  assert.ok(first.id);
  assert.match(first.getSessionToken(), /^r:/);
  const again = await Parse.User.logInWith('anonymous', { authData });
  assert.equal(again.id, first.id);
});
