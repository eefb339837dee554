// Third-party sign-in and MFA through the parse SDK: Parse.User.logInWith('apple'|'google'|'github'),
// linkWith, _unlinkFrom, logInWithAdditionalAuth with a TOTP code. The identity provider is a
// local Node server (../auth/provider.mjs) at the address scripts/test.sh gave the server in
// e2e/auth/auth-config.json; without E2E_AUTH_PROVIDER=1 (another server) the file is skipped.
import { test, before, after } from 'node:test';
import { createHmac } from 'node:crypto';
import { Parse, assert, newUser, uid, expectParseError, rest } from '../lib/parse.mjs';
import { startProvider } from '../auth/provider.mjs';

const skip = process.env.E2E_AUTH_PROVIDER === '1' ? false : 'needs the server started with e2e/auth/auth-config.json';
const APPLE = 'https://appleid.apple.com';
const APPLE_CLIENT = 'com.ferrobase.e2e';
const GOOGLE_CLIENT = 'e2e-google-client';
let idp;

before(async () => {
  if (!skip) idp = await startProvider();
});
after(async () => {
  if (idp) await idp.close();
});

const appleData = (sub, claims = {}, opts = {}) => ({
  id: sub,
  token: idp.mint({ iss: APPLE, aud: APPLE_CLIENT, sub, ...claims }, opts),
});

test('logInWith apple signs up, then logs in the same account', { skip }, async () => {
  const sub = `apple-${uid()}`;
  const u = await Parse.User.logInWith('apple', { authData: appleData(sub) });
  assert.ok(u.id);
  assert.ok(u.getSessionToken());
  assert.equal(u.get('authData').apple.id, sub);
  const again = await Parse.User.logInWith('apple', { authData: appleData(sub) });
  assert.equal(again.id, u.id);
  const me = await Parse.User.me(again.getSessionToken());
  assert.equal(me.get('authData').apple.id, sub);
  assert.ok(idp.jwksFetches() >= 1);
});

test('logInWith apple refuses expired, wrong-audience, forged and replayed tokens', { skip }, async () => {
  const sub = `apple-${uid()}`;
  const now = Math.floor(Date.now() / 1000);
  await expectParseError(
    Parse.User.logInWith('apple', { authData: appleData(sub, { exp: now - 10 }) }),
    Parse.Error.OBJECT_NOT_FOUND,
    /^jwt expired$/,
  );
  await expectParseError(
    Parse.User.logInWith('apple', { authData: appleData(sub, { aud: 'com.other.app' }) }),
    Parse.Error.OBJECT_NOT_FOUND,
    /jwt audience invalid/,
  );
  await expectParseError(
    Parse.User.logInWith('apple', { authData: appleData(sub, {}, { forged: true }) }),
    Parse.Error.OBJECT_NOT_FOUND,
    /^invalid signature$/,
  );
  const stolen = appleData(sub);
  await expectParseError(
    Parse.User.logInWith('apple', { authData: { id: `apple-${uid()}`, token: stolen.token } }),
    Parse.Error.OBJECT_NOT_FOUND,
    /auth data is invalid for this user/,
  );
  await expectParseError(
    Parse.User.logInWith('myspace', { authData: { id: 'x' } }),
    Parse.Error.UNSUPPORTED_SERVICE,
    /This authentication method is unsupported/,
  );
});

test('linkWith google and _unlinkFrom', { skip }, async () => {
  const sub = `apple-${uid()}`;
  const u = await Parse.User.logInWith('apple', { authData: appleData(sub) });
  const gsub = `g-${uid()}`;
  const google = { id: gsub, id_token: idp.mint({ iss: 'accounts.google.com', aud: GOOGLE_CLIENT, sub: gsub }) };
  await u.linkWith('google', { authData: google });
  assert.equal(u._isLinked('google'), true);
  const viaGoogle = await Parse.User.logInWith('google', { authData: google });
  assert.equal(viaGoogle.id, u.id, 'google now logs the same user in');
  // Another user cannot link the same Google account.
  const { user: other, token } = await newUser('authlink');
  await expectParseError(
    other.linkWith('google', { authData: google }, { sessionToken: token }),
    Parse.Error.ACCOUNT_ALREADY_LINKED,
    /this auth is already used/,
  );
  // (That login replaced the installation's earlier session, as Parse does: go on with it.)
  await viaGoogle._unlinkFrom('google');
  assert.equal(viaGoogle._isLinked('google'), false);
  const fresh = await Parse.User.me(viaGoogle.getSessionToken());
  assert.equal(fresh.get('authData').google, undefined);
  assert.equal(fresh.get('authData').apple.id, sub);
});

test('logInWith github exchanges a code once', { skip }, async () => {
  const u = await Parse.User.logInWith('github', { authData: { code: idp.newCode() } });
  // The server keeps the account id and token; readers see the id only (afterFind).
  const me = await Parse.User.me(u.getSessionToken());
  assert.deepEqual(me.get('authData').github, { id: '777001' });
  const again = await Parse.User.logInWith('github', { authData: { code: idp.newCode() } });
  assert.equal(again.id, u.id);
  const code = idp.newCode();
  await Parse.User.logInWith('github', { authData: { code } });
  await expectParseError(
    Parse.User.logInWith('github', { authData: { code } }),
    Parse.Error.OBJECT_NOT_FOUND,
    /incorrect or expired/,
  );
});

// RFC 6238 code of a base32 secret (the test's stand-in for an authenticator app).
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1e6).padStart(6, '0');
}

test('MFA: TOTP enrolment, login with the second factor, recovery code', { skip }, async () => {
  const { user, token, username, password } = await newUser('mfa');
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  await user.save({ authData: { mfa: { secret, token: totp(secret) } } }, { sessionToken: token });
  const me = await Parse.User.me(token);
  assert.deepEqual(me.get('authData').mfa, { status: 'enabled' });
  await expectParseError(Parse.User.logIn(username, password), Parse.Error.OTHER_CAUSE, /Missing additional authData mfa/);
  await expectParseError(
    Parse.User.logInWithAdditionalAuth(username, password, { mfa: { token: '000000' } }),
    Parse.Error.SCRIPT_FAILED,
    /Invalid MFA token/,
  );
  const li = await Parse.User.logInWithAdditionalAuth(username, password, { mfa: { token: totp(secret) } });
  assert.equal(li.id, user.id);
  assert.ok(li.getSessionToken());
  // The recovery codes come with the enrolment answer (REST), one use each.
  const { user: u2, token: t2, username: n2, password: p2 } = await newUser('mfarec');
  const { body: res } = await rest('PUT', `/users/${u2.id}`, {
    session: t2,
    body: { authData: { mfa: { secret, token: totp(secret) } } },
  });
  const [code] = res.authDataResponse.mfa.recovery.split(', ');
  const viaRecovery = await Parse.User.logInWithAdditionalAuth(n2, p2, { mfa: { token: code } });
  assert.equal(viaRecovery.id, u2.id);
  await expectParseError(
    Parse.User.logInWithAdditionalAuth(n2, p2, { mfa: { token: code } }),
    Parse.Error.SCRIPT_FAILED,
    /Invalid MFA token/,
  );
});
