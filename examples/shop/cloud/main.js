// Cloud Code of the shop demo: an unchanged Parse Server 9 main.js, run by
// `ferrobase serve --cloud examples/shop/cloud/main.js` in its Node.js worker.
//
// The client may only say *what* it wants (product ids and quantities): prices, the total, the
// buyer, the status and the ACL of an order are the server's. Stock is checked before the order is
// stored and decremented after it, with atomic Increment operations.

const STAFF = 'Staff';
const MAX_LINES = 50;
const MAX_QUANTITY = 99;

const fail = (code, message) => {
  throw new Parse.Error(code, message);
};

async function isStaff(user) {
  if (!user) return false;
  const q = new Parse.Query(Parse.Role).equalTo('name', STAFF).equalTo('users', user);
  return (await q.count({ useMasterKey: true })) > 0;
}

const cents = (euros) => Math.round(euros * 100);

// ---------------------------------------------------------------------------------------------
// Product: only the master key writes products (seed, Cloud Code); the searchable text is derived
// here so that `$text` finds a product by its name, description or category.
Parse.Cloud.beforeSave('Product', (req) => {
  const p = req.object;
  const stock = p.get('stock');
  if (stock !== undefined && typeof stock === 'number' && stock < 0 && !req.master) {
    fail(Parse.Error.VALIDATION_ERROR, 'stock cannot be negative');
  }
  if (p.dirty('name') || p.dirty('description') || p.dirty('category')) {
    p.set('search', [p.get('name'), p.get('description'), p.get('category')].filter(Boolean).join(' '));
  }
});

// Staff restock a product: the product pages watching it (LiveQuery) update at once.
Parse.Cloud.define(
  'restock',
  async (req) => {
    const { productId, amount } = req.params;
    const product = await new Parse.Query('Product').get(productId, { useMasterKey: true });
    product.increment('stock', amount);
    await product.save(null, { useMasterKey: true });
    return { stock: product.get('stock') };
  },
  {
    requireUser: true,
    requireAnyUserRoles: [STAFF],
    fields: {
      productId: { type: String, required: true },
      amount: { type: Number, required: true, options: (v) => Number.isInteger(v) && v > 0 && v <= 1000, error: 'amount must be 1..1000' },
    },
  },
);

// ---------------------------------------------------------------------------------------------
// CartItem: one line of a user's cart, readable and writable by its owner only.
Parse.Cloud.beforeSave('CartItem', async (req) => {
  const item = req.object;
  if (!req.user && !req.master) fail(Parse.Error.SESSION_MISSING, 'Log in to use a cart');
  const q = item.get('quantity');
  if (!Number.isInteger(q) || q < 1 || q > MAX_QUANTITY) {
    fail(Parse.Error.VALIDATION_ERROR, `quantity must be a whole number from 1 to ${MAX_QUANTITY}`);
  }
  if (req.original) {
    if (item.dirty('owner') || item.dirty('product')) fail(Parse.Error.OPERATION_FORBIDDEN, 'a cart line keeps its owner and product');
    return;
  }
  const product = item.get('product');
  if (!product) fail(Parse.Error.VALIDATION_ERROR, 'product is required');
  await new Parse.Query('Product').get(product.id, { useMasterKey: true }).catch(() => fail(Parse.Error.OBJECT_NOT_FOUND, 'no such product'));
  if (req.user) {
    item.set('owner', req.user);
    const acl = new Parse.ACL(req.user);
    item.setACL(acl);
  }
});

