// Secrets: the list, create (name or preset), rotate, delete, versions and
// rollback. A value is typed into a password field, sent once, and the field
// is emptied right after the request, whatever the answer.
import { api } from './api.js';
import { cell, clearErrors, field, fmtTime, formError, h, showError, table } from './dom.js';

function loading(main, title) {
  main.replaceChildren(h('section', { class: 'card' }, h('h1', { tabindex: '-1' }, title), h('p', { class: 'muted' }, 'Loading…')));
}

function failed(main, title, err) {
  main.replaceChildren(h('section', { class: 'card' }, h('h1', { tabindex: '-1' }, title), h('p', { class: 'form-error', role: 'alert' }, err.message)));
}

// takeValue reads a password field and empties it at once.
function takeValue(input) {
  const v = input.value;
  input.value = '';
  return v;
}

function egressHosts(s) {
  return Array.isArray(s.egress_hosts) ? s.egress_hosts.filter((x) => typeof x === 'string') : null;
}

export async function renderSecrets(main, ctx, gen) {
  loading(main, 'Secrets');
  let list;
  try {
    list = await api('GET', '/user/secrets');
  } catch (err) {
    if (ctx.current(gen) && err.status !== 401) failed(main, 'Secrets', err);
    return;
  }
  if (!ctx.current(gen)) return;
  const secrets = Array.isArray(list?.secrets) ? list.secrets : [];
  const withEgress = secrets.some((s) => egressHosts(s) !== null);
  const headers = ['Name', 'Provider', 'Masked value', 'Version', 'Updated'];
  if (withEgress) headers.push('Egress hosts');
  headers.push('Actions');
  const rows = secrets.map((s) => {
    const cells = [
      cell('Name', h('code', {}, s.name)),
      cell('Provider', s.provider ?? '–'),
      cell('Masked value', h('code', { class: 'masked' }, s.masked_value)),
      cell('Version', String(s.version)),
      cell('Updated', fmtTime(s.updated_at)),
    ];
    if (withEgress) cells.push(cell('Egress hosts', (egressHosts(s) ?? []).join(', ') || '–'));
    cells.push(cell('Actions', h('div', { class: 'row-actions' },
      h('button', { type: 'button', 'data-action': 'rotate', 'aria-label': `Rotate ${s.name}`, onclick: () => rotateDialog(s, ctx) }, 'Rotate'),
      h('a', { class: 'button', href: `#/secrets/${s.id}/versions`, 'aria-label': `Versions of ${s.name}` }, 'Versions'),
      h('button', { type: 'button', class: 'danger', 'data-action': 'delete', 'aria-label': `Delete ${s.name}`, onclick: () => deleteDialog(s, ctx) }, 'Delete'))));
    return h('tr', { 'data-secret': s.name }, cells);
  });
  const body = secrets.length
    ? table('Your secrets', headers, rows)
    : h('p', { class: 'muted' }, 'No secrets yet.');
  main.replaceChildren(h('section', { class: 'card' },
    h('div', { class: 'title-row' }, h('h1', { tabindex: '-1' }, 'Secrets'), h('a', { class: 'button primary', href: '#/secrets/new' }, 'New secret')),
    h('p', { class: 'muted' }, 'Values are never shown: only a masked preview. Each secret becomes the environment variable of its name in the sandboxes you select it for.'),
    body));
  main.querySelector('h1').focus();
}

// dialog opens a modal form; it is removed from the page when closed.
function dialog(title, ...content) {
  const form = h('form', { method: 'dialog', novalidate: true }, h('h2', {}, title), ...content);
  const d = h('dialog', { 'aria-label': title }, form);
  d.addEventListener('close', () => d.remove());
  document.body.append(d);
  d.showModal();
  return { d, form };
}

function rotateDialog(s, ctx) {
  const input = h('input', { type: 'password', autocomplete: 'new-password', spellcheck: 'false', required: true });
  const alert = formError();
  const cancel = h('button', { type: 'button', onclick: () => d.close() }, 'Cancel');
  const { d, form } = dialog(`Rotate ${s.name}`,
    h('p', {}, 'The new value becomes a new version; the old ones stay in the history.'),
    field('rotate', 'value', 'New value', input),
    alert,
    h('div', { class: 'actions' }, cancel, h('button', { type: 'submit', class: 'primary' }, 'Store new version')));
  input.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const value = takeValue(input);
    try {
      const out = await api('PUT', `/user/secrets/${encodeURIComponent(s.id)}`, { value });
      d.close();
      ctx.done(`${out.name}: version ${out.version} stored.`, '#/secrets');
    } catch (err) {
      if (err.status !== 401) showError(form, err);
    }
  });
}

function deleteDialog(s, ctx) {
  const input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: true });
  const submit = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Delete');
  input.addEventListener('input', () => { submit.disabled = input.value !== s.name; });
  const cancel = h('button', { type: 'button', onclick: () => d.close() }, 'Cancel');
  const { d, form } = dialog(`Delete ${s.name}`,
    h('p', {}, 'This deletes the secret and every version of it. Sandboxes selected with it keep what they already received.'),
    field('delete', 'confirm', `Type ${s.name} to confirm`, input),
    formError(),
    h('div', { class: 'actions' }, cancel, submit));
  input.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (input.value !== s.name) return;
    try {
      await api('DELETE', `/user/secrets/${encodeURIComponent(s.id)}`);
      d.close();
      ctx.done(`Deleted ${s.name}.`, '#/secrets');
    } catch (err) {
      if (err.status !== 401) showError(form, err);
    }
  });
}

