// Staff: every order (the ACLs give role:Staff read and write), marked shipped with one click.
import { Parse, money, isStaff, esc, errorText } from '../parse.js';
import { explain, toast } from '../app.js';

export async function staff(view) {
  if (!(await isStaff())) {
    view.innerHTML = '<h1>Staff</h1><p class="error" id="not-staff">This page is for the <code>Staff</code> role. Log in as the staff user the demo printed.</p>';
    explain('roles', ['membership of the <code>Staff</code> role (<code>_Role</code>, its <code>users</code> relation) decides what the ACLs let a user read and write']);
    return;
  }
  const q = () => new Parse.Query('Order');
  const list = await q().descending('createdAt').limit(200).find();
  const row = (o) => `<tr data-order="${o.id}">
      <td>${o.id}</td><td>${o.createdAt ? o.createdAt.toLocaleString() : ''}</td><td>${esc(o.get('buyerName'))}</td>
      <td>${o.get('items').map((l) => `${l.quantity} \u00d7 ${esc(l.name)}`).join(', ')}</td>
      <td class="num">${money(o.get('total'))}</td>
      <td><span class="status ${esc(o.get('status'))}" data-status="${esc(o.get('status'))}">${esc(o.get('status'))}</span></td>
      <td>${o.get('status') === 'shipped' ? `<span class="muted">by ${esc(o.get('shippedBy') || '')}</span>` : '<button class="ship">Mark shipped</button>'}</td></tr>`;
  view.innerHTML = `
    <h1>All orders <span class="muted" id="order-count">(${list.length})</span></h1>
    <table id="staff-orders"><thead><tr><th>Order</th><th>Placed</th><th>Buyer</th><th>Items</th><th class="num">Total</th><th>Status</th><th></th></tr></thead>
    <tbody>${list.map(row).join('')}</tbody></table>`;
  const tbody = view.querySelector('tbody');
  const byId = new Map(list.map((o) => [o.id, o]));
  tbody.addEventListener('click', async (e) => {
    if (!e.target.classList.contains('ship')) return;
    const tr = e.target.closest('tr');
    const o = byId.get(tr.dataset.order);
    e.target.disabled = true;
    try {
      o.set('status', 'shipped');
      await o.save();
      tr.outerHTML = row(o);
      toast(`Order ${o.id} shipped`);
    } catch (err) {
      o.revert();
      e.target.disabled = false;
      toast(errorText(err));
    }
  });
  // New orders appear as they are placed.
  const sub = await q().subscribe();
  sub.on('create', (o) => {
    byId.set(o.id, o);
    tbody.insertAdjacentHTML('afterbegin', row(o));
    view.querySelector('#order-count').textContent = `(${byId.size})`;
  });
  sub.on('update', (o) => {
    byId.set(o.id, o);
    const tr = tbody.querySelector(`tr[data-order="${o.id}"]`);
    if (tr) tr.outerHTML = row(o);
  });
  explain('every order, because the ACLs say so', [
    '<code>GET /parse/classes/Order</code> with the staff user\u2019s session: each order\u2019s ACL grants <code>role:Staff</code> read and write, so staff see all of them (a buyer sees only their own)',
    '<b>Mark shipped</b> is <code>PUT /parse/classes/Order/&lt;id&gt;</code> <code>{"status":"shipped"}</code>; Cloud Code <code>beforeSave</code> lets staff change nothing but the status and stamps <code>shippedAt</code> and <code>shippedBy</code>',
    'the buyer\u2019s order page is subscribed to the order (LiveQuery) and shows the change at once; new orders appear here the same way',
  ]);
  return () => sub.unsubscribe();
}
