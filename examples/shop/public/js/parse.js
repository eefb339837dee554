// The parse JS SDK (global `Parse`, from vendor/parse.min.js) pointed at the ferrobase that
// serves this page: the REST API and LiveQuery's WebSocket are both at /parse on the same origin.
export const Parse = window.Parse;
export const APP_ID = 'shop';

Parse.initialize(APP_ID);
Parse.serverURL = `${location.origin}/parse`;
Parse.liveQueryServerURL = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/parse`;

export const money = (n) => `\u20ac${Number(n || 0).toFixed(2)}`;

/** A thumbnail of a Parse.File made by ferrobase (`?thumb=WxH&fit=…`). */
export const thumb = (file, w, h, fit = 'crop') => (file ? `${file.url()}?thumb=${w}x${h}&fit=${fit}` : '');

let staffCache = { id: null, staff: false };
/** Whether the current user is in the `Staff` role (roles are readable by everyone). */
export async function isStaff() {
  const user = Parse.User.current();
  if (!user) return false;
  if (staffCache.id === user.id) return staffCache.staff;
  const n = await new Parse.Query(Parse.Role).equalTo('name', 'Staff').equalTo('users', user).count();
  staffCache = { id: user.id, staff: n > 0 };
  return staffCache.staff;
}

export function stockText(stock) {
  if (stock <= 0) return { text: 'Out of stock', cls: 'out' };
  if (stock < 5) return { text: `Only ${stock} left`, cls: 'low' };
  return { text: `${stock} in stock`, cls: '' };
}

/** HTML-escapes a value for templates. */
export const esc = (v) =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** The message of a Parse.Error (or any error) for the page. */
export const errorText = (e) => (e && e.message ? e.message : String(e));