export async function renderCreate(main, ctx, gen) {
  loading(main, 'New secret');
  let presets = [];
  try {
    presets = (await api('GET', '/user/secrets/presets'))?.presets ?? [];
  } catch (err) {
    if (err.status === 401) return;
    presets = []; // the custom form still works
  }
  if (!ctx.current(gen)) return;
  const mode = (v, label, checked) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: 'mode', value: v, checked }), ' ', label);
  const provider = h('select', {},
    presets.map((p) => h('option', { value: p.provider },
      `${p.provider} → ${p.env_var_name} (${p.configured ? 'configured' : 'not configured'})`)));
  const name = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters', placeholder: 'OPENAI_API_KEY' });
  const value = h('input', { type: 'password', autocomplete: 'new-password', spellcheck: 'false', required: true });
  const presetField = field('create', 'provider', 'Preset', provider, 'The secret is named after the preset’s environment variable.');
  const nameField = field('create', 'name', 'Name', name, 'The environment variable name: letters, digits and underscores. Names are unique regardless of letter case.');
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', { tabindex: '-1' }, 'New secret'),
    h('fieldset', {}, h('legend', {}, 'Create from'),
      mode('preset', 'A preset', presets.length > 0), mode('custom', 'A name of my own', presets.length === 0)),
    presetField, nameField,
    field('create', 'value', 'Value', value, 'Typed once, never shown again: only a masked preview is kept for display.'),
    formError(),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/secrets' }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, 'Create')));
  const sync = () => {
    const preset = form.querySelector('input[name="mode"]:checked')?.value === 'preset';
    presetField.hidden = !preset;
    nameField.hidden = preset;
  };
  for (const r of form.querySelectorAll('input[name="mode"]')) r.addEventListener('change', sync);
  if (presets.length === 0) form.querySelector('input[value="preset"]').disabled = true;
  sync();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const preset = form.querySelector('input[name="mode"]:checked')?.value === 'preset';
    const v = takeValue(value);
    try {
      const out = preset
        ? await api('POST', '/user/secrets/preset', { provider: provider.value, value: v })
        : await api('POST', '/user/secrets', { name: name.value.trim(), value: v });
      ctx.done(`Created ${out.name}.`, '#/secrets');
    } catch (err) {
      if (err.status !== 401) showError(form, err, err.status === 409 ? (preset ? 'provider' : 'name') : null);
    }
  });
  main.replaceChildren(form);
  form.querySelector('h1').focus();
}

export async function renderVersions(main, ctx, gen, id) {
  loading(main, 'Versions');
  let sec, list;
  try {
    [sec, list] = await Promise.all([
      api('GET', `/user/secrets/${encodeURIComponent(id)}`),
      api('GET', `/user/secrets/${encodeURIComponent(id)}/versions`),
    ]);
  } catch (err) {
    if (ctx.current(gen) && err.status !== 401) failed(main, 'Versions', err);
    return;
  }
  if (!ctx.current(gen)) return;
  const versions = Array.isArray(list?.versions) ? list.versions : [];
  const alert = formError();
  const rows = versions.map((v) => {
    let state = '';
    if (v.current) state = 'current';
    else if (v.destroyed) state = 'destroyed';
    const action = v.current || v.destroyed ? '–' : h('button', {
      type: 'button', 'data-rollback': String(v.version), 'aria-label': `Roll back to version ${v.version}`,
      onclick: async () => {
        try {
          const out = await api('POST', `/user/secrets/${encodeURIComponent(id)}/rollback`, { version: v.version });
          ctx.status(`Version ${v.version}'s value is current again, as version ${out.version}.`);
          renderVersions(main, ctx, ++ctx.gen, id);
        } catch (err) {
          if (err.status !== 401) { alert.textContent = err.message; alert.focus(); }
        }
      },
    }, 'Roll back');
    return h('tr', { 'data-version': String(v.version) },
      cell('Version', String(v.version)), cell('Created', fmtTime(v.created_at)),
      cell('Masked value', h('code', { class: 'masked' }, v.masked_value || '–')),
      cell('Fingerprint', h('code', {}, v.fingerprint || '–')), cell('State', state || '–'), cell('Action', action));
  });
  main.replaceChildren(h('section', { class: 'card' },
    h('p', {}, h('a', { href: '#/secrets' }, '← Secrets')),
    h('h1', { tabindex: '-1' }, `Versions of ${sec.name}`),
    h('p', { class: 'muted' }, 'Rolling back stores the old value again as a new version.'),
    alert,
    table(`Versions of ${sec.name}`, ['Version', 'Created', 'Masked value', 'Fingerprint', 'State', 'Action'], rows)));
  main.querySelector('h1').focus();
}
