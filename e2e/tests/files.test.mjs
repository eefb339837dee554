// Parse.File through the real SDK: base64 (JSON body) and Buffer (raw streamed body) uploads,
// files on objects, downloads with ranges, Parse 9's upload rules, master-key deletes.
import { test, before } from 'node:test';
import { Parse, assert, className, createClass, expectParseError, newUser, SERVER_URL } from '../lib/parse.mjs';

const C = className('FileHolder');
let user;

before(async () => {
  await createClass(C);
  user = await newUser('files');
});

test('Parse.File from base64: save, attach to an object, fetch its url', async () => {
  const text = 'hello from the parse SDK ✓';
  const file = new Parse.File('a.txt', { base64: Buffer.from(text).toString('base64') });
  await file.save({ sessionToken: user.token });
  assert.match(file.name(), /^[0-9a-f]{32}_a\.txt$/);
  assert.ok(file.url().startsWith(`${SERVER_URL}/files/`), file.url());

  const o = new Parse.Object(C);
  o.set('doc', file);
  await o.save();
  const copy = await new Parse.Query(C).get(o.id);
  const got = copy.get('doc');
  assert.ok(got instanceof Parse.File);
  assert.equal(got.name(), file.name());
  const r = await fetch(got.url());
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  assert.equal(await r.text(), text);
});

test('Parse.File from a Buffer uploads the raw bytes', async () => {
  const bytes = Buffer.alloc(300_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13) % 256;
  const file = new Parse.File('blob.bin', bytes, 'application/octet-stream');
  await file.save({ sessionToken: user.token });
  const r = await fetch(file.url());
  assert.equal(r.status, 200);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), bytes);

  const part = await fetch(file.url(), { headers: { Range: 'bytes=1000-1999' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 1000-1999/${bytes.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(1000, 2000));
});

test('public upload is refused (130), as Parse 9 by default', async () => {
  const file = new Parse.File('p.txt', { base64: Buffer.from('x').toString('base64') });
  await expectParseError(file.save(), 130, /public is disabled/);
});

test('HTML and SVG uploads are refused (130)', async () => {
  for (const name of ['x.html', 'y.svg']) {
    const file = new Parse.File(name, { base64: Buffer.from('<x/>').toString('base64') });
    await expectParseError(file.save({ sessionToken: user.token }), 130);
  }
});

test('a file name with invalid characters is refused (122)', async () => {
  const file = new Parse.File('bad$name.txt', { base64: Buffer.from('x').toString('base64') });
  await expectParseError(file.save({ sessionToken: user.token }), 122);
});

test('destroy needs the master key', async () => {
  const file = new Parse.File('gone.txt', { base64: Buffer.from('bye').toString('base64') });
  await file.save({ sessionToken: user.token });
  const url = file.url();
  // destroy() uses the master key by default; without it the server answers 403.
  await assert.rejects(file.destroy({ useMasterKey: false }));
  assert.equal((await fetch(url)).status, 200);
  await file.destroy({ useMasterKey: true });
  assert.equal((await fetch(url)).status, 404);
});
