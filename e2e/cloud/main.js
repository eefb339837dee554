// Test Cloud Code for ferrobase's Cloud Code worker (crates/ferrobase/src/cloud).
// Used by crates/ferrobase/src/cloud/test-harness.mjs and by the e2e tests.

Parse.Cloud.define('hello', req => `Hello ${req.params.name || 'world'}`, {
  rateLimit: { requestTimeWindow: 1000, requestCount: 5 },
});

Parse.Cloud.define('echo', req => ({
  params: req.params,
  master: req.master,
  user: req.user ? req.user.id : null,
  token: req.user ? req.user.getSessionToken() : null,
  installationId: req.installationId || null,
  ip: req.ip,
  ua: req.headers['user-agent'] || null,
  context: req.context,
  isDate: req.params.when instanceof Date,
  isPointer: req.params.ptr instanceof Parse.Object,
}));

Parse.Cloud.define('object', () => {
  const o = Parse.Object.fromJSON({ className: 'Thing', objectId: 't1', n: 1, createdAt: '2024-01-01T00:00:00.000Z' });
  return { o, list: [o], date: new Date('2024-01-02T00:00:00.000Z') };
});

Parse.Cloud.define('throwString', () => {
  throw 'plain string';
});
Parse.Cloud.define('throwError', () => {
  throw new Error('an Error');
});
Parse.Cloud.define('throwParse', () => {
  throw new Parse.Error(Parse.Error.OBJECT_NOT_FOUND, 'nope');
});
Parse.Cloud.define('throwNothing', () => Promise.reject());

Parse.Cloud.define('express', (req, res) => {
  res.status(201).header('X-Test', 'yes').success({ ok: true });
});

Parse.Cloud.define('needsUser', () => 'ok', { requireUser: true });
Parse.Cloud.define('needsMaster', () => 'ok', { requireMaster: true });
Parse.Cloud.define('skipMaster', () => 'ran', { skipWithMasterKey: true });
Parse.Cloud.define('needsKeys', () => 'ok', { requireUserKeys: ['email'] });
Parse.Cloud.define('needsRole', () => 'ok', { requireAnyUserRoles: ['Admin'] });
Parse.Cloud.define('needsAllRoles', () => 'ok', { requireAllUserRoles: ['Admin', 'Staff'] });
Parse.Cloud.define('fields', req => req.params, {
  fields: {
    name: { type: String, required: true },
    kind: { options: ['a', 'b'] },
    n: { type: Number, default: 7 },
    odd: { options: v => v % 2 === 1, error: 'must be odd' },
  },
});
Parse.Cloud.define('fieldsArray', () => 'ok', { fields: ['a', 'b'] });
Parse.Cloud.define('fnValidator', () => 'ok', req => {
  if (!req.params.pass) throw 'no pass';
});

Parse.Cloud.define('query', async req => {
  const q = new Parse.Query('GameScore');
  q.equalTo('player', 'p1');
  const r = await q.find({ sessionToken: req.user && req.user.getSessionToken() });
  return r.map(o => o.get('score'));
});
Parse.Cloud.define('save', async () => {
  const o = new Parse.Object('GameScore');
  o.set('score', 5);
  await o.save(null, { useMasterKey: true, context: { from: 'cloud' } });
  return { id: o.id, existed: o.existed() };
});
Parse.Cloud.define('saveAll', async () => {
  const a = new Parse.Object('GameScore', { score: 1 });
  const b = new Parse.Object('GameScore', { score: 2 });
  await Parse.Object.saveAll([a, b], { useMasterKey: true });
  return [a.id, b.id];
});
Parse.Cloud.define('restError', async () => {
  const q = new Parse.Query('GameScore');
  return q.get('missing', { useMasterKey: true });
});
Parse.Cloud.define('runOther', async () => Parse.Cloud.run('hello', { name: 'nested' }));
Parse.Cloud.define('startJob', async () => Parse.Cloud.startJob('cleanup', { a: 1 }));
Parse.Cloud.define('log', req => {
  req.log.info('info line', { a: 1 });
  req.log.error('error line');
  console.log('stdout line');
  return 'logged';
});
Parse.Cloud.define('unhandled', () => {
  Promise.reject(new Error('nobody catches me'));
  return 'still alive';
});
Parse.Cloud.define('currentUser', () => Parse.User.current() || null);

Parse.Cloud.job('cleanup', async req => {
  req.message('halfway');
  return 'done';
});

