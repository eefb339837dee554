// A browser <video> element must play and seek a file served by ferrobase.
//
// Real Debian Chromium (/usr/bin/chromium, headless) driven by playwright-core. No ffmpeg: the page
// draws 4 s of frames on a canvas and records them with MediaRecorder, uploads the recording with
// fetch (POST /files/<name>, master key), then plays the returned URL in a <video> element, seeks to
// 2.5 s and checks that the decoded frame really is the one drawn at 2.5 s.
//
// The page is served by a throwaway HTTP server on another port, so it is cross-origin to ferrobase:
// the upload needs a CORS preflight (custom X-Parse-* headers), and the <video> has
// crossorigin="anonymous" so its (Range) requests are CORS requests too (needed to read the frame's
// pixels back). While the video loads, the download is throttled through the DevTools protocol so
// the seek lands beyond what was fetched and Chromium must ask for the middle of the file with a new
// Range request (otherwise it fetches a small file in one `bytes=0-` request).
//
// Env: PARSE_SERVER_URL, PARSE_APP_ID, PARSE_MASTER_KEY (as e2e/lib/parse.mjs), CHROMIUM_PATH
// (/usr/bin/chromium), VIDEO_SCREENSHOT (/tmp/video-seek.png: the page after the seek).
//
// What Chromium 156's MediaRecorder writes (checked in the test and reported with diagnostics):
// recorded without a timeslice, the WebM has a SeekHead, a Duration and Cues, so it is seekable like
// any file; recorded with a timeslice (chunks), it has neither Duration nor Cues (duration is
// Infinity until the demuxer has scanned to the end) — Chromium still seeks it, by scanning
// clusters. Both are tested, plus MediaRecorder's MP4.
//
// Negative control (done by hand once): through a proxy that drops Range and Accept-Ranges (plain
// 200s), all three cases fail: Chromium treats the file as unseekable and currentTime snaps back to
// 0 (WebM with Cues, MP4), or the page never gets a 206 (chunked WebM).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';

const SERVER_URL = (process.env.PARSE_SERVER_URL || 'http://127.0.0.1:1337/parse').replace(/\/+$/, '');
const APP_ID = process.env.PARSE_APP_ID || 'benchApp';
const MASTER_KEY = process.env.PARSE_MASTER_KEY || 'benchMasterKey';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT = process.env.VIDEO_SCREENSHOT || '/tmp/video-seek.png';

