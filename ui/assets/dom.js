// Small DOM helpers: elements are built with createElement and text nodes
// only (never innerHTML), so no answer of the API can inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function fmtTime(s) {
  if (!s) return '–';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? String(s) : d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

// field builds a labelled control with its error line (aria-describedby).
export function field(form, name, label, input, hint) {
  const id = `${form}-${name}`;
  input.id = id;
  input.name = name;
  const err = h('p', { class: 'field-error', id: `${id}-error`, 'data-error-for': name });
  const described = [err.id];
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    described.unshift(hintEl.id);
  }
  input.setAttribute('aria-describedby', described.join(' '));
  return h('div', { class: 'field', 'data-field': name }, h('label', { for: id }, label), hintEl, input, err);
}

// clearErrors empties a form's error lines.
export function clearErrors(form) {
  for (const el of form.querySelectorAll('[data-error-for], .form-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

// showError puts each errors[] entry next to its field and the rest (the
// detail, fields without a control) in the form's alert. fallbackField
// receives a field-less error (a 409 on the name).
export function showError(form, err, fallbackField) {
  clearErrors(form);
  const rest = [];
  let first = null;
  const put = (name, msg) => {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (!slot) return false;
    slot.textContent = msg;
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      first ??= input;
    }
    return true;
  };
  for (const f of err.fields ?? []) {
    if (!put(f.field, f.message)) rest.push(`${f.field}: ${f.message}`);
  }
  if (!err.fields?.length) {
    if (!(fallbackField && put(fallbackField, err.message))) rest.push(err.message);
  } else if (rest.length > 0) {
    rest.unshift(err.message);
  }
  const alert = form.querySelector('.form-error');
  if (alert) alert.textContent = rest.join(' ');
  (first ?? alert)?.focus?.();
}

export function formError() {
  return h('p', { class: 'form-error', role: 'alert', tabindex: '-1' });
}

export function table(caption, headers, rows) {
  return h('table', {},
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
}

// cell is a td labelled for the narrow layout (td::before shows the label).
export function cell(label, ...children) {
  return h('td', { 'data-label': label }, ...children);
}
