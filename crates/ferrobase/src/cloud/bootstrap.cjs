'use strict';
// ferrobase Cloud Code worker.
//
// Embedded in the ferrobase binary and run as `node bootstrap.cjs`. It loads the
// `parse` SDK, provides `Parse.Cloud` with Parse Server 9's registration rules and
// request/response semantics, loads the app's main.js and then serves calls from
// ferrobase over a Unix socket. The wire protocol is docs/cloud-protocol.md.
// Only Node built-ins and the SDK are used: this file stands alone.

const net = require('net');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const env = process.env;
const MAX_FRAME = 256 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Channel
// ---------------------------------------------------------------------------

let socket = null;
let closing = false;

function send(msg) {
  if (!socket || socket.destroyed) return false;
  let json;
  try {
    json = JSON.stringify(msg);
  } catch (e) {
    // A value that cannot be serialised (cycle, BigInt): answer an error instead.
    if (msg && msg.t === 'result') {
      json = JSON.stringify({
        t: 'result',
        id: msg.id,
        ok: false,
        error: { code: 141, message: 'Could not encode the result: ' + e.message },
      });
    } else {
      process.stderr.write('ferrobase cloud: cannot encode frame: ' + e.message + '\n');
      return false;
    }
  }
  const body = Buffer.from(json === undefined ? 'null' : json, 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  socket.write(Buffer.concat([head, body]));
  return true;
}

function startReader(onFrame) {
  let chunks = [];
  let have = 0;
  socket.on('data', data => {
    chunks.push(data);
    have += data.length;
    for (;;) {
      if (have < 4) return;
      let buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      chunks = [buf];
      const len = buf.readUInt32BE(0);
      if (len > MAX_FRAME) {
        process.stderr.write('ferrobase cloud: frame of ' + len + ' bytes refused; closing\n');
        socket.destroy();
        return;
      }
      if (have < 4 + len) return;
      const payload = buf.subarray(4, 4 + len);
      const rest = buf.subarray(4 + len);
      chunks = rest.length ? [rest] : [];
      have = rest.length;
      let msg;
      try {
        msg = JSON.parse(payload.toString('utf8'));
      } catch (e) {
        process.stderr.write('ferrobase cloud: bad frame (not JSON): ' + e.message + '\n');
        continue;
      }
      try {
        onFrame(msg);
      } catch (e) {
        process.stderr.write('ferrobase cloud: frame handler failed: ' + (e && e.stack) + '\n');
      }
    }
  });
}

// ---------------------------------------------------------------------------
// SDK
// ---------------------------------------------------------------------------

function loadSdk() {
  const dir = env.FERROBASE_CLOUD_PARSE;
  if (!dir) throw new Error('FERROBASE_CLOUD_PARSE is not set');
  let Parse = require(path.join(dir, 'node.js'));
  if (Parse && Parse.Parse && !Parse.Object) Parse = Parse.Parse;
  Parse.initialize(env.FERROBASE_APP_ID || '', undefined, env.FERROBASE_MASTER_KEY || undefined);
  Parse.serverURL = env.FERROBASE_SERVER_URL || 'http://localhost/parse';
  // As on Parse Server: no unsafe current user, one Parse.Object instance per
  // fromJSON (original and updated objects of a trigger must not share state).
  if (Parse.User.disableUnsafeCurrentUser) Parse.User.disableUnsafeCurrentUser();
  Parse.Object.disableSingleInstance();
  global.Parse = Parse;
  return Parse;
}

let Parse;

// ---------------------------------------------------------------------------
// REST controller: every SDK request becomes a `rest` frame
// ---------------------------------------------------------------------------

let nextRestId = 1;
const pendingRest = new Map();

function restError(status, body) {
  // What the SDK's RESTController.handleError makes of an HTTP error answer.
  if (body && typeof body === 'object' && (body.code || body.error || body.message)) {
    return new Parse.Error(body.code, body.error || body.message);
  }
  return new Parse.Error(
    Parse.Error.CONNECTION_FAILED,
    'XMLHttpRequest failed: ' + JSON.stringify(body === undefined ? null : body)
  );
}

// The store transaction a hook runs in (a `"transaction": true` batch): Parse calls the hook makes
// carry it, so their writes join the transaction instead of waiting for it to end.
const { AsyncLocalStorage } = require('node:async_hooks');
const hookScope = new AsyncLocalStorage();

function restRequest(method, urlPath, data, options) {
  options = options || {};
  return new Promise((resolve, reject) => {
    let p = String(urlPath || '');
    // The SDK may hand a full URL or a mount-prefixed path (file URLs, redirects).
    try {
      const base = new URL(Parse.serverURL);
      if (/^https?:\/\//.test(p)) {
        const u = new URL(p);
        p = u.pathname + u.search;
      }
      const mount = base.pathname.replace(/\/$/, '');
      if (mount && (p === mount || p.startsWith(mount + '/'))) p = p.slice(mount.length);
    } catch (e) {
      /* keep p */
    }
    p = p.replace(/^\/+/, '');
    let body = data;
    if (body === undefined || body === null) body = method === 'GET' ? {} : null;
    else {
      try {
        body = JSON.parse(JSON.stringify(body));
      } catch (e) {
        reject(new Parse.Error(Parse.Error.INVALID_JSON, 'Cannot encode request: ' + e.message));
        return;
      }
    }
    const id = nextRestId++;
    const frame = {
      t: 'rest',
      id,
      method: String(method || 'GET').toUpperCase(),
      path: p,
      body,
      auth: {
        master: !!options.useMasterKey,
        sessionToken: typeof options.sessionToken === 'string' ? options.sessionToken : null,
        installationId: typeof options.installationId === 'string' ? options.installationId : null,
      },
      context: options.context === undefined ? null : options.context,
    };
    if (options.useMaintenanceKey) frame.auth.maintenance = true;
    const scope = hookScope.getStore();
    if (scope && scope.txId !== undefined && scope.txId !== null) frame.tx = scope.txId;
    pendingRest.set(id, { resolve, reject, options });
    if (!send(frame)) {
      pendingRest.delete(id);
      reject(new Parse.Error(Parse.Error.CONNECTION_FAILED, 'Unable to connect to the Parse API'));
    }
  });
}

function onRestResult(msg) {
  const p = pendingRest.get(msg.id);
  if (!p) return;
  pendingRest.delete(msg.id);
  const status = typeof msg.status === 'number' ? msg.status : 200;
  const body = msg.body;
  if (status >= 400) {
    p.reject(restError(status, body));
    return;
  }
  if (p.options.returnStatus) {
    // As the SDK does: spread the answer (an array becomes index keys).
    const out = Object.assign({}, body && typeof body === 'object' ? body : {});
    out._status = status;
    out._headers = msg.headers || {};
    p.resolve(out);
  } else {
    p.resolve(body === undefined ? null : body);
  }
}

function installRestController() {
  const real = Parse.CoreManager.getRESTController();
  Parse.CoreManager.setRESTController({
    request: restRequest,
    // Raw uploads (Blob/stream file saves) still go over HTTP, as in Parse Server.
    ajax: real.ajax,
    handleError: real.handleError,
  });
}

// ---------------------------------------------------------------------------
// Registry (Parse Server's trigger store)
// ---------------------------------------------------------------------------

const T = {
  beforeLogin: 'beforeLogin',
  afterLogin: 'afterLogin',
  afterLogout: 'afterLogout',
  beforePasswordResetRequest: 'beforePasswordResetRequest',
  beforeSave: 'beforeSave',
  afterSave: 'afterSave',
  beforeDelete: 'beforeDelete',
  afterDelete: 'afterDelete',
  beforeFind: 'beforeFind',
  afterFind: 'afterFind',
  beforeConnect: 'beforeConnect',
  beforeSubscribe: 'beforeSubscribe',
  afterEvent: 'afterEvent',
};

const functions = new Map(); // name -> { handler, validator }
const jobs = new Map(); // name -> handler
const triggers = new Map(); // `${type}.${className}` -> { handler, validator }
const liveQueryHandlers = [];
const rateLimits = [];

function warn(text) {
  process.stderr.write(text + '\n');
}

function validName(name) {
  // Parse Server ignores names with quotes (store injection guard).
  return typeof name === 'string' && !/['"`]/.test(name);
}

function classNameOf(parseClass) {
  if (parseClass && parseClass.className) return parseClass.className;
  if (parseClass && parseClass.name) return parseClass.name.replace('Parse', '@');
  return parseClass;
}

function isParseObjectConstructor(x) {
  return typeof x === 'function' && Object.prototype.hasOwnProperty.call(x, 'className');
}

function checkTriggerClass(className, type) {
  if (type === T.beforeSave && className === '_PushStatus') {
    throw 'Only afterSave is allowed on _PushStatus';
  }
  if (
    (type === T.beforeLogin || type === T.afterLogin || type === T.beforePasswordResetRequest) &&
    className !== '_User'
  ) {
    throw 'Only the _User class is allowed for the beforeLogin, afterLogin, and beforePasswordResetRequest triggers';
  }
  if (type === T.afterLogout && className !== '_Session') {
    throw 'Only the _Session class is allowed for the afterLogout trigger.';
  }
  if (className === '_Session' && type !== T.afterLogout) {
    throw 'Only the afterLogout trigger is allowed for the _Session class.';
  }
}

function validatorTypeName(x) {
  if (Array.isArray(x)) return 'array';
  if (x === 'Any' || x === 'function') return x;
  if (typeof x === 'function') {
    const m = x.toString().match(/^\s*function (\w+)/);
    return (m ? m[1] : 'function').toLowerCase();
  }
  return typeof x;
}

const VALIDATOR_KEYS = {
  requireUser: [Boolean],
  requireAnyUserRoles: [Array, 'function'],
  requireAllUserRoles: [Array, 'function'],
  requireMaster: [Boolean],
  validateMasterKey: [Boolean],
  skipWithMasterKey: [Boolean],
  requireUserKeys: [Array, Object],
  fields: [Array, Object],
  rateLimit: [Object],
};
const FIELD_KEYS = {
  type: ['Any'],
  constant: [Boolean],
  default: ['Any'],
  options: [Array, 'function', 'Any'],
  required: [Boolean],
  error: [String],
};

function checkValidatorKey(key, allowed, value) {
  const types = allowed[key];
  if (!types) throw `${key} is not a supported parameter for Cloud Function validations.`;
  const names = types.map(validatorTypeName);
  const actual = validatorTypeName(value);
  if (!names.includes(actual) && !names.includes('Any')) {
    throw `Invalid type for Cloud Function validation key ${key}. Expected ${names.join('|')}, actual ${actual}`;
  }
}

function checkValidator(validator) {
  if (!validator || typeof validator === 'function') return;
  for (const key in validator) {
    checkValidatorKey(key, VALIDATOR_KEYS, validator[key]);
    if (key === 'fields' || key === 'requireUserKeys') {
      const v = validator[key];
      if (Array.isArray(v)) continue;
      for (const field in v) {
        const spec = v[field];
        for (const sub in spec) checkValidatorKey(sub, FIELD_KEYS, spec[sub]);
      }
    }
  }
}

function routeFor(className) {
  // Rate-limited route as Parse Server builds it (prefix: subpaths included).
  if (className === '_User') return { requestPath: '/users', prefix: true };
  if (className === '_Session') return { requestPath: '/sessions', prefix: true };
  if (className === '@File') return { requestPath: '/files', prefix: true };
  if (className === '@Config') return { requestPath: '/config', prefix: false };
  return { requestPath: '/classes/' + className, prefix: true };
}

function addRateLimit(route, methods, validator, extra) {
  if (!validator || typeof validator !== 'object' || !validator.rateLimit) return;
  const entry = Object.assign({}, route, { requestMethods: methods }, extra || {}, validator.rateLimit);
  rateLimits.push(plainJSON(entry));
}

function plainJSON(v) {
  try {
    return JSON.parse(JSON.stringify(v, (k, x) => (typeof x === 'function' ? undefined : x)));
  } catch (e) {
    return null;
  }
}

function addTrigger(type, className, handler, validator) {
  checkTriggerClass(className, type);
  const key = `${type}.${className}`;
  if (!validName(key)) return;
  if (triggers.has(key) && triggers.get(key).handler) {
    warn(`Warning: Duplicate cloud functions exist for ${className}. Only the last one will be used and the others will be ignored.`);
  }
  triggers.set(key, { handler, validator, type, className });
}

function getTrigger(type, className) {
  const t = triggers.get(`${type}.${className}`);
  return t && typeof t.handler === 'function' ? t : null;
}

function makeCloud() {
  const C = {};
  C.define = function (name, handler, validator) {
    checkValidator(validator);
    if (!validName(name)) return;
    if (functions.has(name)) {
      warn(`Warning: Duplicate cloud functions exist for ${name}. Only the last one will be used and the others will be ignored.`);
    }
    functions.set(name, { handler, validator });
    addRateLimit({ requestPath: '/functions/' + name, prefix: false }, null, validator);
  };
  C.job = function (name, handler) {
    if (!validName(name)) return;
    if (jobs.has(name)) {
      warn(`Warning: Duplicate cloud functions exist for ${name}. Only the last one will be used and the others will be ignored.`);
    }
    jobs.set(name, handler);
  };
  const classTrigger = (type, methods) =>
    function (parseClass, handler, validator) {
      const className = classNameOf(parseClass);
      checkValidator(validator);
      addTrigger(type, className, handler, validator);
      if (methods) addRateLimit(routeFor(className), methods, validator);
    };
  C.beforeSave = classTrigger(T.beforeSave, ['POST', 'PUT']);
  C.afterSave = classTrigger(T.afterSave);
  C.beforeDelete = classTrigger(T.beforeDelete, ['DELETE']);
  C.afterDelete = classTrigger(T.afterDelete);
  C.beforeFind = classTrigger(T.beforeFind, ['GET']);
  C.afterFind = classTrigger(T.afterFind);
  C.afterLiveQueryEvent = classTrigger(T.afterEvent);
  C.beforeSubscribe = function (parseClass, handler, validator) {
    checkValidator(validator);
    addTrigger(T.beforeSubscribe, classNameOf(parseClass), handler, validator);
  };
  // beforeLogin / beforePasswordResetRequest keep no validator (as Parse Server);
  // only a rateLimit in it counts.
  const userTrigger = (type, defaultClass, ratePath) =>
    function (handler, validator) {
      let className = defaultClass;
      if (typeof handler === 'string' || isParseObjectConstructor(handler)) {
        className = classNameOf(handler);
        handler = arguments[1];
        validator = arguments.length >= 2 ? arguments[2] : null;
      }
      addTrigger(type, className, handler, undefined);
      if (ratePath) addRateLimit({ requestPath: ratePath, prefix: false }, ['POST'], validator);
    };
  C.beforeLogin = userTrigger(T.beforeLogin, '_User', '/login');
  C.afterLogin = userTrigger(T.afterLogin, '_User');
  C.afterLogout = userTrigger(T.afterLogout, '_Session');
  C.beforePasswordResetRequest = userTrigger(
    T.beforePasswordResetRequest,
    '_User',
    '/requestPasswordReset'
  );
  C.beforeConnect = function (handler, validator) {
    checkValidator(validator);
    triggers.set(`${T.beforeConnect}.@Connect`, {
      handler,
      validator,
      type: T.beforeConnect,
      className: '@Connect',
    });
  };
  C.onLiveQueryEvent = function (handler) {
    liveQueryHandlers.push(handler);
  };
  C.sendEmail = function () {
    // No mail adapter reaches the worker: Parse Server's answer without one.
    makeLogger(null).error('Failed to send email because no mail adapter is configured for Parse Server.');
  };
  C._removeAllHooks = function () {
    functions.clear();
    jobs.clear();
    triggers.clear();
    liveQueryHandlers.length = 0;
    rateLimits.length = 0;
  };
  C.useMasterKey = function () {
    // eslint-disable-next-line no-console
    console.warn(
      'Parse.Cloud.useMasterKey is deprecated (and has no effect anymore) on parse-server, please refer to the cloud code migration notes: http://docs.parseplatform.org/parse-server/guide/#master-key-must-be-passed-explicitly'
    );
  };
  return C;
}

function manifest() {
  const fns = {};
  for (const [name, f] of functions) {
    const entry = {};
    if (f.validator) {
      entry.validator = {};
      if (typeof f.validator === 'object' && f.validator.rateLimit) {
        entry.validator.rateLimit = plainJSON(f.validator.rateLimit);
      }
    }
    fns[name] = entry;
  }
  const trig = {};
  for (const t of triggers.values()) {
    if (typeof t.handler !== 'function') continue;
    (trig[t.className] = trig[t.className] || []).push(t.type);
  }
  return { functions: fns, jobs: [...jobs.keys()], triggers: trig, rateLimits };
}

// ---------------------------------------------------------------------------
// Errors (triggers.js resolveError)
// ---------------------------------------------------------------------------

function resolveError(e, defaults) {
  defaults = defaults || {};
  if (!e) {
    return new Parse.Error(defaults.code || Parse.Error.SCRIPT_FAILED, defaults.message || 'Script failed.');
  }
  if (e instanceof Parse.Error) return e;
  const code = defaults.code || Parse.Error.SCRIPT_FAILED;
  if (typeof e === 'string') return new Parse.Error(code, e);
  const err = new Parse.Error(code, e.message || e);
  if (e instanceof Error) err.stack = e.stack;
  return err;
}

function errorJSON(e) {
  const out = { code: e.code, message: typeof e.message === 'string' ? e.message : String(e.message) };
  if (typeof e.code !== 'number') out.code = Parse.Error.SCRIPT_FAILED;
  if (typeof e.status === 'number') out.status = e.status;
  return out;
}

// ---------------------------------------------------------------------------
// Request objects
// ---------------------------------------------------------------------------

function makeLogger(requestId) {
  // As Parse Server's LoggerController over winston: `log.info('text', {a: 1})` is the message
  // 'text' with the plain objects after it as meta fields of the entry (sent as `meta`).
  const isMeta = a => a && typeof a === 'object' && !Array.isArray(a) && !(a instanceof Error) &&
    (Object.getPrototypeOf(a) === Object.prototype || Object.getPrototypeOf(a) === null);
  const emit = level =>
    function (...args) {
      let meta = null;
      const parts = [];
      args.forEach((a, i) => {
        if (i > 0 && typeof args[0] === 'string' && isMeta(a)) {
          meta = Object.assign(meta || {}, plainJSON(a));
          return;
        }
        parts.push(typeof a === 'string' ? a : util.inspect(a, { depth: 6, breakLength: Infinity }));
      });
      const frame = { t: 'log', level, message: parts.join(' '), requestId: requestId == null ? null : requestId };
      if (meta) frame.meta = meta;
      send(frame);
    };
  const logger = {
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    debug: emit('debug'),
    verbose: emit('verbose'),
    silly: emit('silly'),
  };
  logger.log = function (level, ...args) {
    (logger[level] || logger.info)(...args);
  };
  return logger;
}

function inflate(json, className) {
  if (!json || typeof json !== 'object') return undefined;
  const copy = Object.assign({}, json);
  delete copy.__type;
  copy.className = copy.className || className;
  return Parse.Object.fromJSON(copy);
}

function userFromJSON(u) {
  if (!u || typeof u !== 'object') return undefined;
  return inflate(u, '_User');
}

// Fields every hook request carries (getRequestObject / FunctionsRouter).
function baseRequest(r, triggerName) {
  const req = {};
  if (triggerName) req.triggerName = triggerName;
  req.master = !!r.master;
  req.isReadOnly = !!r.isReadOnly;
  req.log = makeLogger(r.requestId);
  req.headers = r.headers || {};
  req.ip = r.ip;
  const user = userFromJSON(r.user);
  if (user) req.user = user;
  if (r.installationId) req.installationId = r.installationId;
  return req;
}

function contextCopy(r) {
  return Object.assign({}, r.context && typeof r.context === 'object' ? r.context : {});
}

// FunctionsRouter parseParams: Dates, Files and Pointers decoded, the rest kept.
function parseParam(v) {
  if (Array.isArray(v)) return v.map(parseParam);
  if (v && typeof v === 'object') {
    if (v.__type === 'Date') return Object.assign(new Date(v.iso), v);
    if (v.__type === 'File') return Parse.File.fromJSON(v);
    if (v.__type === 'Pointer') {
      return Parse.Object.fromJSON({ __type: 'Pointer', className: v.className, objectId: v.objectId });
    }
    return parseParams(v);
  }
  return v;
}

function parseParams(params) {
  const out = {};
  for (const k of Object.keys(params || {})) out[k] = parseParam(params[k]);
  return out;
}

// ---------------------------------------------------------------------------
// Validators (triggers.js maybeRunValidator / builtInTriggerValidator)
// ---------------------------------------------------------------------------

async function userRoleNames(user) {
  // Auth.getUserRoles: the roles whose `users` hold the user, then their parents
  // (roles whose `roles` relation holds them), as `role:<name>`.
  const names = new Set();
  const seen = new Set();
  let found = await restRequest(
    'GET',
    'classes/_Role',
    { where: { users: { __type: 'Pointer', className: '_User', objectId: user.id } }, keys: 'name', limit: 10000 },
    { useMasterKey: true }
  );
  let layer = (found && found.results) || [];
  while (layer.length) {
    const ids = [];
    for (const role of layer) {
      if (seen.has(role.objectId)) continue;
      seen.add(role.objectId);
      if (role.name) names.add(role.name);
      ids.push(role.objectId);
    }
    if (!ids.length) break;
    found = await restRequest(
      'GET',
      'classes/_Role',
      {
        where: { roles: { $in: ids.map(id => ({ __type: 'Pointer', className: '_Role', objectId: id })) } },
        keys: 'name',
        limit: 10000,
      },
      { useMasterKey: true }
    );
    layer = (found && found.results) || [];
  }
  return [...names].map(n => 'role:' + n);
}

function fieldTypeName(fn) {
  const m = fn && fn.toString().match(/^\s*function (\w+)/);
  return (m ? m[1] : '').toLowerCase();
}

async function builtInValidator(options, request) {
  if (request.master && !options.validateMasterKey) return;
  let reqUser = request.user;
  if (!reqUser && request.object && request.object.className === '_User' && !request.object.existed()) {
    reqUser = request.object;
  }
  if ((options.requireUser || options.requireAnyUserRoles || options.requireAllUserRoles) && !reqUser) {
    throw 'Validation failed. Please login to continue.';
  }
  if (options.requireMaster && !request.master) {
    throw 'Validation failed. Master key is required to complete this request.';
  }
  let params = request.params || {};
  if (request.object) {
    params =
      typeof request.object.toJSON === 'function'
        ? request.object.toJSON()
        : Object.assign({}, request.object.attributes || {});
  }
  const required = key => {
    if (params[key] == null) throw `Validation failed. Please specify data for ${key}.`;
  };
  const checkOptions = async (opt, key, val) => {
    let opts = opt.options;
    if (typeof opts === 'function') {
      try {
        const ok = await opts(val);
        if (!ok && ok != null) throw opt.error || `Validation failed. Invalid value for ${key}.`;
      } catch (e) {
        if (!e) throw opt.error || `Validation failed. Invalid value for ${key}.`;
        throw opt.error || e.message || e;
      }
      return;
    }
    if (!Array.isArray(opts)) opts = [opt.options];
    if (!opts.includes(val)) {
      throw opt.error || `Validation failed. Invalid option for ${key}. Expected: ${opts.join(', ')}`;
    }
  };
  if (Array.isArray(options.fields)) {
    for (const key of options.fields) required(key);
  } else {
    const pending = [];
    for (const key in options.fields) {
      const opt = options.fields[key];
      let val = params[key];
      if (typeof opt === 'string') required(opt);
      if (opt && typeof opt === 'object') {
        if (opt.default != null && val == null) {
          val = opt.default;
          params[key] = val;
          if (request.object) request.object.set(key, val);
        }
        if (opt.constant && request.object) {
          if (request.original) request.object.revert(key);
          else if (opt.default != null) request.object.set(key, opt.default);
        }
        if (opt.required) required(key);
        const optional = !opt.required && val === undefined;
        if (!optional) {
          if (opt.type) {
            const type = fieldTypeName(opt.type);
            const valType = Array.isArray(val) ? 'array' : typeof val;
            if (valType !== type) throw `Validation failed. Invalid type for ${key}. Expected: ${type}`;
          }
          if (opt.options) pending.push([opt, key, val]);
        }
      }
    }
    await Promise.all(pending.map(([o, k, v]) => checkOptions(o, k, v)));
  }
  let anyRoles = options.requireAnyUserRoles;
  let allRoles = options.requireAllUserRoles;
  const work = [Promise.resolve(), Promise.resolve(), Promise.resolve()];
  if (anyRoles || allRoles) {
    // Auth.getUserRoles: none for the master key or without a session user.
    work[0] = request.master || !request.user ? Promise.resolve([]) : userRoleNames(request.user);
  }
  if (typeof anyRoles === 'function') work[1] = anyRoles();
  if (typeof allRoles === 'function') work[2] = allRoles();
  const [roles, anyResolved, allResolved] = await Promise.all(work);
  if (anyResolved && Array.isArray(anyResolved)) anyRoles = anyResolved;
  if (allResolved && Array.isArray(allResolved)) allRoles = allResolved;
  if (anyRoles) {
    if (!anyRoles.some(r => roles.includes(`role:${r}`))) {
      throw 'Validation failed. User does not match the required roles.';
    }
  }
  if (allRoles) {
    for (const r of allRoles) {
      if (!roles.includes(`role:${r}`)) throw 'Validation failed. User does not match all the required roles.';
    }
  }
  const userKeys = options.requireUserKeys || [];
  if (Array.isArray(userKeys)) {
    for (const key of userKeys) {
      if (!reqUser) throw 'Please login to make this request.';
      if (reqUser.get(key) == null) throw `Validation failed. Please set data for ${key} on your account.`;
    }
  } else if (typeof userKeys === 'object') {
    const pending = [];
    for (const key in userKeys) {
      const opt = userKeys[key];
      if (opt && opt.options) pending.push(checkOptions(opt, key, reqUser.get(key)));
    }
    await Promise.all(pending);
  }
}

async function runValidator(validator, request) {
  if (!validator) return;
  if (typeof validator === 'object' && validator.skipWithMasterKey && request.master) {
    request.skipWithMasterKey = true;
  }
  try {
    if (typeof validator === 'object') await builtInValidator(validator, request);
    else await validator(request);
  } catch (e) {
    throw resolveError(e, { code: Parse.Error.VALIDATION_ERROR, message: 'Validation failed.' });
  }
}

// ---------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------

const SCRIPT_FAILED_UNKNOWN = { code: 141, message: 'Script failed. Unknown error.' };

async function runFunction(msg) {
  const r = msg.request || {};
  const name = msg.name || r.functionName;
  const fn = functions.get(name);
  if (!fn || typeof fn.handler !== 'function') {
    throw new Parse.Error(Parse.Error.SCRIPT_FAILED, `Invalid function: "${name}"`);
  }
  const request = {
    params: parseParams(r.params || {}),
    master: !!r.master,
    isReadOnly: !!r.isReadOnly,
    user: userFromJSON(r.user),
    installationId: r.installationId || undefined,
    log: makeLogger(r.requestId),
    headers: r.headers || {},
    ip: r.ip,
    functionName: name,
    context: r.context && typeof r.context === 'object' ? r.context : {},
  };
  // Express-style (request, response): response.success/error/status/header.
  let status = null;
  const headers = {};
  let sent = false;
  let settle;
  const settled = new Promise((res, rej) => {
    settle = { res, rej };
  });
  const response = {
    success(result) {
      if (sent) throw new Error('Cannot call success() after response has already been sent. Make sure to call success() or error() only once per cloud function execution.');
      sent = true;
      settle.res(result);
    },
    error(message) {
      if (sent) throw new Error('Cannot call error() after response has already been sent. Make sure to call success() or error() only once per cloud function execution.');
      sent = true;
      settle.rej(message);
    },
    status(code) {
      status = code;
      return response;
    },
    header(key, value) {
      headers[key] = value;
      return response;
    },
  };
  let result;
  try {
    await runValidator(fn.validator, request);
    if (fn.handler.length >= 2) {
      const returned = fn.handler(request, response);
      Promise.resolve(returned).then(
        value => {
          if (!sent && value !== undefined) response.success(value);
        },
        e => {
          if (!sent) response.error(e);
        }
      );
      result = await settled;
    } else {
      result = await fn.handler(request);
    }
  } catch (e) {
    const err = resolveError(e);
    if (status !== null) err.status = status;
    throw err;
  }
  const value = { result: Parse._encode(result) };
  if (status !== null) value.status = status;
  if (Object.keys(headers).length) value.headers = headers;
  return value;
}

async function runJob(msg) {
  const r = msg.request || {};
  const name = msg.name || r.jobName;
  const job = jobs.get(name);
  if (typeof job !== 'function') throw new Parse.Error(Parse.Error.SCRIPT_FAILED, 'Invalid job.');
  const jobId = r.jobId;
  const request = {
    params: parseParams(r.params || {}),
    log: makeLogger(r.requestId),
    headers: r.headers || {},
    ip: r.ip,
    jobName: name,
    jobId,
    message(message) {
      send({ t: 'job_message', jobId, message: typeof message === 'string' ? message : String(message) });
      return Promise.resolve();
    },
  };
  let ret;
  try {
    ret = await job(request);
  } catch (e) {
    throw resolveError(e);
  }
  // Parse's jobStatusHandler.setSucceeded keeps a string result as the status message.
  return typeof ret === 'string' ? { result: ret } : {};
}

// RestWrite.buildParseObjects: the stored object (or {className}) with the
// client's body applied, so dirty()/dirtyKeys()/get() see the write.
function buildSaveObjects(className, r) {
  const stored = r.original || (r.object && r.object.objectId ? r.object : null);
  const body = r.body && typeof r.body === 'object' ? r.body : {};
  const objectId = stored ? stored.objectId : undefined;
  const original = stored ? inflate(Object.assign({}, stored, { className, objectId }), className) : undefined;
  const extra = { className };
  if (objectId) extra.objectId = objectId;
  const probe = Parse.Object.fromJSON({ className });
  const readOnly =
    probe.constructor && typeof probe.constructor.readOnlyAttributes === 'function'
      ? probe.constructor.readOnlyAttributes()
      : [];
  if (!stored) for (const a of readOnly) if (body[a] !== undefined) extra[a] = body[a];
  const updated = inflate(Object.assign({}, stored || {}, extra), className);
  const data = JSON.parse(JSON.stringify(body));
  for (const key of Object.keys(data)) {
    if (key.indexOf('.') > 0) {
      const v = data[key];
      if (v && typeof v.__op === 'string') {
        if (!readOnly.includes(key)) updated.set(key, Parse._decode(undefined, v));
      } else {
        const [parent, child] = key.split('.');
        let pv = updated.get(parent);
        if (typeof pv !== 'object' || pv === null) pv = {};
        pv[child] = Parse._decode(undefined, v);
        updated.set(parent, pv);
      }
      delete data[key];
    }
  }
  for (const key of Object.keys(data)) {
    if (!/^[A-Za-z][0-9A-Za-z_]*$/.test(key)) delete data[key];
  }
  for (const a of readOnly) delete data[a];
  updated.set(Parse._decode(undefined, data));
  return { updated, original };
}

// triggers.js toJSONwithObjects
function toJSONwithObjects(object, className) {
  if (!object || typeof object.toJSON !== 'function') return {};
  const json = object.toJSON();
  const state = Parse.CoreManager.getObjectStateController();
  const [pending] = state.getPendingOps(object._getStateIdentifier());
  for (const key in pending) {
    const val = object.get(key);
    json[key] = val && val._toFullJSON ? val._toFullJSON() : val;
  }
  if (className) json.className = className;
  else if (object.className && !json.className) json.className = object.className;
  return json;
}

function normalizeQueryJSON(q) {
  const json = Object.assign({}, q || {});
  for (const k of ['keys', 'include', 'excludeKeys', 'order', 'watch']) {
    if (Array.isArray(json[k])) json[k] = json[k].join(',');
  }
  return json;
}

// QueryAdapter.applyQueryToRest: only set keys of the trigger's query override.
const REST_OPTION_KEYS = ['limit', 'skip', 'include', 'excludeKeys', 'explain', 'keys', 'order', 'hint', 'comment'];

function applyQuery(query, incoming) {
  const out = Object.assign({}, incoming);
  const json = query.toJSON();
  if (json.where) out.where = json.where;
  for (const k of REST_OPTION_KEYS) if (json[k]) out[k] = json[k];
  out.className = query.className || incoming.className;
  return out;
}

async function runObjectTrigger(t, type, className, r) {
  const request = baseRequest(r, type);
  const ctx = contextCopy(r);
  const withContext = [T.beforeSave, T.afterSave, T.beforeDelete, T.afterDelete, T.beforeLogin, T.afterLogin, T.beforePasswordResetRequest].includes(type);
  if (type === T.beforeSave) {
    const { updated, original } = buildSaveObjects(className, r);
    request.object = updated;
    if (original) request.original = original;
  } else if (type === T.afterSave) {
    request.object = inflate(r.object, className);
    const original = inflate(r.original, className);
    if (original) request.original = original;
  } else {
    request.object = inflate(r.object, className);
    const original = inflate(r.original, className);
    if (original) request.original = original;
  }
  if (type === T.beforeLogin || type === T.afterLogin) {
    // Parse Server runs these with the user logging in as request.user.
    if (request.object) request.user = request.object;
  }
  if (withContext) request.context = ctx;
  let returned;
  try {
    await runValidator(t.validator, request);
    if (!request.skipWithMasterKey) returned = await t.handler(request);
  } catch (e) {
    throw resolveError(e, SCRIPT_FAILED_UNKNOWN);
  }
  const context = request.context || ctx;
  if (type === T.beforeSave) {
    // maybeRunTrigger: a resolved value with an `object` key is taken as the
    // body to save; any other return value is ignored.
    if (returned && typeof returned === 'object' && returned.object && typeof returned.object === 'object' && !(returned instanceof Parse.Object)) {
      return { body: plainJSON(Parse._encode(returned.object)), context: plainJSON(context) };
    }
    const body = request.object._getSaveJSON();
    if (request.object.id) body.objectId = request.object.id;
    return { body: plainJSON(body), context: plainJSON(context) };
  }
  if (type === T.afterSave) {
    const value = { context: plainJSON(context) };
    if (returned && typeof returned === 'object' && !(returned instanceof Parse.Object)) {
      value.response = Parse._encode(returned);
    } else if (returned instanceof Parse.Object || (request.object && request.object.dirty())) {
      value.object = toJSONwithObjects(returned instanceof Parse.Object ? returned : request.object);
    }
    return value;
  }
  if (type === T.beforeDelete || type === T.afterDelete) return { context: plainJSON(context) };
  return {};
}

async function runFindTrigger(t, type, className, r) {
  const incoming = Object.assign({ className }, normalizeQueryJSON(r.query));
  const query = new Parse.Query(className);
  const { className: _c, ...qjson } = incoming;
  query.withJSON(qjson);
  if (type === T.beforeFind) {
    const request = baseRequest(r, type);
    request.query = query;
    request.count = !!r.count;
    request.isGet = !!r.isGet;
    request.context = contextCopy(r);
    let result;
    try {
      await runValidator(t.validator, request);
      result = request.skipWithMasterKey ? request.query : await t.handler(request);
    } catch (e) {
      throw resolveError(e, SCRIPT_FAILED_UNKNOWN);
    }
    const q = result instanceof Parse.Query ? result : query;
    const value = { query: applyQuery(q, incoming), context: plainJSON(request.context) };
    let objects;
    if (result instanceof Parse.Object) objects = [result];
    else if (Array.isArray(result) && (!result.length || result.every(o => o instanceof Parse.Object))) objects = result;
    if (objects) value.objects = objects.map(o => toJSONwithObjects(o));
    return value;
  }
  // afterFind
  const request = baseRequest(r, type);
  if (r.isGet !== undefined) request.isGet = !!r.isGet;
  request.context = contextCopy(r);
  request.query = query;
  request.objects = (r.objects || []).map(o => inflate(o, o && o.className ? o.className : className));
  let result;
  try {
    await runValidator(t.validator, request);
    result = request.skipWithMasterKey ? request.objects : await t.handler(request);
  } catch (e) {
    throw resolveError(e, SCRIPT_FAILED_UNKNOWN);
  }
  if (!result) result = request.objects;
  if (result instanceof Parse.Object) result = [result];
  if (!Array.isArray(result)) {
    throw new Parse.Error(Parse.Error.SCRIPT_FAILED, 'afterFind must return an array of Parse.Object');
  }
  return { objects: result.map(o => (o instanceof Parse.Object ? toJSONwithObjects(o) : o)) };
}

function fileFromJSON(f) {
  f = f || {};
  let file;
  if (f.base64 !== undefined) file = new Parse.File(f.name, { base64: f.base64 }, f.type);
  else {
    file = Parse.File.fromJSON({ __type: 'File', name: f.name, url: f.url });
  }
  if (f.metadata && file.setMetadata) file.setMetadata(f.metadata);
  if (f.tags && file.setTags) file.setTags(f.tags);
  return file;
}

async function fileJSON(file) {
  const out = { name: file._name || file.name() };
  const url = file.url && file.url();
  if (url) {
    out.url = url;
  } else {
    const src = file._source || {};
    if (file._data) out.base64 = file._data;
    else if (src.format === 'base64') out.base64 = src.base64;
    else if (src.format === 'uri') {
      const res = await fetch(src.uri);
      out.base64 = Buffer.from(await res.arrayBuffer()).toString('base64');
      out.type = src.type || res.headers.get('content-type') || undefined;
    } else if (src.format === 'file' && src.file && typeof src.file.arrayBuffer === 'function') {
      out.base64 = Buffer.from(await src.file.arrayBuffer()).toString('base64');
    }
    if (src.type) out.type = src.type;
  }
  if (file._metadata && Object.keys(file._metadata).length) out.metadata = file._metadata;
  if (file._tags && Object.keys(file._tags).length) out.tags = file._tags;
  return out;
}

async function runFileTrigger(t, type, r) {
  const request = baseRequest(r, type);
  const file = fileFromJSON(r.file);
  request.file = file;
  request.fileSize = r.fileSize === undefined ? null : r.fileSize;
  if (r.contentLength !== undefined) request.contentLength = r.contentLength;
  const before = JSON.stringify(await fileJSON(file));
  let result;
  try {
    await runValidator(t.validator, request);
    if (!request.skipWithMasterKey) result = await t.handler(request);
  } catch (e) {
    if (type === T.beforeDelete || type === T.afterDelete) {
      throw resolveError(e, { code: Parse.Error.FILE_DELETE_ERROR, message: 'Could not delete file.' });
    }
    if (type === T.beforeSave || type === T.afterSave) {
      throw resolveError(e, { code: Parse.Error.FILE_SAVE_ERROR, message: `Could not store file: ${file._name}.` });
    }
    throw resolveError(e);
  }
  const value = {};
  const chosen = result instanceof Parse.File ? result : file;
  const after = await fileJSON(chosen);
  if (result instanceof Parse.File || JSON.stringify(after) !== before) value.file = after;
  if (request.forceDownload) value.forceDownload = true;
  if (request.responseHeaders) value.responseHeaders = request.responseHeaders;
  return value;
}

async function runConfigTrigger(t, type, r) {
  const request = baseRequest(r, type);
  const obj = new Parse.Config();
  obj.attributes = Object.assign({}, (r.object && r.object.params) || {});
  request.object = obj;
  if (r.original) {
    const orig = new Parse.Config();
    orig.attributes = Object.assign({}, r.original.params || {});
    request.original = orig;
  }
  request.context = contextCopy(r);
  let result;
  try {
    await runValidator(t.validator, request);
    if (!request.skipWithMasterKey) result = await t.handler(request);
  } catch (e) {
    throw resolveError(e);
  }
  if (type !== T.beforeSave) return {};
  const chosen = result instanceof Parse.Config ? result : obj;
  return { object: { params: Parse._encode(chosen.attributes) } };
}

async function runLiveQueryTrigger(t, type, className, r) {
  const request = {};
  if (type === T.beforeConnect) request.event = 'connect';
  const user = userFromJSON(r.user);
  if (user) request.user = user;
  request.useMasterKey = !!(r.useMasterKey !== undefined ? r.useMasterKey : r.master);
  if (r.installationId) request.installationId = r.installationId;
  if (r.sessionToken !== undefined) request.sessionToken = r.sessionToken;
  if (r.clients !== undefined) request.clients = r.clients;
  if (r.subscriptions !== undefined) request.subscriptions = r.subscriptions;
  request.log = makeLogger(r.requestId);
  let query;
  if (type === T.beforeSubscribe) {
    query = new Parse.Query(className);
    const { className: _c, ...q } = normalizeQueryJSON(r.query);
    query.withJSON(q);
    request.query = query;
    if (r.requestId !== undefined) request.requestId = r.requestId;
    request.op = 'subscribe';
  }
  if (type === T.afterEvent) {
    request.event = r.event;
    request.object = inflate(r.object, className);
    request.original = inflate(r.original, className);
    request.sendEvent = r.sendEvent === undefined ? true : !!r.sendEvent;
  }
  try {
    await runValidator(t.validator, request);
    if (!request.skipWithMasterKey) await t.handler(request);
  } catch (e) {
    throw resolveError(e);
  }
  if (type === T.beforeSubscribe) {
    const q = request.query instanceof Parse.Query ? request.query : query;
    const json = q.toJSON();
    const out = { className: q.className || className, where: json.where || {} };
    if (json.keys) out.keys = json.keys;
    if (json.watch) out.watch = json.watch;
    return { query: out };
  }
  if (type === T.afterEvent) {
    const value = { sendEvent: !!request.sendEvent };
    if (request.object && typeof request.object.toJSON === 'function') {
      value.object = toJSONwithObjects(request.object, request.object.className || className);
    } else value.object = request.object || null;
    if (request.original && typeof request.original.toJSON === 'function') {
      value.original = toJSONwithObjects(request.original, request.original.className || className);
    } else value.original = request.original || null;
    return value;
  }
  return {};
}

// What a hook answers when nothing is registered for it: the input, unchanged.
function neutralValue(type, className, r) {
  if (className === '@File' || className === '@Config') return {};
  if (type === T.beforeSave) return { body: r.body || {}, context: contextCopy(r) };
  if (type === T.beforeFind) return { query: Object.assign({ className }, r.query || {}) };
  if (type === T.afterFind) return { objects: r.objects || [] };
  if (type === T.beforeSubscribe) return { query: Object.assign({ className }, r.query || {}) };
  if (type === T.afterEvent) return { object: r.object || null, original: r.original || null, sendEvent: r.sendEvent !== false };
  return {};
}

async function runTrigger(msg) {
  const type = msg.trigger;
  let className = msg.className;
  if (type === T.beforeConnect) className = '@Connect';
  const r = msg.request || {};
  if (!Object.prototype.hasOwnProperty.call(T, type)) {
    throw new Parse.Error(Parse.Error.SCRIPT_FAILED, `Unknown trigger: "${type}"`);
  }
  const t = getTrigger(type, className);
  if (!t) return neutralValue(type, className, r);
  if (className === '@File') return runFileTrigger(t, type, r);
  if (className === '@Config') return runConfigTrigger(t, type, r);
  if (type === T.beforeConnect || type === T.beforeSubscribe || type === T.afterEvent) {
    return runLiveQueryTrigger(t, type, className, r);
  }
  if (type === T.beforeFind || type === T.afterFind) return runFindTrigger(t, type, className, r);
  return runObjectTrigger(t, type, className, r);
}

async function onCall(msg) {
  let value;
  const txId = msg.request && msg.request.txId;
  try {
    value = await hookScope.run({ txId }, () => {
      if (msg.hook === 'function') return runFunction(msg);
      if (msg.hook === 'job') return runJob(msg);
      if (msg.hook === 'trigger') return runTrigger(msg);
      throw new Parse.Error(Parse.Error.SCRIPT_FAILED, `Unknown hook: "${msg.hook}"`);
    });
  } catch (e) {
    const err = e instanceof Parse.Error ? e : resolveError(e);
    send({ t: 'result', id: msg.id, ok: false, error: errorJSON(err) });
    return;
  }
  send({ t: 'result', id: msg.id, ok: true, value: value === undefined ? {} : value });
}

function onFrame(msg) {
  if (!msg || typeof msg !== 'object') {
    process.stderr.write('ferrobase cloud: frame is not an object\n');
    return;
  }
  switch (msg.t) {
    case 'ping':
      send({ t: 'pong', id: msg.id });
      return;
    case 'rest_result':
      onRestResult(msg);
      return;
    case 'call':
      onCall(msg).catch(e => {
        send({ t: 'result', id: msg.id, ok: false, error: { code: 141, message: String((e && e.message) || e) } });
      });
      return;
    default:
      if (msg.id !== undefined) {
        send({ t: 'result', id: msg.id, ok: false, error: { code: 141, message: `Unknown frame type: "${msg.t}"` } });
      } else {
        process.stderr.write('ferrobase cloud: unknown frame type ' + JSON.stringify(msg.t) + '\n');
      }
  }
}

// ---------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------

async function loadMain(file) {
  if (/\.mjs$/.test(file)) return import(pathToFileURL(file).href);
  try {
    return require(file);
  } catch (e) {
    if (e && (e.code === 'ERR_REQUIRE_ESM' || e.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      return import(pathToFileURL(file).href);
    }
    throw e;
  }
}

function fatal(e) {
  const text = e && e.stack ? String(e.stack) : String(e);
  process.stderr.write('ferrobase cloud: ' + text + '\n');
  if (socket && !socket.destroyed) {
    send({ t: 'fatal', error: e && e.name && e.message ? `${e.name}: ${e.message}` : String(e) });
    socket.end(() => process.exit(1));
    setTimeout(() => process.exit(1), 1000).unref();
  } else {
    process.exit(1);
  }
}

process.on('unhandledRejection', reason => {
  process.stderr.write('ferrobase cloud: unhandled rejection: ' + (reason && reason.stack ? reason.stack : util.inspect(reason)) + '\n');
});
process.on('uncaughtException', err => {
  process.stderr.write('ferrobase cloud: uncaught exception: ' + (err && err.stack ? err.stack : util.inspect(err)) + '\n');
});

function main() {
  const sock = env.FERROBASE_CLOUD_SOCKET;
  if (!sock) {
    process.stderr.write('ferrobase cloud: FERROBASE_CLOUD_SOCKET is not set\n');
    process.exit(1);
  }
  socket = net.createConnection(sock);
  socket.on('error', e => {
    process.stderr.write('ferrobase cloud: socket error: ' + e.message + '\n');
  });
  socket.on('close', () => {
    if (!closing) process.exit(0);
  });
  socket.on('connect', async () => {
    startReader(onFrame);
    try {
      Parse = loadSdk();
      installRestController();
      Object.assign(Parse.Cloud, makeCloud());
      const file = env.FERROBASE_CLOUD_MAIN;
      if (!file) throw new Error('FERROBASE_CLOUD_MAIN is not set');
      const loaded = await loadMain(path.resolve(file));
      if (loaded && typeof loaded.then === 'function') await loaded;
    } catch (e) {
      fatal(e);
      return;
    }
    send({ t: 'ready', manifest: manifest() });
  });
}

main();
