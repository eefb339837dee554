// Seeds the shop: generates product images and two short videos with ffmpeg (nothing is
// downloaded), creates the classes with their permissions, uploads the files, creates the
// products, a `Staff` role and a staff user. Talks plain Parse REST with the master key.
//
//   SHOP_SERVER_URL=http://127.0.0.1:1337/parse SHOP_APP_ID=shop SHOP_MASTER_KEY=… \
//   SHOP_MEDIA_DIR=/tmp/media SHOP_STAFF_USER=staff SHOP_STAFF_PASSWORD=… node seed/seed.mjs
//
// Prints one JSON line at the end: {"products": n, "videos": [...], "staff": {...}}.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const SERVER = (process.env.SHOP_SERVER_URL || 'http://127.0.0.1:1337/parse').replace(/\/+$/, '');
const APP_ID = process.env.SHOP_APP_ID || 'shop';
const MASTER_KEY = process.env.SHOP_MASTER_KEY;
const MEDIA = process.env.SHOP_MEDIA_DIR || '/tmp/shop-media';
const STAFF_USER = process.env.SHOP_STAFF_USER || 'staff';
const STAFF_PASSWORD = process.env.SHOP_STAFF_PASSWORD || 'staff-password';
const FFMPEG = process.env.FFMPEG || 'ffmpeg';
const FONT_CANDIDATES = [
  process.env.SHOP_FONT,
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf',
].filter(Boolean);
if (!MASTER_KEY) {
  console.error('SHOP_MASTER_KEY is required');
  process.exit(2);
}

// --- the catalogue: 6 categories x 6 products, deterministic ---
const CATEGORIES = {
  Shoes: { colors: ['0x1d4e89', '0x00b2ca'], items: ['Trail Runner', 'City Sneaker', 'Leather Boot', 'Canvas Slip-On', 'Hiking Boot', 'Rain Boot'], words: 'comfortable sole laces walking running' },
  Bags: { colors: ['0x6a040f', '0xe85d04'], items: ['Weekend Duffel', 'Laptop Backpack', 'Canvas Tote', 'Leather Satchel', 'Hip Pack', 'Travel Wallet'], words: 'zipper pocket strap carry travel' },
  Hats: { colors: ['0x3a5a40', '0xa3b18a'], items: ['Wool Beanie', 'Sun Hat', 'Baseball Cap', 'Bucket Hat', 'Flat Cap', 'Rain Hood'], words: 'warm brim head cotton wool' },
  Kitchen: { colors: ['0x5f0f40', '0xfb8b24'], items: ['Espresso Maker', 'Cast Iron Pan', 'Chef Knife', 'Tea Kettle', 'Cutting Board', 'Salad Bowl'], words: 'cook coffee steel wood dishwasher' },
  Garden: { colors: ['0x2d6a4f', '0x95d5b2'], items: ['Watering Can', 'Pruning Shears', 'Seed Tray', 'Garden Gloves', 'Hose Reel', 'Bird Feeder'], words: 'plants green outdoor soil water' },
  Books: { colors: ['0x22223b', '0x9a8c98'], items: ['Rust in Practice', 'Cooking for Two', 'Birds of Europe', 'The Long Walk', 'Night Sky Atlas', 'Poems of the Sea'], words: 'paperback pages author story read' },
};
const VIDEO_PRODUCTS = ['Trail Runner', 'Espresso Maker'];