Parse.Cloud.beforeSave('GameScore', req => {
  const o = req.object;
  if (o.get('score') < 0) throw 'negative score';
  o.set('checked', true);
  o.unset('secret');
  req.context.seen = o.dirtyKeys().sort();
  if (!req.original) o.set('createdBy', req.user ? req.user.id : 'anon');
});
Parse.Cloud.afterSave('GameScore', req => {
  req.log.info('afterSave ' + req.object.id + ' context ' + JSON.stringify(req.context));
});
Parse.Cloud.beforeDelete('GameScore', req => {
  if (req.object.get('locked')) throw new Parse.Error(Parse.Error.OPERATION_FORBIDDEN, 'locked');
});
Parse.Cloud.beforeFind('GameScore', req => {
  req.query.lessThan('score', 100);
  req.query.limit(10);
});
Parse.Cloud.afterFind('GameScore', req => req.objects.filter(o => !o.get('hidden')).map(o => {
  o.set('seen', true);
  return o;
}));

Parse.Cloud.beforeFind('Cached', () => [Parse.Object.fromJSON({ className: 'Cached', objectId: 'c1', v: 1 })]);

class Profile extends Parse.Object {
  constructor() {
    super('Profile');
  }
}
Parse.Object.registerSubclass('Profile', Profile);
Parse.Cloud.beforeSave(Profile, req => {
  req.object.set('bio', (req.object.get('bio') || '').trim());
}, { fields: { plan: { default: 'free', constant: true } } });

Parse.Cloud.beforeSave(Parse.User, req => {
  req.object.set('nickname', (req.object.get('username') || '').toUpperCase());
});
Parse.Cloud.beforeLogin(req => {
  if (req.object.get('banned')) throw new Parse.Error(Parse.Error.EMAIL_NOT_FOUND, 'banned');
});
Parse.Cloud.afterLogin(() => {});
Parse.Cloud.afterLogout(() => {});
Parse.Cloud.beforePasswordResetRequest(() => {}, { rateLimit: { requestTimeWindow: 60000, requestCount: 1 } });

Parse.Cloud.beforeSave(Parse.File, req => {
  if (req.file.name().endsWith('.exe')) throw 'no executables';
  if (req.file.name() === 'rename.txt') return new Parse.File('renamed.txt', { base64: 'aGk=' }, 'text/plain');
});
Parse.Cloud.afterSave(Parse.File, () => {});
Parse.Cloud.beforeSave(Parse.Config, req => {
  req.object.attributes.touched = true;
});
Parse.Cloud.afterSave(Parse.Config, () => {});

Parse.Cloud.beforeConnect(req => {
  if (!req.sessionToken) throw 'login first';
});
Parse.Cloud.beforeSubscribe('GameScore', req => {
  req.query.select('score');
});
Parse.Cloud.afterLiveQueryEvent('GameScore', req => {
  if (req.object.get('hidden')) req.sendEvent = false;
  req.object.set('live', true);
});

// npm modules beside main.js, Node built-ins and the environment, as on Parse Server.
const uniqBy = require('lodash.uniqby');
const crypto = require('crypto');
Parse.Cloud.define('npm', req => ({
  uniq: uniqBy(req.params.list || [], x => x),
  sha: crypto.createHash('sha256').update('x').digest('hex').slice(0, 8),
  env: process.env.FERROBASE_TEST_ENV || null,
  buf: Buffer.from('hi').toString('base64'),
}));
// Deadlines, the watchdog and restarts.
Parse.Cloud.define('slow', req => new Promise(resolve => setTimeout(() => resolve('slept'), req.params.ms || 100)));
Parse.Cloud.define('spin', req => {
  const end = Date.now() + (req.params.ms || 1000);
  while (Date.now() < end) {
    // CPU-bound: nothing else runs in this process meanwhile.
  }
  return 'spun';
});
Parse.Cloud.define('crash', () => {
  setTimeout(() => process.exit(3), 10);
  return 'bye';
});
// Validator rate limits skip 127.0.0.1 unless includeInternalRequests (as Parse Server).
Parse.Cloud.define('limited', () => 'ok', {
  rateLimit: { requestTimeWindow: 1000, requestCount: 5, includeInternalRequests: true },
});
// --cloud-workers: which worker answers (calls go round; jobs have their own worker).
Parse.Cloud.define('workerKind', () => ({ kind: process.env.FERROBASE_CLOUD_WORKER || null, pid: process.pid }));
Parse.Cloud.job('whereAmI', () => process.env.FERROBASE_CLOUD_WORKER || 'unknown');
