import { test } from 'node:test';
import { Parse, assert, newUser, rest, expectParseError, enableCurrentUser } from '../lib/parse.mjs';

enableCurrentUser();

async function installationId() {
  return Parse.CoreManager.getInstallationController().currentInstallationId();
}

test('Session.current() after signUp returns the session with its token', async () => {
  const { user, token } = await newUser('sess');
  const s = await Parse.Session.current();
  assert.ok(s instanceof Parse.Session);
  assert.equal(s.getSessionToken(), token);
  assert.match(s.id, /^[A-Za-z0-9]{10}$/);
  assert.equal(s.get('user').id, user.id);
  assert.equal(s.get('user').className, '_User');
  assert.deepEqual(s.get('createdWith'), { action: 'signup', authProvider: 'password' });
  assert.ok(s.get('expiresAt') instanceof Date);
  assert.ok(s.get('expiresAt').getTime() > Date.now() + 24 * 3600 * 1000, 'expires in the future');
  assert.equal(s.get('installationId'), await installationId(), 'the SDK installation id is recorded');
  assert.equal(Parse.Session.isCurrentSessionRevocable(), true);
});

test('Session.current() after logIn has createdWith.action = login', async () => {
  const { username, password } = await newUser('sesslogin');
  const u = await Parse.User.logIn(username, password);
  const s = await Parse.Session.current();
  assert.equal(s.getSessionToken(), u.getSessionToken());
  assert.deepEqual(s.get('createdWith'), { action: 'login', authProvider: 'password' });
});

test('a login from the same installation replaces that installation’s previous session', async () => {
  const { user, token: signupToken, username, password } = await newUser('sessrepl');
  const li = await Parse.User.logIn(username, password);
  assert.notEqual(li.getSessionToken(), signupToken);
  await expectParseError(Parse.User.me(signupToken), Parse.Error.INVALID_SESSION_TOKEN);
  const mine = await new Parse.Query(Parse.Session).find({ sessionToken: li.getSessionToken() });
  assert.deepEqual(mine.map((s) => s.getSessionToken()), [li.getSessionToken()]);
  assert.equal(mine[0].get('user').id, user.id);
});

test('querying _Session only shows the caller’s own sessions', async () => {
  const a = await newUser('sessA');
  const b = await newUser('sessB');
  // A second session for A from "another device" (REST login without installation id).
  const r = await rest('POST', '/login', { body: { username: a.username, password: a.password } });
  assert.equal(r.status, 200);
  const tokenA2 = r.body.sessionToken;
  assert.match(tokenA2, /^r:/);

  const asA = await new Parse.Query(Parse.Session).find({ sessionToken: a.token });
  assert.equal(asA.length, 2);
  assert.ok(asA.every((s) => s.get('user').id === a.user.id), 'only A’s sessions');
  assert.deepEqual(asA.map((s) => s.getSessionToken()).sort(), [a.token, tokenA2].sort());

  const asB = await new Parse.Query(Parse.Session).find({ sessionToken: b.token });
  assert.equal(asB.length, 1);
  assert.equal(asB[0].get('user').id, b.user.id);
  assert.equal(asB[0].getSessionToken(), b.token);

  // count honours the same restriction
  assert.equal(await new Parse.Query(Parse.Session).count({ sessionToken: a.token }), 2);
  // the master key sees A's sessions too
  const viaMaster = await new Parse.Query(Parse.Session).equalTo('user', a.user).find({ useMasterKey: true });
  assert.equal(viaMaster.length, 2);
});

test('querying _Session without a session token → 209', async () => {
  await Parse.User.logOut().catch(() => {}); // no current user → no implicit token
  await expectParseError(new Parse.Query(Parse.Session).find(), Parse.Error.INVALID_SESSION_TOKEN);
});

test('logOut deletes the session', async () => {
  const { token } = await newUser('sessout');
  const s = await Parse.Session.current();
  await Parse.User.logOut();
  const left = await new Parse.Query(Parse.Session).equalTo('sessionToken', token).find({ useMasterKey: true });
  assert.equal(left.length, 0);
  const byId = await new Parse.Query(Parse.Session).equalTo('objectId', s.id).find({ useMasterKey: true });
  assert.equal(byId.length, 0);
});
