// The buyer's orders, updating live when staff ship them (LiveQuery, filtered by the order's ACL).
import { Parse, money, esc } from '../parse.js';
import { explain } from '../app.js';

const when = (d) => (d ? d.toLocaleString() : '');
const statusBadge = (o) => `<span class="status ${esc(o.get('status'))}" data-status="${esc(o.get('status'))}">${esc(o.get('status'))}</span>`;

function needLogin(view) {
  view.innerHTML = '<h1>Orders</h1><p><a href="#/login">Log in</a> to see your orders.</p>';
}

export async function orders(view) {
  const me = Parse.User.current();
  if (!me) return needLogin(view);
  const q = () => new Parse.Query('Order').equalTo('buyer', me);
  const list = await q().descending('createdAt').limit(100).find();
  view.innerHTML = `
    <h1>My orders</h1>
    ${list.length === 0 ? '<p class="muted">No orders yet.</p>' : `
    <table id="orders-table"><thead><tr><th>Order</th><th>Placed</th><th>Items</th><th class="num">Total</th><th>Status</th></tr></thead><tbody>
    ${list.map((o) => `<tr data-order="${o.id}"><td><a href="#/orders/${o.id}">${o.id}</a></td><td>${when(o.createdAt)}</td>
      <td>${o.get('items').map((l) => `${l.quantity} \u00d7 ${esc(l.name)}`).join(', ')}</td>
      <td class="num">${money(o.get('total'))}</td><td class="st">${statusBadge(o)}</td></tr>`).join('')}
    </tbody></table>`}`;
  const sub = await q().subscribe();
  sub.on('update', (o) => {
    const cell = view.querySelector(`tr[data-order="${o.id}"] .st`);
    if (cell) {
      cell.innerHTML = statusBadge(o);
      cell.classList.add('flash');
    }
  });
  explain('orders are readable by their buyer and by staff only', [
    '<code>GET /parse/classes/Order?where={"buyer":…}</code>: the ACL of each order (set by Cloud Code) lets only its buyer and <code>role:Staff</code> read it',
    'a LiveQuery subscription on the same query: when staff mark an order shipped, its status changes here without a reload',
  ]);
  return () => sub.unsubscribe();
}

export async function order(view, { args: [id] }) {
  const me = Parse.User.current();
  if (!me) return needLogin(view);
  let o;
  try {
    o = await new Parse.Query('Order').get(id);
  } catch (e) {
    if (e.code !== Parse.Error.OBJECT_NOT_FOUND) throw e;
    view.innerHTML = `<h1>Order ${esc(id)}</h1><p class="error" id="order-missing">No such order (or it is not yours): ${esc(e.message)}</p>`;
    explain('the ACL at work', [`<code>GET /parse/classes/Order/${esc(id)}</code> answers <code>101 Object not found</code> to anyone but the buyer and staff`]);
    return;
  }
  const draw = () => {
    view.innerHTML = `
      <p><a href="#/orders">\u2039 My orders</a></p>
      <h1>Order <span id="order-id">${o.id}</span> ${statusBadge(o)}</h1>
      <p class="muted">Placed ${when(o.createdAt)}${o.get('shippedAt') ? ` \u00b7 shipped <span id="shipped-at">${when(o.get('shippedAt'))}</span>` : ''}</p>
      <table id="order-lines"><thead><tr><th>Product</th><th class="num">Price</th><th class="num">Quantity</th><th class="num">Subtotal</th></tr></thead><tbody>
      ${o.get('items').map((l) => `<tr><td><a href="#/product/${l.product}">${esc(l.name)}</a></td><td class="num">${money(l.price)}</td><td class="num">${l.quantity}</td><td class="num">${money(l.lineTotal)}</td></tr>`).join('')}
      </tbody><tfoot><tr><th colspan="3">Total (computed by the server)</th><th class="num" id="order-total" data-total="${o.get('total')}">${money(o.get('total'))}</th></tr></tfoot></table>
      <p class="live" id="live" ${liveOpen ? '' : 'hidden'}>this page updates live (LiveQuery)</p>`;
  };
  let liveOpen = false;
  draw();
  const sub = await new Parse.Query('Order').equalTo('objectId', o.id).subscribe();
  liveOpen = true; // subscribe() resolves once the server confirmed it
  view.querySelector('#live').hidden = false;
  sub.on('open', () => {
    liveOpen = true;
    const l = view.querySelector('#live');
    if (l) l.hidden = false;
  });
  sub.on('update', (next) => {
    o = next;
    draw();
    view.querySelector('.status').classList.add('flash');
  });
  explain('an order as Cloud Code stored it', [
    'the prices, subtotals and total were computed by the <code>beforeSave</code> trigger on <code>Order</code> from the products in the database: the browser only sent ids and quantities',
    `its ACL: <code>${esc(JSON.stringify(o.getACL() ? o.getACL().toJSON() : {}))}</code>: readable by you and by <code>role:Staff</code>, writable by staff only`,
    'a LiveQuery subscription on this order: when staff mark it shipped, the status and date change here without a reload',
  ]);
  return () => sub.unsubscribe();
}
