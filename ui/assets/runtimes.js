// Runtimes: a read-only list (no token is ever shown: the API never
// returns one after the call that minted it).
import { api } from './api.js';
import { cell, fmtTime, h, table } from './dom.js';

export async function renderRuntimes(main, ctx, gen) {
  main.replaceChildren(h('section', { class: 'card' }, h('h1', { tabindex: '-1' }, 'Runtimes'), h('p', { class: 'muted' }, 'Loading…')));
  let list;
  try {
    list = await api('GET', '/runtimes');
  } catch (err) {
    if (ctx.current(gen) && err.status !== 401) {
      main.replaceChildren(h('section', { class: 'card' }, h('h1', { tabindex: '-1' }, 'Runtimes'), h('p', { class: 'form-error', role: 'alert' }, err.message)));
    }
    return;
  }
  if (!ctx.current(gen)) return;
  const runtimes = Array.isArray(list?.runtimes) ? list.runtimes : [];
  const rows = runtimes.map((r) => h('tr', {},
    cell('ID', h('code', {}, r.id)),
    cell('Project', r.project_id),
    cell('Sandbox', h('code', {}, r.sandbox?.id ?? '–')),
    cell('Env names', (r.sandbox?.env_names ?? []).join(', ') || '–'),
    cell('Created', fmtTime(r.created_at))));
  main.replaceChildren(h('section', { class: 'card' },
    h('h1', { tabindex: '-1' }, 'Runtimes'),
    h('p', { class: 'muted' }, 'Provisioned by orchestrators (or brokerctl runtimes create). Read-only here.'),
    runtimes.length ? table('Your runtimes', ['ID', 'Project', 'Sandbox', 'Env names', 'Created'], rows) : h('p', { class: 'muted' }, 'No runtimes.')));
  main.querySelector('h1').focus();
}
