import { test } from 'node:test';
import { Parse, assert, RUN, uid, newUser, expectParseError, enableCurrentUser, OBJECT_ID_RE } from '../lib/parse.mjs';

enableCurrentUser();

const TOKEN_RE = /^r:[A-Za-z0-9]+$/;
const FORBIDDEN_KEYS = ['password', '_hashed_password', 'hashedPassword', 'bcryptPassword', '_password_history'];

function assertNoPassword(user) {
  assert.equal(user.get('password'), undefined, 'password must never be returned');
  const json = user.toJSON();
  for (const k of FORBIDDEN_KEYS) assert.ok(!(k in json), `${k} must not be returned`);
}

test('signUp returns an objectId and an r: session token', async () => {
  const { user, token, username } = await newUser('signup', { email: `signup_${RUN}_${uid(4)}@example.com` });
  assert.match(user.id, OBJECT_ID_RE);
  assert.match(token, TOKEN_RE);
  assert.ok(user.createdAt instanceof Date);
  assert.equal(user.getUsername(), username);
  assert.equal(user.isCurrent(), true, 'signUp sets the current user');
  assert.equal(Parse.User.current().id, user.id);
});

test('logIn returns the user and a new session token', async () => {
  const email = `login_${RUN}_${uid(4)}@example.com`;
  const { user, token, username, password } = await newUser('login', { email, nick: 'nicky' });
  const li = await Parse.User.logIn(username, password);
  assert.equal(li.id, user.id);
  assert.equal(li.getUsername(), username);
  assert.equal(li.getEmail(), email);
  assert.equal(li.get('nick'), 'nicky');
  assert.match(li.getSessionToken(), TOKEN_RE);
  assert.notEqual(li.getSessionToken(), token, 'every login creates a new session');
  assert.ok(li.createdAt instanceof Date);
  assert.ok(li.updatedAt instanceof Date);
  assertNoPassword(li);
  assert.equal(Parse.User.current().id, user.id);
});

test('logIn with a wrong password → 101', async () => {
  const { username } = await newUser('wrongpw');
  await expectParseError(Parse.User.logIn(username, 'definitely-wrong'), Parse.Error.OBJECT_NOT_FOUND, /Invalid username\/password/);
});

test('logIn with an unknown username → 101', async () => {
  await expectParseError(Parse.User.logIn(`nobody_${RUN}_${uid()}`, 'x'), 101);
});

test('signUp with a duplicate username → 202', async () => {
  const { username } = await newUser('dup');
  const u = new Parse.User();
  u.set({ username, password: 'other' });
  await expectParseError(u.signUp(), Parse.Error.USERNAME_TAKEN);
  assert.equal(u.id, undefined);
});

test('signUp with a duplicate email → 203', async () => {
  const email = `dupmail_${RUN}_${uid(4)}@example.com`;
  await newUser('dupmail', { email });
  const u = new Parse.User();
  u.set({ username: `dupmail2_${RUN}_${uid(4)}`, password: 'pw', email });
  await expectParseError(u.signUp(), Parse.Error.EMAIL_TAKEN);
});

test('signUp without password → 201 (server), SDK signUp() refuses with -1', async () => {
  const u = new Parse.User();
  u.set('username', `nopw_${RUN}_${uid(4)}`);
  // signUp() validates client-side before any request
  await expectParseError(u.signUp(), Parse.Error.OTHER_CAUSE);
  // save() of a new user goes to POST /users and hits the server check
  await expectParseError(u.save(), Parse.Error.PASSWORD_MISSING, /password is required/);
});

test('signUp without username → 200 (server), SDK signUp() refuses with -1', async () => {
  const u = new Parse.User();
  u.set('password', 'pw');
  await expectParseError(u.signUp(), Parse.Error.OTHER_CAUSE);
  await expectParseError(u.save(), Parse.Error.USERNAME_MISSING);
});

