// LiveQuery load client for bench/livequery.sh (not a test): opens SUBS WebSocket subscribers on
// one class with the raw Parse LiveQuery protocol, writes RATE objects/s for DURATION s over REST,
// and prints delivered events/s and write-to-delivery latency (p50/p99). Every object carries the
// time it was written; client and writer share this process's clock. Bounded in time: a server that
// cannot keep up is reported (delivered vs expected) after DRAIN s, never waited for.
//
// Env: URL (REST base), LIVE_URL (the WebSocket; default URL with ws:), APP_ID, MASTER_KEY, SUBS,
// RATE, DURATION, DRAIN (30 s after the last write), CLASS (LiveBench), AUTH: session (default:
// one user signs up through REST and every subscriber carries its session token in `connect` and
// `subscribe`, as the JS SDK does), master (`connect` with the master key), none (application id only).
import { createRequire } from 'node:module';
const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const WebSocket = require('ws');

const URL_HTTP = process.env.URL;
const APP = process.env.APP_ID;
const MK = process.env.MASTER_KEY;
const SUBS = Number(process.env.SUBS || 1000);
const RATE = Number(process.env.RATE || 20);
const DURATION = Number(process.env.DURATION || 10);
const DRAIN = Number(process.env.DRAIN || 30);
const CLASS = process.env.CLASS || 'LiveBench';
const AUTH = process.env.AUTH || 'session';
const WS_URL = process.env.LIVE_URL || URL_HTTP.replace(/^http/, 'ws');
const TIMEOUT = AbortSignal.timeout ? (ms) => AbortSignal.timeout(ms) : () => undefined;

const latencies = [];
let delivered = 0;
let lastDelivery = 0;
let errors = 0;
let closed = 0;
let firstError = '';
let measuring = false;
let sessionToken;

// Hot path, the same for every server: a `create` event is not JSON-parsed, only its sentAt is read
// (both servers send compact JSON), so the one client process keeps up with more events.
const OP_CREATE = Buffer.from('"op":"create"');
const SENT_AT = Buffer.from('"sentAt":');
function sentAtOf(buf) {
  if (buf.indexOf(OP_CREATE) < 0) return -1;
  let i = buf.indexOf(SENT_AT);
  if (i < 0) return -1;
  i += SENT_AT.length;
  let v = 0;
  for (let c = buf[i]; c >= 48 && c <= 57; c = buf[++i]) v = v * 10 + (c - 48);
  return v;
}

function connectMsg() {
  const m = { op: 'connect', applicationId: APP };
  if (AUTH === 'master') m.masterKey = MK;
  if (AUTH === 'session') m.sessionToken = sessionToken;
  return JSON.stringify(m);
}

function subscriber() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(WS_URL, { perMessageDeflate: false, handshakeTimeout: 30000 });
    const timer = setTimeout(() => reject(new Error('no "subscribed" within 60 s')), 60000);
    ws.on('open', () => ws.send(connectMsg()));
    ws.on('error', reject);
    ws.on('close', () => { if (measuring) closed++; });
    ws.on('message', (buf) => {
      if (measuring && Buffer.isBuffer(buf)) {
        const sentAt = sentAtOf(buf);
        if (sentAt > 0) {
          delivered++;
          lastDelivery = Date.now();
          latencies.push(lastDelivery - sentAt);
          return;
        }
      }
      const m = JSON.parse(buf);
      if (m.op === 'connected') {
        const sub = { op: 'subscribe', requestId: 1, query: { className: CLASS, where: { kind: 'bench' } } };
        if (AUTH === 'session') sub.sessionToken = sessionToken;
        ws.send(JSON.stringify(sub));
      } else if (m.op === 'subscribed') {
        clearTimeout(timer);
        resolve(ws);
      } else if (m.op === 'create') {
        if (!measuring) return;
        delivered++;
        lastDelivery = Date.now();
        latencies.push(lastDelivery - m.object.sentAt);
      } else if (m.op === 'error') {
        errors++;
        firstError ||= JSON.stringify(m);
        reject(new Error(`LiveQuery error: ${JSON.stringify(m)}`));
      }
    });
  });
}

