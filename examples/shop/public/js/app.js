// The shop's router: `#/path?query` → a page module. Each page renders into #view, says in
// #backend what ferrobase does for it, and returns a cleanup (LiveQuery subscriptions).
import { Parse, isStaff, esc } from './parse.js';
import { catalog } from './pages/catalog.js';
import { product } from './pages/product.js';
import { cart, cartCount } from './pages/cart.js';
import { orders, order } from './pages/orders.js';
import { staff } from './pages/staff.js';
import { login, signup, reset, logout } from './pages/account.js';

const routes = [
  [/^\/$/, catalog],
  [/^\/product\/(\w+)$/, product],
  [/^\/cart$/, cart],
  [/^\/orders$/, orders],
  [/^\/orders\/(\w+)$/, order],
  [/^\/staff$/, staff],
  [/^\/login$/, login],
  [/^\/signup$/, signup],
  [/^\/reset$/, reset],
  [/^\/logout$/, logout],
];

const view = document.getElementById('view');
const backend = document.getElementById('backend');
let cleanup = null;
let renderId = 0;

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

export function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 3500);
}

/** Sets the "what the back end does here" panel: a title and a few lines (HTML). */
export function explain(title, lines) {
  backend.innerHTML = `<b>Back end:</b> ${title}<ul>${lines.map((l) => `<li>${l}</li>`).join('')}</ul>`;
}

export async function renderNav() {
  const user = Parse.User.current();
  const nav = document.getElementById('nav');
  const staffLink = (await isStaff().catch(() => false)) ? '<a href="#/staff" id="nav-staff">Staff</a>' : '';
  const n = user ? await cartCount().catch(() => 0) : 0;
  nav.innerHTML = `
    <a href="#/">Products</a>
    <a href="#/cart" id="nav-cart">Cart <span class="badge" id="cart-count">${n}</span></a>
    ${user ? '<a href="#/orders" id="nav-orders">My orders</a>' : ''}
    ${staffLink}
    <span class="spacer"></span>
    ${user ? `<span class="who" id="who">${esc(user.get('username'))}</span> <a href="#/logout" id="nav-logout">Log out</a>` : '<a href="#/login" id="nav-login">Log in</a> <a href="#/signup" id="nav-signup">Sign up</a>'}`;
}

async function render() {
  const id = ++renderId;
  if (cleanup) {
    try {
      await cleanup();
    } catch {}
    cleanup = null;
  }
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const params = Object.fromEntries(new URLSearchParams(qs || ''));
  const route = routes.find(([re]) => re.test(path));
  backend.innerHTML = '';
  document.body.dataset.page = path.split('/')[1] || 'catalog';
  document.body.dataset.ready = '0';
  document.body.dataset.hash = '';
  if (!route) {
    view.innerHTML = '<h1>Not found</h1><p><a href="#/">Back to the shop</a></p>';
    document.body.dataset.hash = location.hash;
    document.body.dataset.ready = '1';
    return;
  }
  const [re, page] = route;
  const args = path.match(re).slice(1);
  try {
    const c = await page(view, { args, params });
    if (id !== renderId || (location.hash.replace(/^#/, '') || '/') !== raw) {
      if (typeof c === 'function') await c();
      return;
    }
    cleanup = typeof c === 'function' ? c : null;
  } catch (e) {
    if (e && e.code === Parse.Error.INVALID_SESSION_TOKEN) {
      await Parse.User.logOut().catch(() => {});
      go('#/login');
      return;
    }
    view.innerHTML = `<h1>Something went wrong</h1><p class="error">${esc(e.message || e)}</p>`;
  }
  renderNav().catch(() => {});
  document.body.dataset.hash = location.hash;
  document.body.dataset.ready = '1';
}

window.addEventListener('hashchange', render);
render();
