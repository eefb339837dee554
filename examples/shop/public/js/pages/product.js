// A product: pictures as thumbnails, the product video (played and seeked with HTTP Range),
// live stock (LiveQuery), add to cart; staff can restock (a Cloud Code function).
import { Parse, money, thumb, stockText, isStaff, esc, errorText } from '../parse.js';
import { go, toast, explain, renderNav } from '../app.js';
import { addToCart } from './cart.js';

export async function product(view, { args: [id] }) {
  const p = await new Parse.Query('Product').get(id);
  const pictures = [p.get('image'), p.get('detail')].filter(Boolean);
  const video = p.get('video');
  const staff = await isStaff().catch(() => false);

  view.innerHTML = `
    <p><a href="#/">\u2039 All products</a></p>
    <div class="product" data-product="${p.id}">
      <div class="media">
        <img class="main-image" id="main-image" src="${thumb(pictures[0], 800, 600, 'contain')}" alt="${esc(p.get('name'))}">
        <div class="thumbs" id="thumbs">
          ${pictures.map((f, i) => `<img src="${thumb(f, 96, 72)}" data-i="${i}" class="${i === 0 ? 'on' : ''}" alt="picture ${i + 1}">`).join('')}
        </div>
        ${video ? `<video id="video" controls preload="metadata" muted playsinline src="${esc(video.url())}"></video>` : ''}
      </div>
      <div class="buy">
        <span class="tag">${esc(p.get('category'))}</span>
        <h1 id="product-name">${esc(p.get('name'))}</h1>
        <span class="price" id="price">${money(p.get('price'))}</span>
        <span class="stock" id="stock"></span>
        <span class="live" id="live" hidden>live stock (LiveQuery)</span>
        <p>${esc(p.get('description'))}</p>
        <div><label>Quantity <input type="number" id="quantity" min="1" max="99" value="1" style="width:70px"></label>
        <button id="add-to-cart">Add to cart</button></div>
        ${staff ? '<div><button class="secondary" id="restock">Restock +10 (staff)</button></div>' : ''}
      </div>
    </div>`;

  const stockEl = view.querySelector('#stock');
  const showStock = (stock, flash) => {
    const s = stockText(stock);
    stockEl.textContent = s.text;
    stockEl.className = `stock ${s.cls}`;
    stockEl.dataset.stock = String(stock);
    view.querySelector('#add-to-cart').disabled = stock <= 0;
    if (flash) {
      stockEl.classList.remove('flash');
      void stockEl.offsetWidth;
      stockEl.classList.add('flash');
    }
  };
  showStock(p.get('stock'), false);

  view.querySelector('#thumbs').addEventListener('click', (e) => {
    const i = e.target.dataset && e.target.dataset.i;
    if (i === undefined) return;
    view.querySelector('#main-image').src = thumb(pictures[Number(i)], 800, 600, 'contain');
    for (const t of view.querySelectorAll('#thumbs img')) t.classList.toggle('on', t.dataset.i === i);
  });

  view.querySelector('#add-to-cart').addEventListener('click', async () => {
    if (!Parse.User.current()) {
      toast('Log in to use the cart');
      go('#/login');
      return;
    }
    const n = Number(view.querySelector('#quantity').value) || 1;
    try {
      await addToCart(p, n);
      toast(`Added ${n} \u00d7 ${p.get('name')} to the cart`);
      renderNav();
    } catch (e) {
      toast(errorText(e));
    }
  });
  if (staff) {
    view.querySelector('#restock').addEventListener('click', async () => {
      try {
        const r = await Parse.Cloud.run('restock', { productId: p.id, amount: 10 });
        toast(`Stock is now ${r.stock}`);
      } catch (e) {
        toast(errorText(e));
      }
    });
  }

  // Live stock: the server pushes every change of this product over the WebSocket.
  // subscribe() resolves once the server has confirmed the subscription (its 'open' event follows
  // 200 ms later, and again after a reconnect).
  const sub = await new Parse.Query('Product').equalTo('objectId', p.id).subscribe();
  view.querySelector('#live').hidden = false;
  sub.on('open', () => (view.querySelector('#live').hidden = false));
  sub.on('update', (o) => showStock(o.get('stock'), true));

  explain('one object, its files, and a live subscription', [
    `<code>GET /parse/classes/Product/${p.id}</code>; the pictures are thumbnails (<code>?thumb=800x600&amp;fit=contain</code>, <code>?thumb=96x72&amp;fit=crop</code>)`,
    video
      ? 'the video is a plain file URL: the browser streams it with <code>Range</code> requests and ferrobase answers <code>206 Partial Content</code>, so it plays at once and seeks anywhere'
      : 'no video for this product (the videos are on <i>Trail Runner</i> and <i>Espresso Maker</i>)',
    'LiveQuery: <code>subscribe</code> on the WebSocket at <code>/parse</code>; when an order (Cloud Code <code>afterSave</code>, an atomic <code>Increment</code>) or a restock changes the stock, the new value arrives here without a reload',
  ]);
  return () => sub.unsubscribe();
}
