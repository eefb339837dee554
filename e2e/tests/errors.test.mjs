import { test, before, after } from 'node:test';
import { Parse, assert, init, className, createClass, rest, expectParseError, APP_ID, SERVER_URL } from '../lib/parse.mjs';

const C = className('Err');

before(async () => {
  await createClass(C, (s) => s.addNumber('n'));
});
after(() => init());

test('wrong application id: SDK rejects with message "unauthorized" and no code', async () => {
  Parse.initialize(`wrong-${APP_ID}`);
  Parse.serverURL = SERVER_URL;
  try {
    for (const call of [
      () => new Parse.Query(C).find(),
      () => new Parse.Object(C).save(),
      () => Parse.User.logIn('someone', 'pw'),
    ]) {
      let err;
      try {
        await call();
      } catch (e) {
        err = e;
      }
      assert.ok(err, 'must fail');
      assert.ok(err instanceof Parse.Error, 'a Parse.Error');
      assert.equal(err.message, 'unauthorized');
      assert.equal(err.code, undefined);
    }
  } finally {
    init();
  }
});

test('wrong application id over REST: 403 {"error":"unauthorized"}', async () => {
  const r = await rest('GET', `/classes/${C}`, { appId: 'nope' });
  assert.equal(r.status, 403);
  assert.deepEqual(r.body, { error: 'unauthorized' });
  const none = await fetch(`${SERVER_URL}/classes/${C}`);
  assert.equal(none.status, 403);
  assert.deepEqual(await none.json(), { error: 'unauthorized' });
});

test('get of a missing object → 101 "Object not found."', async () => {
  const e = await expectParseError(new Parse.Query(C).get('abcdefghij'), Parse.Error.OBJECT_NOT_FOUND);
  assert.equal(e.message, 'Object not found.');
});

test('wrong type → 111 with the schema-mismatch message', async () => {
  const o = new Parse.Object(C);
  o.set('n', 'x');
  const e = await expectParseError(o.save(), 111);
  assert.equal(e.message, `schema mismatch for ${C}.n; expected Number but got String`);
});

test('invalid class name: 119 without the master key, 103 when creating its schema', async () => {
  await expectParseError(new Parse.Object('1bad').save(), Parse.Error.OPERATION_FORBIDDEN);
  await expectParseError(new Parse.Schema('1bad').save(), Parse.Error.INVALID_CLASS_NAME, /Invalid classname/);
});

test('REST: invalid where JSON → 400 code 107', async () => {
  const r = await rest('GET', `/classes/${C}?where=${encodeURIComponent('{bad json')}`);
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 107, error: 'where parameter is not valid JSON' });
});

test('REST: missing object → 404 code 101', async () => {
  const r = await rest('GET', `/classes/${C}/abcdefghij`);
  assert.equal(r.status, 404);
  assert.deepEqual(r.body, { code: 101, error: 'Object not found.' });
});

test('REST: invalid field name → 400 code 105', async () => {
  const r = await rest('POST', `/classes/${C}`, { body: { '1bad': 1 } });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 105);
});

test('REST: unknown __op is rejected (Parse: 500 code 1)', async () => {
  const o = new Parse.Object(C);
  await o.save();
  const r = await rest('PUT', `/classes/${C}/${o.id}`, { body: { n: { __op: 'Frobnicate' } } });
  assert.ok(r.status >= 400, `status ${r.status}`);
  assert.equal(typeof r.body.code, 'number');
  assert.notEqual(r.body.code, 0);
});

test('SDK: an error object is a Parse.Error with numeric code and message', async () => {
  const e = await expectParseError(new Parse.Query(C).get('abcdefghij'), 101);
  assert.ok(e instanceof Parse.Error);
  assert.equal(typeof e.message, 'string');
});
