// The console's shell: hash routes, sign-in gate, sign-out, status line.
import { onUnauthorized, session } from './api.js';
import { renderSignIn } from './signin.js';
import { renderCreate, renderSecrets, renderVersions } from './secrets.js';
import { renderRuntimes } from './runtimes.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const statusLine = document.getElementById('status');

const ctx = {
  gen: 0,
  notice: '',
  // status shows a short message in the polite live region for a while.
  status(msg) {
    statusLine.textContent = msg;
    clearTimeout(ctx.statusTimer);
    if (msg) ctx.statusTimer = setTimeout(() => { statusLine.textContent = ''; }, 8000);
  },
  statusTimer: 0,
  carry: false,
  // done reports an action's outcome and goes to hash, keeping the message
  // across that one navigation.
  done(msg, hash) {
    ctx.status(msg);
    ctx.carry = true;
    ctx.go(hash);
  },
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  // current reports whether a render started as gen is still the latest.
  current(gen) { return gen === ctx.gen; },
};

function signOut(notice) {
  session.clear();
  ctx.notice = notice;
  ctx.status('');
  ctx.go('#/signin');
}

onUnauthorized(() => signOut('The broker refused your API key (it may have been revoked). Sign in again.'));
document.getElementById('signout').addEventListener('click', () => signOut('Signed out. The API key was removed from this tab.'));

function route() {
  const gen = ++ctx.gen;
  const hash = location.hash;
  if (!ctx.carry) ctx.status('');
  ctx.carry = false;
  if (!session.key()) {
    nav.hidden = true;
    renderSignIn(main, ctx);
    return;
  }
  nav.hidden = false;
  const section = hash.startsWith('#/runtimes') ? 'runtimes' : 'secrets';
  for (const a of nav.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  let m;
  if (hash === '#/secrets/new') renderCreate(main, ctx, gen);
  else if ((m = hash.match(/^#\/secrets\/([0-9a-f-]{36})\/versions$/))) renderVersions(main, ctx, gen, m[1]);
  else if (hash === '#/runtimes') renderRuntimes(main, ctx, gen);
  else if (hash === '#/secrets') renderSecrets(main, ctx, gen);
  else ctx.go('#/secrets');
}

window.addEventListener('hashchange', route);
route();
