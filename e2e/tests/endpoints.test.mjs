// Parse Config, installations, push, loginAs and verifyPassword through the parse SDK, with
// Parse Server 9.10's answers.
import { test } from 'node:test';
import { Parse, assert, RUN, uid, newUser, expectParseError, rest } from '../lib/parse.mjs';

test('Parse.Config.save and get: masterKeyOnly params only for the master key', async () => {
  const key = `cfg_${RUN}`;
  const secret = `secret_${RUN}`;
  const saved = await Parse.Config.save({ [key]: 42, [secret]: 'hidden', when: new Date('2020-01-01T00:00:00.000Z') }, { [secret]: true });
  assert.equal(saved.get(key), 42);
  assert.equal(saved.get(secret), 'hidden', 'save answers the master view');
  const pub = await Parse.Config.get();
  assert.equal(pub.get(key), 42);
  assert.equal(pub.get(secret), undefined, 'a masterKeyOnly param is hidden from clients');
  assert.ok(pub.get('when') instanceof Date);
  const master = await Parse.Config.get({ useMasterKey: true });
  assert.equal(master.get(secret), 'hidden');
  await Parse.Config.save({ [key]: { __op: 'Delete' } });
  const after = await Parse.Config.get({ useMasterKey: true });
  assert.equal(after.get(key), undefined, 'Delete removes the param');
  // PUT /config needs the master key.
  const r = await rest('PUT', '/config', { body: { params: { x: 1 } } });
  assert.equal(r.status, 403);
  assert.deepEqual(r.body, { error: 'Permission denied' });
});

test('Parse.Installation: save, dedupe by installationId, immutable deviceType, master-only find', async () => {
  const iid = `inst-${RUN}-${uid(4)}`.toUpperCase();
  const inst = new Parse.Installation();
  inst.set('installationId', iid);
  inst.set('deviceType', 'android');
  inst.set('channels', ['news']);
  await inst.save();
  assert.ok(inst.id);
  const found = await new Parse.Query(Parse.Installation).equalTo('installationId', iid.toLowerCase()).find({ useMasterKey: true });
  assert.equal(found.length, 1, 'the installation id is stored lower-cased');
  assert.equal(found[0].id, inst.id);
  // The same installation saved again (another object, same id) updates the existing row.
  const again = new Parse.Installation();
  again.set('installationId', iid);
  again.set('deviceType', 'android');
  again.set('badge', 2);
  await again.save();
  const fetched = await new Parse.Query(Parse.Installation).get(inst.id, { useMasterKey: true });
  assert.equal(fetched.get('badge'), 2);
  const count = await new Parse.Query(Parse.Installation).equalTo('installationId', iid.toLowerCase()).count({ useMasterKey: true });
  assert.equal(count, 1);
  fetched.set('deviceType', 'ios');
  await expectParseError(fetched.save(), 136, /deviceType may not be changed/);
  await expectParseError(new Parse.Query(Parse.Installation).find(), 119);
});

test('Parse.Push.send: validated as Parse does; delivered when a push adapter is configured', async () => {
  const info = await rest('GET', '/serverInfo', { master: true });
  const configured = info.body.features?.push?.immediatePush === true;
  await expectParseError(
    Parse.Push.send({ channels: ['a'], where: new Parse.Query(Parse.Installation), data: { alert: 'x' } }),
    115,
    /Channels and query can not be set at the same time/,
  );
  if (!configured) {
    await expectParseError(Parse.Push.send({ channels: [`c${RUN}`], data: { alert: 'hi' } }), 115, /Missing push configuration/);
    return;
  }
  const id = await Parse.Push.send({ channels: [`c${RUN}`], data: { alert: 'hi' } });
  assert.ok(id, 'the push status id');
  const status = await Parse.Push.getPushStatus(id);
  assert.equal(status.get('source'), 'rest');
});

test('Parse.User.loginAs (master key) and Parse.User.verifyPassword', async () => {
  const { user, username, password } = await newUser('loginas');
  const as = await Parse.User.loginAs(user.id);
  assert.equal(as.id, user.id);
  assert.match(as.getSessionToken(), /^r:/);
  const me = await Parse.User.me(as.getSessionToken());
  assert.equal(me.id, user.id);
  const verified = await Parse.User.verifyPassword(username, password);
  // The SDK answers verifyPassword with the user's JSON.
  assert.equal(verified.objectId, user.id);
  assert.equal(verified.username, username);
  assert.equal(verified.sessionToken, undefined, 'verifyPassword opens no session');
  await expectParseError(Parse.User.verifyPassword(username, 'wrong'), 101, /Invalid username\/password/);
  await expectParseError(Parse.User.loginAs('nope123456'), 101, /user not found/);
});