function rand(seed) {
  let x = seed >>> 0;
  return () => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

function catalogue() {
  const r = rand(17);
  const out = [];
  for (const [category, c] of Object.entries(CATEGORIES)) {
    for (const name of c.items) {
      const price = Math.round((5 + r() * 145) * 100) / 100;
      const stock = 3 + Math.floor(r() * 20);
      const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
      out.push({
        slug,
        name,
        category,
        price,
        stock,
        colors: c.colors,
        description: `${name}: a ${category.toLowerCase()} favourite. ${c.words.split(' ').sort(() => r() - 0.5).join(', ')}.`,
        video: VIDEO_PRODUCTS.includes(name),
      });
    }
  }
  return out;
}

// --- media ---
function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err.slice(-2000)}`))));
  });
}

async function font() {
  for (const f of FONT_CANDIDATES) {
    try {
      await fs.access(f);
      return f;
    } catch {}
  }
  return null;
}

// drawtext's value escaping: the text goes inside '…' in a filter graph.
const dt = (s) => s.replace(/\\/g, '\\\\').replace(/'/g, "\u2019").replace(/:/g, '\\:').replace(/%/g, '\\%');

// The main picture (a diagonal gradient, the name and category), or the "detail" one (the
// gradient the other way, a grid, the word DETAIL).
async function makeImage(p, fontFile, file, detail) {
  const [c0, c1] = detail ? [p.colors[1], p.colors[0]] : p.colors;
  const label = detail ? 'DETAIL' : p.category.toUpperCase();
  const text = fontFile
    ? `,drawtext=fontfile=${fontFile}:text='${dt(p.name)}':fontcolor=white:fontsize=64:x=(w-text_w)/2:y=(h-text_h)/2-30:shadowx=3:shadowy=3` +
      `,drawtext=fontfile=${fontFile}:text='${dt(label)}':fontcolor=white@0.85:fontsize=30:x=(w-text_w)/2:y=h/2+50`
    : '';
  const deco = detail ? 'drawgrid=w=80:h=80:t=2:c=white@0.3' : 'drawbox=x=40:y=40:w=720:h=520:color=white@0.25:t=6';
  await run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
    `gradients=s=800x600:c0=${c0}:c1=${c1}:x0=0:y0=${detail ? 600 : 0}:x1=800:y1=${detail ? 0 : 600}:n=2:speed=0.0001,${deco}${text}`,
    '-frames:v', '1', '-q:v', '3', file]);
}

// A 10 s WebM (VP8) with a keyframe every second, a running clock and a moving pattern: small
// enough to make quickly, big enough (a few MB) that a seek asks for the middle of the file.
async function makeVideo(p, fontFile, file) {
  const text = fontFile
    ? `,drawtext=fontfile=${fontFile}:text='${dt(p.name)}':fontcolor=white:fontsize=40:box=1:boxcolor=black@0.6:x=20:y=h-70` +
      `,drawtext=fontfile=${fontFile}:text='%{pts\\:hms}':fontcolor=white:fontsize=44:box=1:boxcolor=black@0.6:x=20:y=20`
    : '';
  await run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30:d=10',
    ...(text ? ['-vf', text.slice(1)] : []),
    '-c:v', 'libvpx', '-b:v', '3M', '-deadline', 'realtime', '-cpu-used', '8', '-g', '30', '-an', file]);
}

async function pool(items, n, fn) {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    while (queue.length) await fn(queue.shift());
  }));
}

// --- REST ---
async function rest(method, route, body, { headers = {}, raw = false } = {}) {
  const res = await fetch(`${SERVER}/${route}`, {
    method,
    headers: {
      'X-Parse-Application-Id': APP_ID,
      'X-Parse-Master-Key': MASTER_KEY,
      ...(raw ? {} : { 'Content-Type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return json;
}

const PUBLIC_READ = { find: { '*': true }, get: { '*': true }, count: { '*': true }, create: {}, update: {}, delete: {}, addField: {}, protectedFields: { '*': [] } };
const SIGNED_IN = { requiresAuthentication: true };
const SCHEMAS = [
  {
    className: 'Product',
    fields: {
      name: { type: 'String' }, description: { type: 'String' }, category: { type: 'String' },
      price: { type: 'Number' }, stock: { type: 'Number' }, image: { type: 'File' }, detail: { type: 'File' }, video: { type: 'File' },
      search: { type: 'String' }, slug: { type: 'String' },
    },
    classLevelPermissions: PUBLIC_READ,
    indexes: { category_price: { category: 1, price: 1 } },
  },
  {
    className: 'CartItem',
    fields: { owner: { type: 'Pointer', targetClass: '_User' }, product: { type: 'Pointer', targetClass: 'Product' }, quantity: { type: 'Number' } },
    classLevelPermissions: { find: SIGNED_IN, get: SIGNED_IN, count: SIGNED_IN, create: SIGNED_IN, update: SIGNED_IN, delete: SIGNED_IN, addField: {}, protectedFields: { '*': [] } },
  },
  {
    className: 'Order',
    fields: {
      buyer: { type: 'Pointer', targetClass: '_User' }, buyerName: { type: 'String' }, items: { type: 'Array' },
      total: { type: 'Number' }, currency: { type: 'String' }, status: { type: 'String' },
      shippedAt: { type: 'Date' }, shippedBy: { type: 'String' },
    },
    // Signed-in users may create and (through the ACL: staff only) update; nobody deletes.
    classLevelPermissions: { find: SIGNED_IN, get: SIGNED_IN, count: SIGNED_IN, create: SIGNED_IN, update: SIGNED_IN, delete: {}, addField: {}, protectedFields: { '*': [] } },
  },
];

async function main() {
  const t0 = Date.now();
  await fs.mkdir(MEDIA, { recursive: true });
  const products = catalogue();
  // The media are made once per version of this script and reused from MEDIA after that.
  const version = createHash('sha256').update(await fs.readFile(new URL(import.meta.url))).digest('hex');
  const marker = path.join(MEDIA, '.complete');
  const cached = await fs.readFile(marker, 'utf8').then((v) => v === version, () => false);
  if (!cached) {
    const fontFile = await font();
    if (!fontFile) console.error('seed: no font found, images and videos without text');
    const jobs = products.flatMap((p) => [[p, false], [p, true]]);
    await Promise.all([
      ...products.filter((p) => p.video).map((p) => makeVideo(p, fontFile, path.join(MEDIA, `${p.slug}.webm`))),
      pool(jobs, 2, ([p, detail]) => makeImage(p, fontFile, path.join(MEDIA, `${p.slug}${detail ? '-detail' : ''}.jpg`), detail)),
    ]);
    await fs.writeFile(marker, version);
  }
  const tMedia = Date.now();

  for (const s of SCHEMAS) await rest('POST', `schemas/${s.className}`, s);

  const upload = async (file, type) => {
    const bytes = await fs.readFile(path.join(MEDIA, file));
    const r = await rest('POST', `files/${file}`, bytes, { headers: { 'Content-Type': type }, raw: true });
    return { __type: 'File', name: r.name, url: r.url };
  };
  const objects = [];
  await pool(products, 4, async (p) => {
    const image = await upload(`${p.slug}.jpg`, 'image/jpeg');
    const detail = await upload(`${p.slug}-detail.jpg`, 'image/jpeg');
    const video = p.video ? await upload(`${p.slug}.webm`, 'video/webm') : undefined;
    objects.push({ p, image, detail, video });
  });
  objects.sort((a, b) => products.indexOf(a.p) - products.indexOf(b.p));
  const requests = objects.map(({ p, image, detail, video }) => ({
    method: 'POST',
    path: `${new URL(SERVER).pathname}/classes/Product`,
    body: { name: p.name, slug: p.slug, category: p.category, description: p.description, price: p.price, stock: p.stock, image, detail, ...(video ? { video } : {}) },
  }));
  const created = await rest('POST', 'batch', { requests });
  const failed = created.filter((r) => !r.success);
  if (failed.length) throw new Error(`creating products: ${JSON.stringify(failed[0])}`);

  // The staff user and the Staff role (readable by all, so the SDK can check membership).
  const staff = await rest('POST', 'users', { username: STAFF_USER, password: STAFF_PASSWORD, email: `${STAFF_USER}@shop.example` });
  await rest('POST', 'roles', {
    name: 'Staff',
    ACL: { '*': { read: true } },
    users: { __op: 'AddRelation', objects: [{ __type: 'Pointer', className: '_User', objectId: staff.objectId }] },
  });
  console.log(JSON.stringify({
    products: created.length,
    videos: objects.filter((o) => o.video).map((o) => o.p.name),
    staff: { username: STAFF_USER, objectId: staff.objectId },
    mediaSeconds: (tMedia - t0) / 1000,
    mediaCached: cached,
    seconds: (Date.now() - t0) / 1000,
  }));
}

main().catch((e) => {
  console.error(`seed failed: ${e.stack || e}`);
  process.exit(1);
});
