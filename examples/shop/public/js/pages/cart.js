// The cart: `CartItem` objects, one per product, readable and writable only by their owner (the
// ACL is set by Cloud Code). Placing the order sends only product ids and quantities.
import { Parse, money, thumb, esc, errorText } from '../parse.js';
import { go, toast, explain, renderNav } from '../app.js';

const myCart = () => new Parse.Query('CartItem').equalTo('owner', Parse.User.current());

export async function cartCount() {
  if (!Parse.User.current()) return 0;
  const items = await myCart().select('quantity').limit(100).find();
  return items.reduce((n, i) => n + i.get('quantity'), 0);
}

export async function addToCart(product, quantity) {
  const existing = await myCart().equalTo('product', product).first();
  if (existing) {
    existing.set('quantity', Math.min(99, existing.get('quantity') + quantity));
    return existing.save();
  }
  const item = new Parse.Object('CartItem');
  item.set('product', product);
  item.set('quantity', quantity);
  return item.save();
}

export async function cart(view) {
  if (!Parse.User.current()) {
    view.innerHTML = '<h1>Your cart</h1><p><a href="#/login">Log in</a> to keep a cart.</p>';
    explain('nothing yet', ['a cart belongs to a user: <code>CartItem</code> needs a session (class-level permission <code>requiresAuthentication</code>)']);
    return;
  }
  const items = await myCart().include('product').ascending('createdAt').limit(100).find();
  const estimate = items.reduce((t, i) => t + i.get('product').get('price') * i.get('quantity'), 0);
  view.innerHTML = `
    <h1>Your cart</h1>
    ${items.length === 0 ? '<p class="muted" id="cart-empty">The cart is empty. <a href="#/">Browse the products</a>.</p>' : `
    <table id="cart-table">
      <thead><tr><th></th><th>Product</th><th class="num">Price</th><th class="num">Quantity</th><th class="num">Subtotal</th><th></th></tr></thead>
      <tbody>
        ${items.map((i) => {
          const p = i.get('product');
          return `<tr data-item="${i.id}" data-product="${p.id}">
            <td><img src="${thumb(p.get('image'), 64, 48)}" width="64" height="48" alt=""></td>
            <td><a href="#/product/${p.id}">${esc(p.get('name'))}</a></td>
            <td class="num">${money(p.get('price'))}</td>
            <td class="num"><input type="number" class="qty" min="1" max="99" value="${i.get('quantity')}" style="width:64px"></td>
            <td class="num">${money(p.get('price') * i.get('quantity'))}</td>
            <td><button class="secondary remove">Remove</button></td></tr>`;
        }).join('')}
      </tbody>
      <tfoot><tr><th colspan="4">Estimate (the server computes the final total)</th><th class="num" id="estimate">${money(estimate)}</th><th></th></tr></tfoot>
    </table>
    <p><button id="place-order">Place order</button> <span class="error" id="order-error"></span></p>`}`;

  for (const row of view.querySelectorAll('tr[data-item]')) {
    const item = items.find((i) => i.id === row.dataset.item);
    row.querySelector('.qty').addEventListener('change', async (e) => {
      try {
        item.set('quantity', Number(e.target.value));
        await item.save();
        go('#/cart');
      } catch (err) {
        toast(errorText(err));
      }
    });
    row.querySelector('.remove').addEventListener('click', async () => {
      await item.destroy();
      go('#/cart');
    });
  }
  const place = view.querySelector('#place-order');
  if (place) {
    place.addEventListener('click', async () => {
      place.disabled = true;
      view.querySelector('#order-error').textContent = '';
      try {
        const order = new Parse.Object('Order');
        // Only what is wanted: prices, total, buyer, status and ACL are the server's.
        order.set('items', items.map((i) => ({ product: i.get('product').id, quantity: i.get('quantity') })));
        await order.save();
        toast('Order placed');
        renderNav();
        go(`#/orders/${order.id}`);
      } catch (e) {
        view.querySelector('#order-error').textContent = errorText(e);
        place.disabled = false;
      }
    });
  }
  explain('the cart is data on the server, private to its owner', [
    '<code>GET /parse/classes/CartItem?where={"owner":…}&amp;include=product</code>: only this user\u2019s lines come back (each has an ACL for its owner alone, set by a <code>beforeSave</code> trigger)',
    '<b>Place order</b> sends <code>POST /parse/classes/Order</code> with just <code>[{product, quantity}]</code>. Cloud Code <code>beforeSave</code> checks the stock, takes the prices from the database, computes the total and sets the ACL (buyer + <code>role:Staff</code>); a client that sends a price or a total is refused',
    'then <code>afterSave</code> decrements each product\u2019s stock with an atomic <code>Increment</code> and empties the cart',
  ]);
}