// ---------------------------------------------------------------------------------------------
// Order: created by a buyer, shipped by staff.
Parse.Cloud.beforeSave('Order', async (req) => {
  const order = req.object;

  if (req.original) {
    // An update: staff mark an order shipped; nothing else may change.
    if (!req.master && !(await isStaff(req.user))) fail(Parse.Error.OPERATION_FORBIDDEN, 'Only staff can change an order');
    const changed = order.dirtyKeys().filter((k) => k !== 'status');
    if (changed.length) fail(Parse.Error.OPERATION_FORBIDDEN, `An order's ${changed.join(', ')} cannot be changed`);
    if (order.get('status') !== 'shipped') fail(Parse.Error.VALIDATION_ERROR, 'status can only become "shipped"');
    if (req.original.get('status') === 'shipped') fail(Parse.Error.VALIDATION_ERROR, 'this order has already shipped');
    order.set('shippedAt', new Date());
    if (req.user) order.set('shippedBy', req.user.get('username'));
    return;
  }

  if (!req.user) fail(Parse.Error.SESSION_MISSING, 'Log in to place an order');
  // The client names products and quantities; it cannot set prices, totals or who bought.
  for (const key of ['total', 'status', 'buyer', 'buyerName', 'shippedAt', 'shippedBy']) {
    if (order.has(key)) {
      fail(Parse.Error.VALIDATION_ERROR, `${key} is set by the server, not by the client`);
    }
  }
  const wanted = order.get('items');
  if (!Array.isArray(wanted) || wanted.length === 0) fail(Parse.Error.VALIDATION_ERROR, 'an order needs items');
  if (wanted.length > MAX_LINES) fail(Parse.Error.VALIDATION_ERROR, `at most ${MAX_LINES} lines`);
  const quantities = new Map();
  for (const line of wanted) {
    if (!line || typeof line !== 'object') fail(Parse.Error.VALIDATION_ERROR, 'each item is {product, quantity}');
    if ('price' in line || 'lineTotal' in line || 'name' in line) {
      fail(Parse.Error.VALIDATION_ERROR, 'prices are set by the server, not by the client');
    }
    const id = typeof line.product === 'string' ? line.product : line.product && line.product.objectId;
    const q = line.quantity;
    if (typeof id !== 'string' || !Number.isInteger(q) || q < 1 || q > MAX_QUANTITY) {
      fail(Parse.Error.VALIDATION_ERROR, `each item is {product: <id>, quantity: 1..${MAX_QUANTITY}}`);
    }
    quantities.set(id, (quantities.get(id) || 0) + q);
  }
  const products = await new Parse.Query('Product')
    .containedIn('objectId', [...quantities.keys()])
    .limit(MAX_LINES)
    .find({ useMasterKey: true });
  const byId = new Map(products.map((p) => [p.id, p]));
  const lines = [];
  let totalCents = 0;
  for (const [id, quantity] of quantities) {
    const p = byId.get(id);
    if (!p) fail(Parse.Error.OBJECT_NOT_FOUND, `no product ${id}`);
    const stock = p.get('stock') || 0;
    if (stock < quantity) {
      fail(Parse.Error.VALIDATION_ERROR, `Only ${stock} left of ${p.get('name')} (you asked for ${quantity})`);
    }
    const lineCents = cents(p.get('price')) * quantity;
    totalCents += lineCents;
    lines.push({ product: id, name: p.get('name'), price: p.get('price'), quantity, lineTotal: lineCents / 100 });
  }
  order.set('items', lines);
  order.set('total', totalCents / 100);
  order.set('currency', 'EUR');
  order.set('status', 'placed');
  order.set('buyer', req.user);
  order.set('buyerName', req.user.get('username'));
  const acl = new Parse.ACL();
  acl.setReadAccess(req.user, true);
  acl.setRoleReadAccess(STAFF, true);
  acl.setRoleWriteAccess(STAFF, true);
  order.setACL(acl);
});

Parse.Cloud.afterSave('Order', async (req) => {
  if (req.original) return; // shipping changes no stock
  const order = req.object;
  // Atomic decrements: concurrent orders never lose an update (the stock check above is not a
  // reservation, so two orders racing for the last item may both pass it; see the README).
  const products = order.get('items').map((line) => {
    const p = new Parse.Object('Product');
    p.id = line.product;
    p.increment('stock', -line.quantity);
    return p;
  });
  await Parse.Object.saveAll(products, { useMasterKey: true });
  // The cart has become this order.
  const cart = await new Parse.Query('CartItem').equalTo('owner', order.get('buyer')).limit(1000).find({ useMasterKey: true });
  if (cart.length) await Parse.Object.destroyAll(cart, { useMasterKey: true });
  req.log.info(`order ${order.id}: ${products.length} products, total ${order.get('total')}`);
});

Parse.Cloud.beforeDelete('Order', (req) => {
  if (!req.master) fail(Parse.Error.OPERATION_FORBIDDEN, 'orders are never deleted');
});
