// Browse and search: `$text` on the product's search field, a category filter, price sort, pages.
import { Parse, money, thumb, stockText, esc } from '../parse.js';
import { go, explain } from '../app.js';

const PAGE_SIZE = 12;
let categories = null;

export async function catalog(view, { params }) {
  const term = (params.q || '').trim();
  const cat = params.cat || '';
  const sort = params.sort || (term ? 'relevance' : 'name');
  const page = Math.max(0, Number(params.page || 0) | 0);

  const q = new Parse.Query('Product');
  if (term) q.fullText('search', term); // {"search": {"$text": {"$search": {"$term": …}}}}
  if (cat) q.equalTo('category', cat);
  if (sort === 'price') q.ascending('price');
  else if (sort === '-price') q.descending('price');
  else if (sort === 'relevance' && term) q.sortByTextScore();
  else q.ascending('name');
  q.select('name', 'price', 'stock', 'category', 'image');
  q.limit(PAGE_SIZE).skip(page * PAGE_SIZE).withCount();

  if (!categories) {
    const all = await new Parse.Query('Product').select('category').limit(1000).find();
    categories = [...new Set(all.map((p) => p.get('category')))].sort();
  }
  const { results, count } = await q.find();
  const pages = Math.max(1, Math.ceil(count / PAGE_SIZE));

  view.innerHTML = `
    <h1>${term ? `Results for \u201c${esc(term)}\u201d` : cat ? esc(cat) : 'All products'}</h1>
    <form class="filters" id="filters">
      <input type="search" name="q" id="search" placeholder="Search products (full text)" value="${esc(term)}">
      <select name="cat" id="category">
        <option value="">All categories</option>
        ${categories.map((c) => `<option ${c === cat ? 'selected' : ''}>${esc(c)}</option>`).join('')}
      </select>
      <select name="sort" id="sort">
        ${term ? `<option value="relevance" ${sort === 'relevance' ? 'selected' : ''}>Best match</option>` : ''}
        <option value="name" ${sort === 'name' ? 'selected' : ''}>Name</option>
        <option value="price" ${sort === 'price' ? 'selected' : ''}>Price: low to high</option>
        <option value="-price" ${sort === '-price' ? 'selected' : ''}>Price: high to low</option>
      </select>
      <button type="submit">Search</button>
      <span class="muted" id="result-count">${count} product${count === 1 ? '' : 's'}</span>
    </form>
    <div class="grid" id="products">
      ${results
        .map((p) => {
          const s = stockText(p.get('stock'));
          return `<a class="card" href="#/product/${p.id}" data-product="${p.id}" data-price="${p.get('price')}">
            <img src="${thumb(p.get('image'), 400, 300)}" alt="" width="400" height="300">
            <div class="body">
              <span class="tag">${esc(p.get('category'))}</span>
              <span class="name">${esc(p.get('name'))}</span>
              <span class="price">${money(p.get('price'))}</span>
              <span class="stock ${s.cls}">${s.text}</span>
            </div></a>`;
        })
        .join('') || '<p class="muted">Nothing matches.</p>'}
    </div>
    <div class="pager">
      <button class="secondary" id="prev" ${page === 0 ? 'disabled' : ''}>\u2039 Previous</button>
      <span id="page-info">Page ${page + 1} of ${pages}</span>
      <button class="secondary" id="next" ${page + 1 >= pages ? 'disabled' : ''}>Next \u203a</button>
    </div>`;

  const link = (over) => {
    const next = { q: term, cat, sort: term || sort !== 'relevance' ? sort : '', page: String(page), ...over };
    if (!next.q) delete next.q;
    if (!next.cat) delete next.cat;
    if (!next.sort || (!next.q && next.sort === 'name')) delete next.sort;
    if (next.page === '0') delete next.page;
    const s = new URLSearchParams(next).toString();
    return `#/${s ? `?${s}` : ''}`;
  };
  const form = view.querySelector('#filters');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const nextTerm = f.get('q').trim();
    go(link({ q: nextTerm, cat: f.get('cat'), sort: nextTerm && !term ? 'relevance' : f.get('sort'), page: '0' }));
  });
  for (const id of ['category', 'sort']) view.querySelector(`#${id}`).addEventListener('change', () => form.requestSubmit());
  view.querySelector('#prev').addEventListener('click', () => go(link({ page: String(page - 1) })));
  view.querySelector('#next').addEventListener('click', () => go(link({ page: String(page + 1) })));

  const where = {};
  if (term) where.search = { $text: { $search: { $term: term } } };
  if (cat) where.category = cat;
  explain('a Parse query on <code>Product</code> (public read, master-key-only writes by class-level permissions)', [
    `<code>GET /parse/classes/Product</code> with <code>where=${esc(JSON.stringify(where))}</code>, ` +
      `<code>order=${sort === 'relevance' && term ? '$score' : sort === 'name' ? 'name' : sort}</code>, <code>limit=${PAGE_SIZE}</code>, <code>skip=${page * PAGE_SIZE}</code>, <code>count=1</code> \u2192 ${count} matches`,
    term ? '<code>$text</code>: full-text search over name, description and category (the <code>search</code> field, kept up to date by a <code>beforeSave</code> trigger)' : 'type a word (e.g. <i>coffee</i>, <i>boot</i>) for a full-text <code>$text</code> search',
    'the pictures are thumbnails ferrobase makes from the uploaded images: <code>GET /parse/files/shop/\u2026jpg?thumb=400x300&amp;fit=crop</code> (made once, then cached beside the file)',
  ]);
}
