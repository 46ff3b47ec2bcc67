// Sign-in: the API key is checked with one list call, then kept in this
// tab's sessionStorage (never localStorage, never a cookie).
import { api, session } from './api.js';
import { clearErrors, field, formError, h, showError } from './dom.js';

export function renderSignIn(main, ctx) {
  const input = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const alert = formError();
  const notice = ctx.notice ? h('p', { class: 'notice' }, ctx.notice) : null;
  ctx.notice = '';
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', { tabindex: '-1' }, 'Sign in'),
    notice,
    h('p', {}, 'Sign in with your broker API key. It stays in this browser tab only and is forgotten when you sign out or close the tab.'),
    field('signin', 'api_key', 'API key', input),
    alert,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const key = input.value.trim();
    input.value = '';
    if (!key) {
      showError(form, { message: 'Enter your API key.', fields: [{ field: 'api_key', message: 'Enter your API key.' }] });
      return;
    }
    try {
      await api('GET', '/user/secrets', undefined, { key, quiet: true });
    } catch (err) {
      if (err.status === 401) {
        showError(form, { message: err.message, fields: [{ field: 'api_key', message: `This API key was refused: ${err.message}` }] });
      } else {
        showError(form, err);
      }
      return;
    }
    session.set(key);
    ctx.go('#/secrets');
  });
  main.replaceChildren(form);
  (notice ? form.querySelector('h1') : input).focus();
}
