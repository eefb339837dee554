// The shop demo, end to end, in real (Debian) Chromium driven by puppeteer-core: the shop started
// by scripts/demo.sh (ferrobase + Cloud Code + --public-dir + SMTP sink + seed), walked as users
// do. One test, steps in order; each step leaves a screenshot in the output folder.
//
// Env: SHOP_STATE_FILE (written by scripts/demo.sh: url, api, appId, masterKey, staff, mailbox),
//      SHOP_TEST_OUTPUT (screenshots; default test/output), CHROMIUM_PATH (/usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const STATE = JSON.parse(fs.readFileSync(process.env.SHOP_STATE_FILE, 'utf8'));
const OUT = process.env.SHOP_TEST_OUTPUT || path.join(import.meta.dirname, 'output');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SEEK_TO = 6; // seconds into the 10 s product video
fs.mkdirSync(OUT, { recursive: true });

let browser;
const pageErrors = [];

before(async () => {
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
});
after(async () => {
  await browser?.close().catch(() => {});
});

/** A fresh browser context (own cookies and localStorage: its own logged-in user). */
async function newUserPage(name) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1200, height: 860 });
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`${name}: ${m.text()}`);
  });
  return { context, page };
}

let shot = 0;
async function screenshot(page, name) {
  // Wait for the pictures on the page (thumbnails are made on first request).
  await page.waitForFunction(() => [...document.images].every((i) => i.complete), { timeout: 20_000 }).catch(() => {});
  await page.evaluate(() => {
    const t = document.getElementById('toast');
    if (t) t.hidden = true;
  }).catch(() => {});
  const file = path.join(OUT, `${String(++shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Navigates within the single-page app and waits for the page to render. */
async function show(page, hash) {
  const url = `${STATE.url}${hash}`;
  if (page.url().startsWith(STATE.url) && page.url() !== 'about:blank') {
    await page.evaluate((h) => {
      document.body.dataset.ready = '0';
      if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
      else location.hash = h;
    }, hash);
  } else {
    await page.goto(url);
  }
  // The page rendered for this hash (not a render still finishing for the previous one).
  await page.waitForFunction((h) => document.body.dataset.ready === '1' && document.body.dataset.hash === h, {}, hash);
}

/** Sign-up and log-in go on to the product list: wait for that page before going elsewhere. */
async function afterwardsHome(page) {
  await page.waitForFunction(() => document.body.dataset.ready === '1' && document.body.dataset.hash === '#/');
}

async function signUp(page, username, email, password) {
  await show(page, '#/signup');
  await page.type('#signup-username', username);
  await page.type('#signup-email', email);
  await page.type('#signup-password', password);
  await page.click('#signup button[type=submit]');
  await page.waitForFunction((u) => document.querySelector('#who')?.textContent === u, {}, username);
  await afterwardsHome(page);
}

async function logIn(page, username, password) {
  await show(page, '#/login');
  await page.type('#login-username', username);
  await page.type('#login-password', password);
  await page.click('#login button[type=submit]');
  await page.waitForFunction((u) => document.querySelector('#who')?.textContent === u, {}, username);
  await afterwardsHome(page);
}

/** Parse REST with the master key, from Node: what the database really holds. */
async function master(route) {
  const r = await fetch(`${STATE.api}/${route}`, {
    headers: { 'X-Parse-Application-Id': STATE.appId, 'X-Parse-Master-Key': STATE.masterKey },
  });
  assert.equal(r.status, 200, `GET ${route}`);
  return r.json();
}
const stockOf = async (id) => (await master(`classes/Product/${id}`)).stock;

test('the shop, end to end: sign up, search, video, cart, order, ACLs, staff, live updates, password reset', { timeout: 300_000 }, async (t) => {
  const run = Date.now().toString(36);
  const buyer = { username: `ann-${run}`, email: `ann-${run}@example.com`, password: 'ann-password-1' };
  const other = { username: `bob-${run}`, email: `bob-${run}@example.com`, password: 'bob-password-1' };
  const A = await newUserPage('buyer');
  const B = await newUserPage('other');
  const S = await newUserPage('staff');
  const pa = A.page;

  // Every Parse API request the buyer's page makes, as sent (the SDK POSTs queries with _method).
  const apiCalls = [];
  pa.on('request', (r) => {
    if (r.url().startsWith(`${STATE.api}/`)) apiCalls.push({ url: r.url(), body: r.postData() || '' });
  });

  await t.test('the front end is served by ferrobase (--public-dir) with content types and caching', async () => {
    const index = await fetch(STATE.url);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const sdk = await fetch(`${STATE.url}vendor/parse.min.js`, { method: 'HEAD' });
    assert.equal(sdk.status, 200);
    assert.match(sdk.headers.get('content-type'), /javascript/);
    assert.match(sdk.headers.get('cache-control'), /max-age=\d+/);
    assert.equal((await fetch(`${STATE.url}no-such-file.js`)).status, 404);
  });

  await t.test('sign up', async () => {
    await signUp(pa, buyer.username, buyer.email, buyer.password);
    await screenshot(pa, 'signed-up');
    const users = await master(`users?where=${encodeURIComponent(JSON.stringify({ username: buyer.username }))}`);
    assert.equal(users.results.length, 1, 'the user is stored');
  });

  let productId;
  let price;
  await t.test('browse: category filter, price sort, paging; full-text search', async () => {
    await show(pa, '#/');
    assert.equal(await pa.$eval('#page-info', (e) => e.textContent), 'Page 1 of 3', '36 products, 12 a page');
    await pa.click('#next');
    await pa.waitForFunction(() => document.querySelector('#page-info')?.textContent === 'Page 2 of 3');
    await show(pa, '#/');
    await pa.select('#category', 'Kitchen');
    await pa.waitForFunction(() => document.body.dataset.ready === '1' && (document.body.dataset.hash || '').includes('cat=Kitchen'));
    await pa.select('#sort', 'price');
    await pa.waitForFunction(() => document.body.dataset.ready === '1' && (document.body.dataset.hash || '').includes('sort=price'));
    const prices = await pa.$$eval('#products .card', (cs) => cs.map((c) => Number(c.dataset.price)));
    assert.equal(prices.length, 6, 'six kitchen products');
    assert.deepEqual(prices, [...prices].sort((a, b) => a - b), 'sorted by price, ascending');
    const tags = await pa.$$eval('#products .tag', (ts) => ts.map((x) => x.textContent));
    assert.ok(tags.every((x) => x === 'Kitchen'), `category filter: ${tags}`);

    await show(pa, '#/');
    apiCalls.length = 0;
    await pa.type('#search', 'espresso');
    await pa.click('#filters button[type=submit]');
    await pa.waitForFunction(() => document.body.dataset.ready === '1' && (document.body.dataset.hash || '').includes('q=espresso'));
    const names = await pa.$$eval('#products .card .name', (ns) => ns.map((n) => n.textContent));
    assert.deepEqual(names, ['Espresso Maker']);
    const textQuery = apiCalls.find((c) => c.url.endsWith('/classes/Product') && c.body.includes('$text'));
    assert.ok(textQuery, `a $text query went to the server: ${JSON.stringify(apiCalls)}`);
    assert.match(textQuery.body, /"\$search":\{"\$term":"espresso"\}/);
    await screenshot(pa, 'search');
    productId = await pa.$eval('#products .card', (c) => c.dataset.product);
    price = (await master(`classes/Product/${productId}`)).price;
  });

  let stockBefore;
  await t.test('open the product: thumbnails, and the video plays and seeks (Range, 206)', async () => {
    // The video's requests, as they go over the wire (DevTools protocol, raw status codes), from
    // before the page loads: the HTTP cache is off (no revalidated 304s standing in for 206s) and
    // the download is slow, so that the seek lands beyond what was fetched and Chromium must ask
    // for the middle of the file with a new Range request.
    const cdp = await pa.createCDPSession();
    const wire = new Map();
    let videoUrl = null;
    cdp.on('Network.requestWillBeSent', (e) => /\.webm$/.test(e.request.url) && wire.set(e.requestId, { url: e.request.url, range: e.request.headers.Range || e.request.headers.range }));
    cdp.on('Network.responseReceivedExtraInfo', (e) => wire.has(e.requestId) && Object.assign(wire.get(e.requestId), { status: e.statusCode, contentRange: e.headers['content-range'] || e.headers['Content-Range'] }));
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 5, downloadThroughput: 256 * 1024, uploadThroughput: -1 });
    await pa.click(`#products .card[data-product="${productId}"]`);
    await pa.waitForFunction((id) => document.body.dataset.ready === '1' && document.body.dataset.hash === `#/product/${id}`, {}, productId);
    stockBefore = Number(await pa.$eval('#stock', (s) => s.dataset.stock));
    assert.equal(stockBefore, await stockOf(productId));
    const thumbs = await pa.$$eval('#thumbs img, #main-image', (is) => is.map((i) => ({ src: i.src, w: i.naturalWidth, h: i.naturalHeight })));
    assert.ok(thumbs.every((i) => /\?thumb=\d+x\d+/.test(i.src)), 'pictures are ?thumb= URLs');
    await pa.waitForFunction(() => [...document.querySelectorAll('#thumbs img')].every((i) => i.complete && i.naturalWidth === 96));
    await pa.waitForSelector('#live:not([hidden])'); // the LiveQuery subscription is open

    videoUrl = await pa.$eval('#video', (v) => v.currentSrc || v.src);
    const played = await pa.evaluate(async (seekTo) => {
      const v = document.getElementById('video');
      const until = (cond, ms, what) => new Promise((resolve, reject) => {
        const t0 = performance.now();
        const tick = () => (cond() ? resolve() : performance.now() - t0 > ms ? reject(new Error(`timed out: ${what}`)) : setTimeout(tick, 50));
        tick();
      });
      v.scrollIntoView();
      await v.play();
      const from = v.currentTime;
      await until(() => v.currentTime >= from + 0.5, 20000, 'playback advancing 0.5 s');
      v.pause();
      const to = v.currentTime;
      const seeked = new Promise((r) => v.addEventListener('seeked', r, { once: true }));
      v.currentTime = seekTo;
      await seeked;
      await until(() => v.readyState >= 2, 15000, 'a frame after the seek');
      return { from, to, afterSeek: v.currentTime, readyState: v.readyState, duration: v.duration };
    }, SEEK_TO);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
    await new Promise((r) => setTimeout(r, 300));
    await screenshot(pa, 'product-video');
    const responses = [...wire.values()].filter((w) => w.status && w.url === videoUrl);
    t.diagnostic(`video: ${JSON.stringify(played)}; on the wire: ${JSON.stringify(responses)}`);
    assert.ok(played.to >= played.from + 0.5, 'currentTime advanced while playing');
    assert.ok(Math.abs(played.afterSeek - SEEK_TO) < 0.1, `currentTime after the seek: ${played.afterSeek}`);
    assert.ok(Math.abs(played.duration - 10) < 0.5, `duration ${played.duration}`);
    const partial = responses.filter((w) => w.status === 206);
    assert.ok(partial.length >= 1, `a 206 on the wire: ${JSON.stringify(responses)}`);
    assert.ok(partial.some((w) => /^bytes [1-9]\d*-/.test(w.contentRange || '')), `a 206 from mid-file after the seek: ${JSON.stringify(responses)}`);
    await cdp.detach();
  });

  await t.test('another user watches the same product page (live stock)', async () => {
    await signUp(B.page, other.username, other.email, other.password);
    await show(B.page, `#/product/${productId}`);
    await B.page.waitForSelector('#live:not([hidden])');
    assert.equal(Number(await B.page.$eval('#stock', (s) => s.dataset.stock)), stockBefore);
    await B.page.evaluate(() => (window.__notReloaded = true));
  });

  let orderId;
  await t.test('add to cart and order: Cloud Code computes the total and decrements the stock', async () => {
    await pa.$eval('#quantity', (q) => (q.value = '2'));
    await pa.click('#add-to-cart');
    await pa.waitForFunction(() => document.querySelector('#cart-count')?.textContent === '2');
    await show(pa, '#/cart');
    await pa.waitForSelector(`#cart-table tr[data-product="${productId}"]`);
    await screenshot(pa, 'cart');
    await pa.click('#place-order');
    await pa.waitForFunction(() => /^#\/orders\/\w+$/.test(location.hash) && document.querySelector('#order-id'));
    orderId = await pa.$eval('#order-id', (e) => e.textContent);
    await pa.waitForSelector('#live:not([hidden])');
    const shownTotal = Number(await pa.$eval('#order-total', (e) => e.dataset.total));
    const expected = Math.round(price * 100 * 2) / 100;
    assert.equal(shownTotal, expected, 'total = 2 x the stored price');
    const stored = await master(`classes/Order/${orderId}`);
    assert.equal(stored.total, expected, 'the stored total was computed by the server');
    assert.equal(stored.status, 'placed');
    assert.equal(stored.buyer.objectId, (await master(`users?where=${encodeURIComponent(JSON.stringify({ username: buyer.username }))}`)).results[0].objectId);
    assert.deepEqual(Object.keys(stored.ACL).sort(), [stored.buyer.objectId, 'role:Staff'].sort());
    assert.deepEqual(stored.ACL[stored.buyer.objectId], { read: true }, 'the buyer reads, cannot write');
    await screenshot(pa, 'order-placed');
    // afterSave: stock decremented (Increment -2), the cart emptied.
    for (let i = 0; i < 50 && (await stockOf(productId)) !== stockBefore - 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await stockOf(productId), stockBefore - 2, 'stock decremented by the order');
    const carts = await master(`classes/CartItem?where=${encodeURIComponent(JSON.stringify({ owner: stored.buyer }))}`);
    assert.equal(carts.results.length, 0, 'the cart became the order');
  });

  await t.test('the other user\u2019s product page shows the new stock live, without a reload', async () => {
    await B.page.waitForFunction((n) => document.querySelector('#stock')?.dataset.stock === String(n), { timeout: 10_000 }, stockBefore - 2);
    assert.equal(await B.page.evaluate(() => window.__notReloaded), true, 'same page, no reload');
    await screenshot(B.page, 'live-stock');
  });

  await t.test('a forged price or total is refused', async () => {
    const attempts = await pa.evaluate(async (id) => {
      const out = [];
      for (const body of [
        { items: [{ product: id, quantity: 1, price: 0.01 }] },
        { items: [{ product: id, quantity: 1 }], total: 0.01 },
      ]) {
        try {
          const o = await new Parse.Object('Order', body).save();
          out.push({ saved: o.id, total: o.get('total') });
        } catch (e) {
          out.push({ code: e.code, message: e.message });
        }
      }
      return out;
    }, productId);
    t.diagnostic(`forged orders: ${JSON.stringify(attempts)}`);
    assert.equal(attempts[0].code, 142);
    assert.match(attempts[0].message, /prices are set by the server/);
    assert.equal(attempts[1].code, 142);
    assert.match(attempts[1].message, /total is set by the server/);
    const all = await master('classes/Order?count=1&limit=0');
    assert.equal(all.count, 1, 'no forged order stored');
    assert.equal(await stockOf(productId), stockBefore - 2, 'no stock taken by a refused order');
  });

  await t.test('another user cannot see the order (ACL)', async () => {
    await show(B.page, `#/orders/${orderId}`);
    await B.page.waitForSelector('#order-missing');
    const seen = await B.page.evaluate(async (id) => ({
      list: (await new Parse.Query('Order').find()).length,
      byId: await new Parse.Query('Order').get(id).then(() => 'visible', (e) => e.code),
    }), orderId);
    assert.deepEqual(seen, { list: 0, byId: 101 });
    // Nor change it: the ACL gives write to role:Staff only.
    const write = await B.page.evaluate(async (id) => {
      const o = new Parse.Object('Order');
      o.id = id;
      o.set('status', 'shipped');
      return o.save().then(() => 'saved', (e) => e.code);
    }, orderId);
    assert.equal(write, 101);
    await screenshot(B.page, 'other-user-no-access');
  });

  await t.test('staff see every order and ship it; the buyer\u2019s order page updates live', async () => {
    await show(pa, `#/orders/${orderId}`);
    await pa.waitForSelector('#live:not([hidden])');
    await pa.evaluate(() => (window.__notReloaded = true));
    assert.equal(await pa.$eval('.status', (s) => s.dataset.status), 'placed');

    await logIn(S.page, STATE.staff.username, STATE.staff.password);
    await S.page.waitForSelector('#nav-staff');
    await show(S.page, '#/staff');
    await S.page.waitForSelector(`#staff-orders tr[data-order="${orderId}"] .ship`);
    await screenshot(S.page, 'staff-orders');
    await S.page.click(`#staff-orders tr[data-order="${orderId}"] .ship`);
    await S.page.waitForSelector(`#staff-orders tr[data-order="${orderId}"] .status[data-status="shipped"]`);

    await pa.waitForSelector('.status[data-status="shipped"]', { timeout: 10_000 });
    await pa.waitForSelector('#shipped-at');
    assert.equal(await pa.evaluate(() => window.__notReloaded), true, 'same page, no reload');
    const stored = await master(`classes/Order/${orderId}`);
    assert.equal(stored.status, 'shipped');
    assert.equal(stored.shippedBy, STATE.staff.username);
    await screenshot(pa, 'order-shipped-live');
    await screenshot(S.page, 'staff-shipped');
  });

  await t.test('log out, reset the password through the emailed link, log in with the new one', async () => {
    await show(pa, '#/logout');
    await pa.waitForSelector('#nav-login');
    const latest = path.join(STATE.mailbox, 'latest.json');
    fs.rmSync(latest, { force: true });
    await show(pa, '#/reset');
    await pa.type('#reset-email', buyer.email);
    await pa.click('#reset button[type=submit]');
    await pa.waitForSelector('#reset-sent');
    let mail;
    for (let i = 0; i < 100 && !mail; i++) {
      if (fs.existsSync(latest)) mail = JSON.parse(fs.readFileSync(latest, 'utf8'));
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(mail, 'a reset email reached the SMTP sink');
    assert.ok(mail.to.includes(buyer.email), `to ${mail.to}`);
    const link = mail.links.find((l) => l.includes('request_password_reset') || l.includes('choose_password'));
    assert.ok(link, `a reset link in ${JSON.stringify(mail.links)}`);
    await pa.goto(link);
    await pa.waitForSelector('input[name=new_password]');
    await pa.type('input[name=new_password]', 'ann-new-password-2');
    await Promise.all([pa.waitForNavigation(), pa.click('button[type=submit]')]);
    assert.match(pa.url(), /password_reset_success/);
    await pa.goto(`${STATE.url}#/`);
    await pa.waitForSelector('body[data-ready="1"]');
    await logIn(pa, buyer.username, 'ann-new-password-2');
    await screenshot(pa, 'logged-in-new-password');
  });

  assert.deepEqual(pageErrors, [], 'no errors in the pages');
  for (const c of [A, B, S]) await c.context.close().catch(() => {});
});
