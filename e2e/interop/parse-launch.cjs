#!/usr/bin/env node
// Starts the real Parse Server (the npm install in $PARSE_DIR, default the one that
// scripts/peers/parse-server.sh makes in ~/.cache/ferrobase/peers/parse-server) with a config file,
// exactly as its `parse-server config.json` CLI does, after one accommodation for
// FerretDB v1: index options FerretDB has not implemented (code 238 NotImplemented: TTL
// `expireAfterSeconds` on _Idempotency.expire, collations) make Parse's start-up fail, so such an
// index is logged and skipped instead. Nothing on disk is modified.
//
//   node parse-launch.cjs /path/to/config.json
'use strict';
const os = require('os');
const path = require('path');
const PARSE_DIR =
  process.env.PARSE_DIR ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'ferrobase/peers/parse-server');
const modDir = path.join(PARSE_DIR, 'node_modules', 'parse-server');
const Adapter = require(path.join(modDir, 'lib/Adapters/Storage/Mongo/MongoStorageAdapter.js')).default;

const original = Adapter.prototype.ensureIndex;
Adapter.prototype.ensureIndex = function (className, schema, fieldNames, indexName, ...rest) {
  return original.call(this, className, schema, fieldNames, indexName, ...rest).catch(err => {
    if (err && (err.code === 238 || /not implemented/i.test(String(err.message)))) {
      console.warn(`[interop] FerretDB: skipped index ${className}.${indexName || fieldNames.join('_')}: ${err.message}`);
      return undefined;
    }
    throw err;
  });
};

const config = process.argv[2];
if (!config) {
  console.error('usage: node parse-launch.cjs config.json');
  process.exit(2);
}
process.argv = [process.argv[0], path.join(modDir, 'bin/parse-server'), path.resolve(config)];
require(path.join(modDir, 'lib/cli/parse-server.js'));