async function post(path, body, headers = { 'X-Parse-Master-Key': MK }) {
  const res = await fetch(`${URL_HTTP}${path}`, {
    method: 'POST',
    headers: { 'X-Parse-Application-Id': APP, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: TIMEOUT(60000),
  });
  if (res.status !== 201) throw new Error(`POST ${path} failed: ${res.status} ${await res.text()}`);
  return res.json();
}
const write = (body) => post(`/classes/${CLASS}`, body);

const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;

if (AUTH === 'session') {
  sessionToken = (await post('/users', { username: `lqbench${Date.now()}`, password: 'lqbench-pw' }, {})).sessionToken;
}
console.log(`auth: ${AUTH}; LiveQuery ${WS_URL}, REST ${URL_HTTP}`);
const t0 = Date.now();
const sockets = [];
for (let i = 0; i < SUBS; i += 200) {
  const batch = [];
  for (let j = i; j < Math.min(SUBS, i + 200); j++) batch.push(subscriber());
  sockets.push(...(await Promise.all(batch)));
}
console.log(`subscribers: ${sockets.length} connected and subscribed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
await write({ kind: 'warmup', sentAt: Date.now() });
process.stdout.write('READY\n');
await new Promise((r) => process.stdin.once('data', r)); // the shell samples RSS, then goes on

measuring = true;
const cpu0 = process.cpuUsage();
const writes = RATE * DURATION;
const start = Date.now();
let written = 0;
let writeErrors = 0;
let writeTimeouts = 0;
const inflight = [];
for (let i = 0; i < writes; i++) {
  const due = start + (i * 1000) / RATE;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  inflight.push(write({ kind: 'bench', n: i, sentAt: Date.now() }).then(
    () => written++,
    (e) => {
      if (e.name === 'TimeoutError' || e.name === 'AbortError') writeTimeouts++;
      else writeErrors++;
      firstError ||= String(e);
    },
  ));
}
await Promise.all(inflight);
const writesDone = Date.now();
// every write that did not fail outright is expected (one that timed out may still have been saved)
const expected = (writes - writeErrors) * SUBS;
const deadline = writesDone + DRAIN * 1000;
while (delivered < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
// events/s over the time from the first write to the last delivery (the drain wait is not counted)
const elapsed = Math.max(lastDelivery, start + 1) - start;
const cpu = process.cpuUsage(cpu0);
const clientCpu = ((cpu.user + cpu.system) / 1e6).toFixed(1);
latencies.sort((a, b) => a - b);
const short = expected - delivered;
console.log(`writes: ${written} ok, ${writeErrors} failed, ${writeTimeouts} timed out (60 s), at ${RATE}/s for ${DURATION} s (last answered ${((writesDone - start) / 1000).toFixed(1)} s after the first)`);
console.log(`delivered: ${delivered} of ${expected} events in ${(elapsed / 1000).toFixed(1)} s = ${Math.round(delivered / (elapsed / 1000))} events/s` +
  (short > 0 ? ` (SHORT by ${short} = ${((100 * short) / expected).toFixed(1)} % after waiting ${DRAIN} s past the last write)` : ''));
console.log(`latency write->delivery: p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms, max ${latencies[latencies.length - 1]} ms`);
console.log(`client CPU ${clientCpu} s during writes + drain; errors: ${errors}, connections closed during the run: ${closed}${firstError ? ` (first: ${firstError.slice(0, 300)})` : ''}`);
console.log(`RESULT subs=${SUBS} expected=${expected} delivered=${delivered} eps=${Math.round(delivered / (elapsed / 1000))} p50=${pct(latencies, 50)} p99=${pct(latencies, 99)} writes_ok=${written} write_errors=${writeErrors} write_timeouts=${writeTimeouts} closed=${closed} client_cpu=${clientCpu}`);
for (const s of sockets) s.terminate();
process.stdout.write('DONE\n');
process.exit(0);
