// Parse Server + its LiveQuery server in one Node process, for bench/livequery.sh (not a test).
// The same configuration as scripts/peers/parse-server.sh writes (PostgreSQL database, appId,
// masterKey, masterKeyIps, files adapter, logs folder, allowClientClassCreation false), plus
// liveQuery.classNames and ParseServer.createLiveQueryServer(httpServer) on the same HTTP server:
// REST at http://127.0.0.1:PORT/parse, the LiveQuery WebSocket at ws://127.0.0.1:PORT/ (any path;
// the `ws` server is attached to the whole HTTP server). No Redis: Parse's in-process pub/sub.
//
// Env: PARSE_MODULES (node_modules holding parse-server 9.10, express and the pinned router),
// PORT, DATABASE_URI, APP_ID (benchApp), MASTER_KEY (benchMasterKey), RUN_DIR (cwd for logs),
// CLASS (LiveBench), LQ_MASTER_KEY=1 to let LiveQuery clients connect with the master key
// (Parse then requires `keyPairs`, and every `connect` must carry that key).
// Prints "parse-livequery listening on <REST URL>" when both are up.
import { createRequire } from 'node:module';
import http from 'node:http';
import path from 'node:path';

const MODULES = process.env.PARSE_MODULES;
const require = createRequire(path.join(MODULES, 'noop.js'));
const express = require('express');
const { ParseServer } = require('parse-server');

const PORT = Number(process.env.PORT);
const APP_ID = process.env.APP_ID || 'benchApp';
const MASTER_KEY = process.env.MASTER_KEY || 'benchMasterKey';
const BASE_URL = `http://127.0.0.1:${PORT}/parse`;
const RUN_DIR = process.env.RUN_DIR || process.cwd();

const config = {
  appId: APP_ID,
  masterKey: MASTER_KEY,
  databaseURI: process.env.DATABASE_URI,
  serverURL: BASE_URL,
  publicServerURL: BASE_URL,
  masterKeyIps: ['127.0.0.1', '::1'],
  filesAdapter: { module: '@parse/fs-files-adapter' },
  logsFolder: path.join(RUN_DIR, 'logs'),
  allowClientClassCreation: false,
  liveQuery: { classNames: [process.env.CLASS || 'LiveBench'] },
};

const server = new ParseServer(config);
await server.start();
const app = express();
app.use('/parse', server.app);
const httpServer = http.createServer(app);
await new Promise((resolve) => httpServer.listen(PORT, '127.0.0.1', resolve));
const lqConfig = process.env.LQ_MASTER_KEY === '1' ? { keyPairs: { masterKey: MASTER_KEY } } : {};
const lq = await ParseServer.createLiveQueryServer(httpServer, lqConfig, config);

const stop = async () => {
  await Promise.race([
    Promise.allSettled([lq.shutdown(), server.handleShutdown?.()]),
    new Promise((r) => setTimeout(r, 2000)),
  ]);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log(`parse-livequery listening on ${BASE_URL}`);
