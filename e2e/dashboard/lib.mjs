// Helpers for dashboard.test.mjs: a puppeteer-core page on Debian Chromium that records every
// failed request and console error, REST calls with the master key, and small UI drivers for
// Parse Dashboard's (hashed CSS-module) markup, found by text, roles and structure.
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import path from 'node:path';

export const SERVER_URL = (process.env.PARSE_SERVER_URL || 'http://127.0.0.1:1337/parse').replace(/\/+$/, '');
export const APP_ID = process.env.PARSE_APP_ID || 'dashApp';
export const MASTER_KEY = process.env.PARSE_MASTER_KEY || 'dashMaster';
export const DASHBOARD_URL = (process.env.DASHBOARD_URL || 'http://127.0.0.1:4040').replace(/\/+$/, '');
export const APP_SLUG = process.env.DASHBOARD_APP_SLUG || 'ferrobase-e2e';
export const OUT = process.env.DASHBOARD_OUT || path.join(path.dirname(new URL(import.meta.url).pathname), 'output');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** REST with the master key: { status, body }. */
export async function rest(method, urlPath, body, headers = {}) {
  const res = await fetch(SERVER_URL + urlPath, {
    method,
    headers: {
      'X-Parse-Application-Id': APP_ID,
      'X-Parse-Master-Key': MASTER_KEY,
      'Content-Type': 'application/json',
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

/** The method a request really asks for: the JS SDK tunnels GET/PUT/DELETE through POST `_method`. */
export function effectiveMethod(req) {
  const m = req.method();
  if (m === 'POST') {
    try {
      const b = JSON.parse(req.postData() || '{}');
      if (b && typeof b._method === 'string') return b._method.toUpperCase();
    } catch {
      /* not JSON: a file upload */
    }
  }
  return m;
}

export class Session {
  constructor() {
    this.problems = []; // unexpected failed requests and console errors
    this.expected = []; // { method, re, status } a running action expects to fail
    this.external = new Set(); // requests to anything but 127.0.0.1, answered locally
    this.shot = 0;
    this.dashboardBugs = new Set(); // Parse Dashboard's own client-side errors (see 'pageerror')
  }

  async start() {
    fs.mkdirSync(OUT, { recursive: true });
    this.browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60_000,
      protocolTimeout: 120_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--window-size=1400,900',
      ],
    });
    const page = (this.page = await this.browser.newPage());
    await page.setViewport({ width: 1400, height: 900 });
    page.setDefaultTimeout(15_000);
    // Only 127.0.0.1 is reachable here (and in CI): the dashboard's Google Fonts links are
    // answered with an empty stylesheet instead of failing (which would log console errors).
    await page.setRequestInterception(true);
    this.pending = new Map();
    page.on('requestfinished', (req) => this.pending.delete(req));
    page.on('requestfailed', (req) => this.pending.delete(req));
    page.on('request', (req) => {
      const u = req.url();
      if (u.startsWith(SERVER_URL)) this.pending.set(req, Date.now());
      if (/^(data|blob|about):/.test(u) || u.startsWith('http://127.0.0.1:')) return req.continue();
      this.external.add(new URL(u).host);
      return req.respond({ status: 200, contentType: 'text/css', body: '' });
    });
    page.on('response', (res) => {
      const req = res.request();
      const u = res.url();
      if (!u.startsWith('http://127.0.0.1:') || res.status() < 400) return;
      const method = effectiveMethod(req);
      const rel = u.startsWith(SERVER_URL) ? u.slice(SERVER_URL.length) : u;
      const ok = this.expected.find((e) => (!e.method || e.method === method) && e.re.test(rel) && (!e.status || e.status === res.status()));
      if (ok) {
        ok.seen = (ok.seen || 0) + 1;
        return;
      }
      const entry = `HTTP ${res.status()} ${method} ${rel} ${(req.postData() || '').slice(0, 300)}`;
      res
        .text()
        .then((t) => this.problems.push(`${entry} -> ${t.slice(0, 300)}`))
        .catch(() => this.problems.push(entry));
    });
    page.on('requestfailed', (req) => {
      const err = req.failure()?.errorText || '';
      if (err === 'net::ERR_ABORTED') return; // a navigation cancelled it
      if (req.url().startsWith('http://127.0.0.1:')) this.problems.push(`request failed: ${req.method()} ${req.url()} ${err}`);
    });
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const t = msg.text();
      // The HTTP status itself is checked (and maybe expected) above.
      if (/^Failed to load resource: the server responded with a status of/.test(t)) return;
      this.problems.push(`console error: ${t.slice(0, 500)}`);
    });
    page.on('pageerror', (err) => {
      // Parse Dashboard 9.2's own race, whatever the server answers: the Protected Fields and
      // Class Level Permissions dialogs start an IntersectionObserver whose first callback can
      // run before the scroll-hint ref is attached (`this.refScrollHint.current.toggleActive`).
      if (/reading '(toggleActive|setHidden)'/.test(err.message)) {
        this.dashboardBugs.add(err.message);
        return;
      }
      this.problems.push(`page error: ${err.message}`);
    });
    page.on('dialog', (d) => d.accept());
  }

  async stop() {
    await this.browser?.close();
  }

  /** Runs `fn` as one action: afterwards no request may have failed unexpectedly, and no console error. */
  async action(name, fn, { expect = [] } = {}) {
    this.expected = expect.map((e) => ({ ...e }));
    const before = this.problems.length;
    try {
      await fn();
      await this.idle();
    } catch (e) {
      await this.screenshot(`FAILED-${name}`).catch(() => {});
      const mine = this.problems.slice(before);
      this.expected = [];
      if (mine.length) e.message += `\n(and unexpected failures meanwhile:\n  ${mine.join('\n  ')})`;
      const slow = [...this.pending].filter(([, t]) => Date.now() - t > 3000);
      if (slow.length) e.message += `\n(requests to the server still unanswered:\n  ${slow.map(([r, t]) => `${effectiveMethod(r)} ${r.url()} ${(r.postData() || '').slice(0, 300)} (${Math.round((Date.now() - t) / 1000)} s)`).join('\n  ')})`;
      throw e;
    }
    await this.screenshot(name).catch(() => {});
    const mine = this.problems.slice(before);
    const missing = this.expected.filter((e) => e.required && !e.seen);
    this.expected = [];
    if (mine.length) throw new Error(`${name}: unexpected failures:\n  ${mine.join('\n  ')}`);
    if (missing.length) throw new Error(`${name}: an expected failure did not happen: ${missing.map((e) => e.re).join(', ')}`);
  }

  async screenshot(name) {
    this.shot += 1;
    const file = path.join(OUT, `${String(this.shot).padStart(2, '0')}-${name.replace(/[^\w.-]+/g, '_')}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  async idle(ms = 400) {
    await this.page.waitForNetworkIdle({ idleTime: ms, timeout: 20_000 }).catch(() => {});
  }

  async goto(sub) {
    await this.page.goto(`${DASHBOARD_URL}/apps/${APP_SLUG}/${sub}`, { waitUntil: 'networkidle0', timeout: 30_000 });
  }

  /** Waits for a response of the Parse server (effective method, path regex) while `trigger` runs. */
  async response(method, re, trigger, { status } = {}) {
    const p = this.page.waitForResponse(
      (r) => r.url().startsWith(SERVER_URL) && (method === '*' || effectiveMethod(r.request()) === method) && re.test(r.url().slice(SERVER_URL.length)),
      { timeout: 15_000 },
    );
    p.catch(() => {}); // awaited below, unless the trigger throws first
    await trigger();
    const res = await p;
    if (status !== undefined && res.status() !== status) {
      throw new Error(`${method} ${res.url()}: HTTP ${res.status()} (expected ${status}): ${await res.text().catch(() => '')}`);
    }
    let body;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    return { status: res.status(), body, request: res.request() };
  }

  async waitText(text, { timeout = 15_000, root = 'body' } = {}) {
    try {
      await this.page.waitForFunction(
        (t, r) => {
          const el = document.querySelector(r);
          return el && el.innerText.includes(t);
        },
        { timeout },
        text,
        root,
      );
    } catch {
      const shown = await this.page.evaluate((r) => (document.querySelector(r) || document.body).innerText, root);
      throw new Error(`"${text}" not shown in ${root}; it shows:\n${shown.slice(0, 1500)}`);
    }
  }

  async noText(text, { timeout = 15_000, root = 'body' } = {}) {
    await this.page.waitForFunction(
      (t, r) => !(document.querySelector(r) || document.body).innerText.includes(t),
      { timeout },
      text,
      root,
    );
  }

  /** The visible elements whose normalized text is exactly `text` (optionally of one tag, inside a root selector). */
  async byText(text, { tag = '*', root, timeout = 15_000 } = {}) {
    const xp = `//${tag}[normalize-space()=${JSON.stringify(text)}]`;
    const deadline = Date.now() + timeout;
    for (;;) {
      const scope = root ? await this.page.$(root) : this.page;
      const els = scope ? await scope.$$(`::-p-xpath(${root ? '.' : ''}${xp})`) : [];
      const visible = [];
      for (const el of els) {
        if (await el.isVisible()) visible.push(el);
      }
      if (visible.length) return visible;
      if (Date.now() > deadline) throw new Error(`no visible <${tag}> "${text}"${root ? ` in ${root}` : ''}`);
      await sleep(100);
    }
  }

  async click(text, opts = {}) {
    const els = await this.byText(text, opts);
    // The innermost match is the one that handles the click.
    await els[els.length - 1].click();
  }

  /**
   * Picks `option` in the `index`th Parse Dashboard Dropdown (role=combobox) of the open modal,
   * and checks that it took (React re-renders the dropdown, so it is looked up afresh each time).
   */
  async choose(index, option) {
    const combo = async () => (await this.page.$$('[data-modal] [role=combobox]'))[index];
    let seen = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const shownBefore = await (await combo()).evaluate((e) => e.textContent.trim());
      if (shownBefore === option) return;
      const list = await this.page.$$('[role=option]');
      let open = false;
      for (const o of list) open = open || (await o.isVisible());
      if (!open) {
        await (await combo()).click();
        await sleep(250);
      }
      seen = [];
      for (const o of await this.page.$$('[role=option]')) {
        const t = await o.evaluate((e) => e.textContent.trim());
        seen.push(t);
        if (t === option && (await o.isVisible())) {
          await o.click();
          break;
        }
      }
      await sleep(250);
    }
    const shown = await (await combo()).evaluate((e) => e.textContent.trim());
    if (shown !== option) throw new Error(`could not choose "${option}" (shows "${shown}"; options: ${seen.join(', ')})`);
  }

  modal() {
    return this.page.$('[data-modal]');
  }

  async modalText() {
    return this.page.evaluate(() => document.querySelector('[data-modal]')?.innerText || '');
  }

  async waitModalClosed() {
    await this.page.waitForFunction(() => !document.querySelector('[data-modal]'), { timeout: 15_000 });
  }

  /** The modal field (a form row) whose label starts with `label`: its input area. */
  async modalField(label) {
    const h = await this.page.evaluateHandle((l) => {
      const m = document.querySelector('[data-modal]');
      if (!m) return null;
      for (const row of m.querySelectorAll('div')) {
        const kids = row.children;
        if (kids.length !== 2) continue;
        if (kids[0].innerText.trim().startsWith(l) && !kids[1].innerText.includes(l)) return kids[1];
      }
      return null;
    }, label);
    const el = h.asElement();
    if (!el) throw new Error(`no modal field "${label}" in:\n${await this.modalText()}`);
    return el;
  }

  /** The class list in the sidebar: { className: count shown }. */
  async sidebarCounts() {
    return this.page.evaluate(() => {
      const out = {};
      for (const a of document.querySelectorAll('a[title][href*="/browser/"]')) {
        const n = a.nextElementSibling;
        if (n && /^\d+$/.test(n.textContent.trim())) out[a.title] = Number(n.textContent.trim());
      }
      return out;
    });
  }

  // --- the data browser's table ---

  async headers() {
    return this.page.evaluate(() => {
      const t = document.querySelector('#browser-table');
      if (!t) return [];
      return [...t.firstElementChild.children].map((c) => {
        const n = c.querySelector(':scope > div > div:first-child');
        return (n ? n.textContent : c.textContent).trim();
      });
    });
  }

  async rowTexts() {
    return this.page.evaluate(() =>
      [...document.querySelectorAll('#browser-table span > input[type=checkbox]')].map((i) =>
        [...i.parentElement.parentElement.children].map((c) => c.innerText.trim()),
      ),
    );
  }

  /** The cell of row `r` (0 = first shown) in column `name`. */
  async cell(r, name) {
    const h = await this.page.evaluateHandle(
      (row, col) => {
        const t = document.querySelector('#browser-table');
        const heads = [...t.firstElementChild.children].map((c) => {
          const n = c.querySelector(':scope > div > div:first-child');
          return (n ? n.textContent : c.textContent).trim();
        });
        const i = heads.indexOf(col);
        const rows = [...t.querySelectorAll('span > input[type=checkbox]')].map((x) => x.parentElement.parentElement);
        return i < 0 || !rows[row] ? null : rows[row].children[i];
      },
      r,
      name,
    );
    const el = h.asElement();
    if (!el) throw new Error(`no cell ${r}/${name}; headers: ${(await this.headers()).join(', ')}`);
    return el;
  }

  async cellText(r, name) {
    return (await this.cell(r, name)).evaluate((e) => e.innerText.trim());
  }

  /** Selects a cell and opens its editor (Enter, as a keyboard user does). */
  async openCell(r, name) {
    const c = await this.cell(r, name);
    await c.scrollIntoView();
    await c.click();
    await sleep(100);
    await this.page.keyboard.press('Enter');
    await sleep(250);
  }

  async selectAllAndType(text) {
    await this.page.keyboard.down('Control');
    await this.page.keyboard.press('a');
    await this.page.keyboard.up('Control');
    await this.page.keyboard.press('Backspace');
    if (text) await this.page.keyboard.type(text);
  }

  async rowCount() {
    return (await this.rowTexts()).length;
  }

  async checkRow(r) {
    const boxes = await this.page.$$('#browser-table span > input[type=checkbox]');
    await boxes[r].click();
  }

  /** Opens one of the toolbar's menus (Edit, Security, …) and clicks an item. */
  async menu(name, item) {
    await this.click(name, { tag: 'span' });
    await sleep(200);
    await this.click(item);
    await sleep(200);
  }
}