const SEEK_TO = 2.5; // seconds
const RECORD_MS = 4000;
const THROTTLE_BYTES_PER_S = 384 * 1024;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>ferrobase video e2e</title>
<style>body{margin:0;background:#222;color:#ddd;font:14px sans-serif} canvas,video{display:block;margin:8px}</style>
</head><body>
<div id="label">ferrobase &lt;video&gt; e2e</div>
<video id="v" muted playsinline crossorigin="anonymous" preload="metadata" width="640" height="360"></video>
<canvas id="c" width="640" height="360" style="display:none"></canvas>
<canvas id="probe" width="640" height="360" style="display:none"></canvas>
</body></html>`;

let pageServer;
let pageOrigin;
let browser;

before(async () => {
  pageServer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
  });
  await new Promise((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true, // playwright passes --headless and a fresh temporary --user-data-dir
    timeout: 60_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await new Promise((resolve) => (pageServer ? pageServer.close(resolve) : resolve()));
});

/** Reads an EBML variable-length integer at `pos`: { value, length, unknown }. */
function vint(buf, pos, keepMarker) {
  const first = buf[pos];
  let length = 1;
  while (length <= 8 && !(first & (0x80 >> (length - 1)))) length++;
  if (length > 8) throw new Error(`bad EBML vint at ${pos}`);
  let value = BigInt(keepMarker ? first : first & (0xff >> length));
  let allOnes = (first & (0xff >> length)) === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = (value << 8n) | BigInt(buf[pos + i]);
    if (buf[pos + i] !== 0xff) allOnes = false;
  }
  return { value, length, unknown: allOnes };
}

/** The Segment's children (and whether Info has a Duration) of a WebM file. */
function webmLayout(buf) {
  const children = [];
  let hasDuration = false;
  let pos = 0;
  const header = () => {
    const id = vint(buf, pos, true);
    const size = vint(buf, pos + id.length, false);
    const start = pos + id.length + size.length;
    return { id: id.value.toString(16), start, size: size.unknown ? null : Number(size.value) };
  };
  while (pos < buf.length) {
    const el = header();
    if (el.id !== '18538067') {
      pos = el.start + el.size;
      continue;
    }
    const segmentSize = el.size;
    pos = el.start;
    const end = segmentSize === null ? buf.length : el.start + segmentSize;
    while (pos < end) {
      const child = header();
      const name = { '114d9b74': 'SeekHead', '1549a966': 'Info', '1654ae6b': 'Tracks', '1f43b675': 'Cluster', '1c53bb6b': 'Cues', ec: 'Void', '1254c367': 'Tags' }[child.id] ?? child.id;
      if (children.at(-1)?.name === name) children.at(-1).count++;
      else children.push({ name, count: 1 });
      if (name === 'Info') {
        let p = child.start;
        const infoEnd = child.start + child.size;
        while (p < infoEnd) {
          pos = p;
          const e = header();
          if (e.id === '4489') hasDuration = true;
          p = e.start + e.size;
        }
      }
      if (child.size === null) break; // a live-style unknown-size element: stop here
      pos = child.start + child.size;
    }
    return { segmentSize, hasDuration, children: children.map((c) => (c.count > 1 ? `${c.name}x${c.count}` : c.name)).join(',') };
  }
  return null;
}

/** Records, uploads, plays and seeks in the page; returns what happened. Runs in the browser. */
async function inPage({ serverUrl, appId, masterKey, mime, timeslice, recordMs }) {
  const W = 640;
  const H = 360;
  const withTimeout = (p, ms, what) =>
    Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms))]);

  // --- 1. make the video: a white bar that crosses the frame in 4 s, the time as text, and a band
  // of precomputed noise so the file is a few MB (big enough that a seek needs a new Range request).
  const c = document.getElementById('c');
  const ctx = c.getContext('2d');
  const noise = [];
  for (let k = 0; k < 12; k++) {
    const im = ctx.createImageData(W, 100);
    const d = new Uint32Array(im.data.buffer);
    for (let i = 0; i < d.length; i++) d[i] = ((Math.random() * 0x1000000) | 0) | 0xff000000;
    noise.push(im);
  }
  let t0;
  let n = 0;
  const draw = () => {
    const t = t0 === undefined ? 0 : (performance.now() - t0) / 1000;
    ctx.fillStyle = '#103060';
    ctx.fillRect(0, 0, W, H);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(Math.round((t / 4) * W) - 5, 0, 10, 150); // the bar: x encodes t
    ctx.font = 'bold 64px sans-serif';
    ctx.fillText(`t=${t.toFixed(2)}s`, 150, 230);
    ctx.putImageData(noise[n++ % noise.length], 0, H - 100);
  };
  draw();
  if (!MediaRecorder.isTypeSupported(mime)) return { unsupported: mime };
  const rec = new MediaRecorder(c.captureStream(30), { mimeType: mime, videoBitsPerSecond: 6_000_000 });
  const chunks = [];
  rec.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  const started = new Promise((r) => (rec.onstart = r));
  if (timeslice) rec.start(timeslice);
  else rec.start();
  await withTimeout(started, 5000, 'MediaRecorder start');
  t0 = performance.now();
  const iv = setInterval(draw, 1000 / 30);
  await new Promise((r) => setTimeout(r, recordMs));
  const stopped = new Promise((r) => (rec.onstop = r));
  rec.stop();
  await withTimeout(stopped, 10000, 'MediaRecorder stop');
  clearInterval(iv);
  const type = mime.split(';')[0];
  const blob = new Blob(chunks, { type });
  const ext = type === 'video/mp4' ? 'mp4' : 'webm';

  // --- 2. upload it to ferrobase (cross-origin: preflighted because of the X-Parse-* headers)
  const up = await withTimeout(
    fetch(`${serverUrl}/files/clip.${ext}`, {
      method: 'POST',
      headers: { 'X-Parse-Application-Id': appId, 'X-Parse-Master-Key': masterKey, 'Content-Type': type },
      body: blob,
    }),
    30000,
    'upload',
  );
  const upload = { status: up.status, body: await up.json().catch(() => null), location: up.headers.get('location') };
  if (up.status !== 201 || !upload.body?.url) return { upload, size: blob.size };
  return { upload, size: blob.size, ext, type };
}

async function playAndSeek({ url, seekTo }) {
  const withTimeout = (p, ms, what) =>
    Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms))]);
  const v = document.getElementById('v');
  const events = [];
  const snap = (name) => ({
    name,
    t: +v.currentTime.toFixed(4),
    duration: Number.isFinite(v.duration) ? +v.duration.toFixed(4) : String(v.duration),
    readyState: v.readyState,
  });
  for (const name of ['loadedmetadata', 'durationchange', 'canplay', 'playing', 'waiting', 'seeking', 'seeked', 'stalled', 'error'])
    v.addEventListener(name, () => events.push(snap(name)));
  const once = (name) => new Promise((r) => v.addEventListener(name, r, { once: true }));
  const failed = new Promise((_, rej) => v.addEventListener('error', () => rej(new Error(`media error ${v.error?.code}: ${v.error?.message}`)), { once: true }));

  // --- 3. load and play
  const canplay = once('canplay');
  v.src = url;
  await withTimeout(Promise.race([canplay, failed]), 30000, 'canplay');
  const readyAtCanplay = v.readyState;
  await withTimeout(Promise.race([v.play(), failed]), 10000, 'play()');
  const playStart = v.currentTime;
  await withTimeout(
    Promise.race([
      new Promise((r) => {
        const tick = () => (v.currentTime >= playStart + 0.5 ? r() : setTimeout(tick, 50));
        tick();
      }),
      failed,
    ]),
    20000,
    'playback to advance 0.5 s',
  );
  v.pause();
  const played = { from: playStart, to: v.currentTime };

  // --- 4. seek
  const seeked = once('seeked');
  v.currentTime = seekTo;
  await withTimeout(Promise.race([seeked, failed]), 30000, 'seeked');
  // wait until the frame at the new position is there to draw
  await withTimeout(
    new Promise((r) => {
      const tick = () => (v.readyState >= 2 ? r() : setTimeout(tick, 20));
      tick();
    }),
    15000,
    'readyState >= 2 after the seek',
  );
  const afterSeek = { currentTime: v.currentTime, readyState: v.readyState, paused: v.paused };
  document.getElementById('label').textContent =
    `after seek to ${seekTo}s: currentTime=${v.currentTime.toFixed(3)} readyState=${v.readyState} duration=${v.duration.toFixed(3)}`;

  // --- 5. read the decoded frame back: where is the white bar? (x = t / 4 * width)
  const probe = document.getElementById('probe');
  const pctx = probe.getContext('2d', { willReadFrequently: true });
  pctx.drawImage(v, 0, 0, probe.width, probe.height);
  const row = pctx.getImageData(0, 40, probe.width, 1).data; // a row through the bar
  let sum = 0;
  let count = 0;
  for (let x = 0; x < probe.width; x++) {
    const [r, g, b] = [row[4 * x], row[4 * x + 1], row[4 * x + 2]];
    if (r > 200 && g > 200 && b > 200) {
      sum += x;
      count++;
    }
  }
  const barX = count ? sum / count : null;
  const frameTime = barX === null ? null : (barX / probe.width) * 4;
  const buffered = [];
  for (let i = 0; i < v.buffered.length; i++) buffered.push([+v.buffered.start(i).toFixed(3), +v.buffered.end(i).toFixed(3)]);
  return {
    readyAtCanplay,
    played,
    afterSeek,
    frameTime,
    barPixels: count,
    buffered,
    duration: Number.isFinite(v.duration) ? v.duration : String(v.duration),
    events,
  };
}

const CASES = [
  { name: 'WebM (VP8) recorded in one piece: has Duration and Cues', mime: 'video/webm;codecs=vp8', timeslice: 0, midFileRange: true, screenshot: true },
  // Without Cues, Chromium seeks forward by reading on (no jump, so maybe no mid-file Range request).
  { name: 'WebM (VP8) recorded in 500 ms chunks: no Duration, no Cues', mime: 'video/webm;codecs=vp8', timeslice: 500, midFileRange: false },
  { name: 'MP4 from MediaRecorder', mime: 'video/mp4', timeslice: 0, midFileRange: true },
];

for (const tc of CASES) {
  test(`a <video> plays and seeks a file served by ferrobase: ${tc.name}`, { timeout: 120_000 }, async (t) => {
    const context = await browser.newContext({ viewport: { width: 680, height: 420 } });
    try {
      const page = await context.newPage();
      const consoleErrors = [];
      page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
      page.on('pageerror', (e) => consoleErrors.push(String(e)));
      await page.goto(`${pageOrigin}/`, { timeout: 30_000 });

      const rec = await page.evaluate(inPage, {
        serverUrl: SERVER_URL,
        appId: APP_ID,
        masterKey: MASTER_KEY,
        mime: tc.mime,
        timeslice: tc.timeslice,
        recordMs: RECORD_MS,
      });
      if (rec.unsupported) {
        t.skip(`this Chromium's MediaRecorder cannot record ${rec.unsupported}`);
        return;
      }
      assert.equal(rec.upload.status, 201, `upload: ${JSON.stringify(rec.upload)}`);
      const { url, name } = rec.upload.body;
      assert.match(name, new RegExp(`_clip\\.${rec.ext}$`));
      assert.ok(url.startsWith(`${SERVER_URL}/files/${APP_ID}/`), `file url ${url}`);
      assert.equal(rec.upload.location, url, 'Location header of the upload');
      t.diagnostic(`recorded ${rec.size} bytes of ${rec.type}; url ${url}`);
      // The stored bytes are the recorded bytes (a plain GET from Node, no browser involved).
      const stored = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      assert.equal(stored.status, 200, 'plain GET of the file');
      const storedBytes = Buffer.from(await stored.arrayBuffer());
      assert.equal(storedBytes.length, rec.size, 'stored size = recorded size');
      if (rec.ext === 'webm') {
        try {
          t.diagnostic(`WebM layout: ${JSON.stringify(webmLayout(storedBytes))}`);
        } catch (e) {
          t.diagnostic(`WebM layout: could not parse (${e.message})`);
        }
      }

      // What the page saw for the video's URL (page.on('response')): statuses and Range headers.
      const pageResponses = [];
      page.on('response', async (r) => {
        if (r.url() !== url) return;
        const entry = { status: r.status(), range: null };
        pageResponses.push(entry);
        entry.range = (await r.request().allHeaders().catch(() => ({}))).range ?? null;
      });
      const failedRequests = [];
      page.on('requestfailed', (r) => r.url() === url && failedRequests.push(r.failure()?.errorText));

      // What went over the wire (DevTools protocol, raw headers). Chromium's HTTP cache keeps the
      // ranges it has read and, since ferrobase sends no Cache-Control, revalidates them
      // (If-None-Match + If-Modified-Since + Range): ferrobase answers 304 and the cache hands the
      // page a 206 built from its copy. page.on('response') cannot tell those from real 206s.
      const cdp = await context.newCDPSession(page);
      const wireById = new Map();
      const entryFor = (id) => wireById.get(id) ?? wireById.set(id, {}).get(id);
      const lower = (h) => Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      cdp.on('Network.requestWillBeSent', (e) => {
        entryFor(e.requestId).url = e.request.url;
      });
      cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
        entryFor(e.requestId).request = lower(e.headers);
      });
      cdp.on('Network.responseReceivedExtraInfo', (e) => {
        Object.assign(entryFor(e.requestId), { status: e.statusCode, headers: lower(e.headers) });
      });
      await cdp.send('Network.enable');

      // Slow the download down so the seek lands beyond what has been fetched.
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 5,
        downloadThroughput: THROTTLE_BYTES_PER_S,
        uploadThroughput: -1,
      });

      const res = await page.evaluate(playAndSeek, { url, seekTo: SEEK_TO });
      if (tc.screenshot) await page.screenshot({ path: SCREENSHOT });
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await new Promise((r) => setTimeout(r, 200)); // let the last response events arrive
      t.diagnostic(`playback: ${JSON.stringify({ ...res, events: undefined })}`);
      t.diagnostic(`media events: ${res.events.map((e) => `${e.name}@${e.t}(rs${e.readyState},d=${e.duration})`).join(' ')}`);
      const wire = [...wireById.values()].filter((w) => w.url === url && w.status !== undefined);
      t.diagnostic(`page saw: ${pageResponses.map((r) => `${r.status} [${r.range ?? 'no Range'}]`).join('; ')}`);
      t.diagnostic(
        `on the wire: ${wire
          .map((w) => `${w.status} [${w.request?.range ?? 'no Range'}${w.request?.['if-none-match'] ? ' +If-None-Match' : ''}] -> ${w.headers['content-range'] ?? '-'}`)
          .join('; ')}`,
      );
      if (failedRequests.length) t.diagnostic(`cancelled/failed video requests (Chromium aborts a fetch when it seeks): ${failedRequests.join(', ')}`);

      // Played, then seeked to 2.5 s, with a decodable frame there.
      assert.ok(res.readyAtCanplay >= 2, `readyState at canplay: ${res.readyAtCanplay}`);
      assert.ok(res.played.to >= res.played.from + 0.5, `playback advanced: ${JSON.stringify(res.played)}`);
      assert.ok(Math.abs(res.afterSeek.currentTime - SEEK_TO) < 0.05, `currentTime after seek: ${res.afterSeek.currentTime}`);
      assert.ok(res.afterSeek.readyState >= 2, `readyState after seek: ${res.afterSeek.readyState}`);
      // The frame shown is the one drawn ~2.5 s into the recording (the bar's position encodes it).
      assert.ok(res.frameTime !== null, 'the white bar is visible in the decoded frame');
      // Seen: 2.44 (WebM), 2.31-2.40 (MP4); the recorder's first frame comes a little after t0 and
      // a frame dropped under load shows the one before. Playback stopped at ~0.5 s, so this also
      // tells a real seek from a frame left over from before it.
      assert.ok(Math.abs(res.frameTime - SEEK_TO) < 0.4, `frame drawn at ${res.frameTime?.toFixed(3)} s, expected ~${SEEK_TO}`);
      assert.ok(res.frameTime > res.played.to + 1, `the frame is not the one from before the seek (${res.played.to})`);
      assert.deepEqual(consoleErrors, [], 'no errors in the page console');

      // HTTP, as the page saw it: the video's requests succeeded with 206 (or 200).
      assert.ok(pageResponses.length >= 1, 'the video URL was requested');
      assert.ok(pageResponses.some((r) => r.status === 206), `the page got a 206: ${JSON.stringify(pageResponses)}`);
      for (const r of pageResponses) assert.ok([200, 206].includes(r.status), `page saw status ${r.status} for Range ${r.range}`);

      // HTTP, on the wire: every answer ferrobase gave to the video's requests.
      assert.ok(wire.length >= 1, 'raw responses captured');
      const etags = new Set();
      for (const w of wire) {
        const h = w.headers;
        const range = w.request?.range;
        assert.ok([200, 206, 304].includes(w.status), `wire status ${w.status} for Range ${range}`);
        assert.equal(h['access-control-allow-origin'], '*', `CORS on the file GET (${w.status})`);
        assert.ok(h.etag, `ETag (${w.status})`);
        etags.add(h.etag);
        if (w.status === 304) {
          assert.ok(w.request?.['if-none-match'] || w.request?.['if-modified-since'], '304 only for a conditional request');
          continue;
        }
        assert.equal(h['accept-ranges'], 'bytes', 'Accept-Ranges');
        assert.equal(h['content-type'], rec.type, 'Content-Type');
        if (w.status === 200) {
          assert.equal(Number(h['content-length']), rec.size, 'Content-Length of a 200');
          continue;
        }
        const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(h['content-range'] ?? '');
        assert.ok(m, `Content-Range: ${h['content-range']}`);
        const [start, end, total] = m.slice(1).map(Number);
        assert.equal(total, rec.size, 'Content-Range total = uploaded size');
        assert.equal(Number(h['content-length']), end - start + 1, 'Content-Length = range length');
        const want = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
        assert.ok(want, `a 206 answers a Range request (${range})`);
        assert.equal(start, Number(want[1]), 'range start honoured');
        assert.equal(end, want[2] ? Math.min(Number(want[2]), total - 1) : total - 1, 'range end honoured');
      }
      assert.equal(etags.size, 1, `one ETag for the file: ${[...etags]}`);
      const wire206 = wire.filter((w) => w.status === 206);
      assert.ok(wire206.length >= 1, 'at least one 206 with Content-Range from ferrobase');
      if (tc.midFileRange) {
        // With an index (WebM Cues, MP4 moov/sidx) Chromium jumps: it asks for the middle of the file.
        const mid = wire206.filter((w) => Number(/^bytes (\d+)-/.exec(w.headers['content-range'])[1]) > 0);
        assert.ok(mid.length >= 1, `a 206 for a range starting mid-file: ${JSON.stringify(wire.map((w) => [w.status, w.request?.range]))}`);
      }
    } finally {
      await context.close().catch(() => {});
    }
  });
}