test('become(sessionToken) restores the user and makes it current', async () => {
  const x = await newUser('becomeX');
  const y = await newUser('becomeY');
  assert.equal(Parse.User.current().id, y.user.id, 'latest signUp is current');
  const b = await Parse.User.become(x.token);
  assert.equal(b.id, x.user.id);
  assert.equal(b.getUsername(), x.username);
  assert.equal(b.getSessionToken(), x.token);
  assert.equal(Parse.User.current().id, x.user.id);
  assert.equal(Parse.User.current().getSessionToken(), x.token);
  assertNoPassword(b);
});

test('User.me(sessionToken) returns the user without needing current-user state', async () => {
  const { user, token, username } = await newUser('me');
  const me = await Parse.User.me(token);
  assert.equal(me.id, user.id);
  assert.equal(me.getUsername(), username);
  assert.equal(me.getSessionToken(), token);
  assertNoPassword(me);
});

test('logOut, then the old token is rejected with 209', async () => {
  const { token } = await newUser('logout');
  assert.equal(Parse.User.current().getSessionToken(), token);
  await Parse.User.logOut();
  assert.equal(Parse.User.current(), null);
  await expectParseError(Parse.User.become(token), Parse.Error.INVALID_SESSION_TOKEN);
  await expectParseError(Parse.User.me(token), 209);
  await expectParseError(new Parse.Query(Parse.User).find({ sessionToken: token }), 209);
});

test('an invented session token → 209', async () => {
  await expectParseError(Parse.User.me('r:0123456789abcdef0123456789abcdef'), 209);
});

test('a user can update their own fields', async () => {
  const { user, token } = await newUser('upd');
  user.set('nick', 'first');
  user.set('age', 30);
  await user.save(null, { sessionToken: token });
  user.increment('age');
  await user.save(null, { sessionToken: token });
  const me = await Parse.User.me(token);
  assert.equal(me.get('nick'), 'first');
  assert.equal(me.get('age'), 31);
});

test('password is never returned (login, me, query, master-key query)', async () => {
  const { user, username, password } = await newUser('nopw');
  const li = await Parse.User.logIn(username, password);
  assertNoPassword(li);
  // (the login replaced the signup session: same installation id, see sessions.test.mjs)
  const token = li.getSessionToken();
  assertNoPassword(await Parse.User.me(token));
  assertNoPassword(await new Parse.Query(Parse.User).get(user.id, { sessionToken: token }));
  const viaMaster = await new Parse.Query(Parse.User).get(user.id, { useMasterKey: true });
  assertNoPassword(viaMaster);
  assert.equal(viaMaster.getUsername(), username);
});

test('a user can change their password and log in with the new one', async () => {
  const { user, token, username, password } = await newUser('chpw');
  user.setPassword('brand-new-pw');
  await user.save(null, { sessionToken: token });
  await Parse.User.logIn(username, 'brand-new-pw');
  await expectParseError(Parse.User.logIn(username, password), 101);
});

test('another user cannot fetch, find, or modify a user (Parse 9 private users)', async () => {
  const a = await newUser('privA');
  const b = await newUser('privB');
  await expectParseError(new Parse.Query(Parse.User).get(a.user.id, { sessionToken: b.token }), Parse.Error.OBJECT_NOT_FOUND);
  const ghost = Parse.User.createWithoutData(a.user.id);
  await expectParseError(ghost.fetch({ sessionToken: b.token }), 101);
  // find as B only returns B itself
  const found = await new Parse.Query(Parse.User).find({ sessionToken: b.token });
  assert.deepEqual(found.map((u) => u.id), [b.user.id]);
  // B cannot write A
  const write = Parse.User.createWithoutData(a.user.id);
  write.set('nick', 'hacked');
  await expectParseError(write.save(null, { sessionToken: b.token }), Parse.Error.SESSION_MISSING);
  // but A can read itself, and the master key sees A
  assert.equal((await new Parse.Query(Parse.User).get(a.user.id, { sessionToken: a.token })).id, a.user.id);
  const m = await new Parse.Query(Parse.User).get(a.user.id, { useMasterKey: true });
  assert.equal(m.get('nick'), undefined, 'B’s write did not land');
});
