// Shared setup for the e2e suite: one Parse SDK instance per test file (node --test runs each
// file in its own process), configured from the environment.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

const require = createRequire(import.meta.url);
export const Parse = require('parse/node');

export const SERVER_URL = (process.env.PARSE_SERVER_URL || 'http://127.0.0.1:1337/parse').replace(/\/+$/, '');
export const APP_ID = process.env.PARSE_APP_ID || 'benchApp';
export const MASTER_KEY = process.env.PARSE_MASTER_KEY || 'benchMasterKey';
export const JS_KEY = process.env.PARSE_JS_KEY || undefined;

/**
 * Set E2E_SKIP_PARSE_PG_BUGS=1 when the target is the real Parse Server on PostgreSQL (the oracle):
 * it skips the few tests for documented Parse behaviour that Parse-on-Postgres gets wrong
 * (see ORACLE-NOTES.md). Leave it unset for ferrobase, which should pass them.
 */
export const PG_BUG = (reason) => (process.env.E2E_SKIP_PARSE_PG_BUGS === '1' ? `Parse-on-Postgres bug: ${reason}` : false);

export function init() {
  Parse.initialize(APP_ID, JS_KEY, MASTER_KEY);
  Parse.serverURL = SERVER_URL;
}
init();

/**
 * Node: Parse.User.current()/Parse.Session.current() need this. Only the files that test
 * current-user behaviour call it: once a current user exists the SDK silently sends its
 * session token with every request that has no explicit sessionToken/useMasterKey.
 */
export function enableCurrentUser() {
  Parse.User.enableUnsafeCurrentUser();
}

/** Random alphanumeric suffix so every run uses fresh class names / usernames. */
export function uid(n = 8) {
  return randomBytes(16).toString('hex').slice(0, n);
}

export const RUN = uid();

/** Class name unique to this run, e.g. E2E_Obj_1a2b3c4d. */
export function className(base) {
  return `E2E_${base}_${RUN}`;
}

/** Create a class with the master key (Parse 9 forbids client class creation). */
export async function createClass(name, build = (s) => s) {
  const schema = build(new Parse.Schema(name));
  await schema.save();
  return name;
}

/** Assert that a promise rejects with a Parse error of the given code; returns the error. */
export async function expectParseError(promiseOrFn, code, messageRe) {
  let err;
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a Parse error with code ${code}, but the call succeeded`);
  assert.equal(err.code, code, `expected code ${code}, got ${err.code} (${err.message})`);
  if (messageRe) assert.match(err.message, messageRe);
  return err;
}

/** Sign up a fresh user (does not rely on current-user state); returns { user, token, username, password }. */
export async function newUser(prefix = 'u', attrs = {}) {
  const username = `${prefix}_${RUN}_${uid(6)}`;
  const password = `pw-${uid(6)}`;
  const user = new Parse.User();
  user.set('username', username);
  user.set('password', password);
  for (const [k, v] of Object.entries(attrs)) user.set(k, v);
  await user.signUp();
  return { user, token: user.getSessionToken(), username, password };
}

/** Raw REST call (for things the SDK hides). Returns { status, headers, body, text }. */
export async function rest(method, path, { body, headers = {}, master = false, appId = APP_ID, session } = {}) {
  const h = { 'X-Parse-Application-Id': appId, ...headers };
  if (master) h['X-Parse-Master-Key'] = MASTER_KEY;
  if (session) h['X-Parse-Session-Token'] = session;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(SERVER_URL + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, body: json, text };
}

export const OBJECT_ID_RE = /^[A-Za-z0-9]{10}$/;

export { assert };
