// Sign up, log in, log out, password reset: Parse.User, with sessions kept by ferrobase.
import { Parse, esc, errorText } from '../parse.js';
import { go, explain, toast, renderNav } from '../app.js';

function form(view, { title, id, fields, submit, extra = '' }) {
  view.innerHTML = `
    <h1>${title}</h1>
    <form class="box" id="${id}">
      ${fields.map((f) => `<label>${f.label}<input name="${f.name}" id="${id}-${f.name}" type="${f.type || 'text'}" ${f.auto ? `autocomplete="${f.auto}"` : ''} required></label>`).join('')}
      <button type="submit">${submit}</button>
      <p class="error" id="${id}-error"></p>
      ${extra}
    </form>`;
  return view.querySelector('form');
}

function onSubmit(f, handler) {
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = f.querySelector('button');
    button.disabled = true;
    f.querySelector('.error').textContent = '';
    try {
      await handler(Object.fromEntries(new FormData(f)));
    } catch (err) {
      f.querySelector('.error').textContent = errorText(err);
    } finally {
      button.disabled = false;
    }
  });
}

export async function login(view) {
  const f = form(view, {
    title: 'Log in',
    id: 'login',
    fields: [
      { name: 'username', label: 'Username', auto: 'username' },
      { name: 'password', label: 'Password', type: 'password', auto: 'current-password' },
    ],
    submit: 'Log in',
    extra: '<p class="muted">No account? <a href="#/signup">Sign up</a> \u00b7 <a href="#/reset">Forgot the password?</a></p>',
  });
  onSubmit(f, async ({ username, password }) => {
    const user = await Parse.User.logIn(username, password);
    toast(`Welcome back, ${user.get('username')}`);
    await renderNav();
    go('#/');
  });
  explain('a session', ['<code>POST /parse/login</code> checks the bcrypt hash and answers a session token; the SDK keeps it and sends it as <code>X-Parse-Session-Token</code>']);
}

export async function signup(view) {
  const f = form(view, {
    title: 'Sign up',
    id: 'signup',
    fields: [
      { name: 'username', label: 'Username', auto: 'username' },
      { name: 'email', label: 'Email (for password resets)', type: 'email', auto: 'email' },
      { name: 'password', label: 'Password', type: 'password', auto: 'new-password' },
    ],
    submit: 'Create account',
    extra: '<p class="muted">Have an account? <a href="#/login">Log in</a></p>',
  });
  onSubmit(f, async ({ username, email, password }) => {
    const user = new Parse.User();
    user.set({ username, email, password });
    await user.signUp();
    toast(`Welcome, ${user.get('username')}`);
    await renderNav();
    go('#/');
  });
  explain('a new user', ['<code>POST /parse/users</code>: ferrobase stores the user in <code>_User</code> (password bcrypt-hashed), opens a session and answers its token']);
}

export async function reset(view) {
  const f = form(view, {
    title: 'Reset the password',
    id: 'reset',
    fields: [{ name: 'email', label: 'Email of the account', type: 'email', auto: 'email' }],
    submit: 'Send the reset link',
  });
  onSubmit(f, async ({ email }) => {
    await Parse.User.requestPasswordReset(email);
    f.insertAdjacentHTML('beforeend', `<p class="notice" id="reset-sent">If ${esc(email)} has an account, a reset link is on its way. (In the demo the email goes to a local SMTP sink: <code>scripts/demo.sh</code> prints the link.)</p>`);
  });
  explain('email', [
    '<code>POST /parse/requestPasswordReset</code>: ferrobase makes a one-time token and emails a link through <code>--smtp-url</code> (here a local sink started by the demo)',
    'the link opens ferrobase\u2019s own <i>choose a new password</i> page (<code>/parse/apps/choose_password</code>), as Parse Server\u2019s does',
  ]);
}

export async function logout(view) {
  await Parse.User.logOut().catch(() => {});
  await renderNav();
  view.innerHTML = '<h1>Logged out</h1><p><a href="#/">Back to the shop</a> \u00b7 <a href="#/login">Log in again</a></p>';
  explain('the session is gone', ['<code>POST /parse/logout</code> deletes the session: its token no longer works']);
}
