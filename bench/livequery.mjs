// LiveQuery load client for bench/livequery.sh (not a test): opens SUBS WebSocket subscribers on
// one class with the raw Parse LiveQuery protocol, writes RATE objects/s for DURATION s over REST,
// and prints delivered events/s and write-to-delivery latency (p50/p99). Every object carries the
// time it was written; client and writer share this process's clock.
import { createRequire } from 'node:module';
const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const WebSocket = require('ws');

const URL_HTTP = process.env.URL;
const APP = process.env.APP_ID;
const MK = process.env.MASTER_KEY;
const SUBS = Number(process.env.SUBS || 1000);
const RATE = Number(process.env.RATE || 20);
const DURATION = Number(process.env.DURATION || 10);
const CLASS = process.env.CLASS || 'LiveBench';
const WS_URL = URL_HTTP.replace(/^http/, 'ws');

const latencies = [];
let delivered = 0;
let errors = 0;
let measuring = false;

function subscriber() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(WS_URL, { perMessageDeflate: false });
    ws.on('open', () => ws.send(JSON.stringify({ op: 'connect', applicationId: APP })));
    ws.on('error', reject);
    ws.on('message', (buf) => {
      const m = JSON.parse(buf);
      if (m.op === 'connected') {
        ws.send(JSON.stringify({ op: 'subscribe', requestId: 1, query: { className: CLASS, where: { kind: 'bench' } } }));
      } else if (m.op === 'subscribed') {
        resolve(ws);
      } else if (m.op === 'create') {
        if (!measuring) return;
        delivered++;
        latencies.push(Date.now() - m.object.sentAt);
      } else if (m.op === 'error') {
        errors++;
      }
    });
  });
}

async function post(body) {
  const res = await fetch(`${URL_HTTP}/classes/${CLASS}`, {
    method: 'POST',
    headers: { 'X-Parse-Application-Id': APP, 'X-Parse-Master-Key': MK, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`write failed: ${res.status} ${await res.text()}`);
}

const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;

const t0 = Date.now();
const sockets = [];
for (let i = 0; i < SUBS; i += 200) {
  const batch = [];
  for (let j = i; j < Math.min(SUBS, i + 200); j++) batch.push(subscriber());
  sockets.push(...(await Promise.all(batch)));
}
console.log(`subscribers: ${sockets.length} connected and subscribed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
await post({ kind: 'warmup', sentAt: Date.now() });
process.stdout.write('READY\n');
await new Promise((r) => process.stdin.once('data', r)); // the shell samples RSS, then goes on

measuring = true;
const writes = RATE * DURATION;
const start = Date.now();
let written = 0;
const inflight = [];
for (let i = 0; i < writes; i++) {
  const due = start + (i * 1000) / RATE;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  inflight.push(post({ kind: 'bench', n: i, sentAt: Date.now() }).then(() => written++));
}
await Promise.all(inflight);
const expected = writes * SUBS;
const deadline = Date.now() + 30000;
while (delivered < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
const elapsed = (Date.now() - start) / 1000;
latencies.sort((a, b) => a - b);
console.log(`writes: ${written} at ${RATE}/s for ${DURATION} s`);
console.log(`delivered: ${delivered} of ${expected} events in ${elapsed.toFixed(1)} s = ${Math.round(delivered / elapsed)} events/s`);
console.log(`latency write->delivery: p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms, max ${latencies[latencies.length - 1]} ms`);
console.log(`errors: ${errors}`);
for (const s of sockets) s.terminate();
process.stdout.write('DONE\n');
process.exit(0);
