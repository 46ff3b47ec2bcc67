// The API client of the console: same-origin fetch with the API key of this
// tab (sessionStorage) as X-API-Key. Nothing else is ever stored.

const KEY = 'broker.apiKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  set: (k) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

// APIError is an answer other than 2xx: the envelope's detail, type and
// errors[] ({field, message}).
export class APIError extends Error {
  constructor(status, env) {
    super(typeof env.detail === 'string' && env.detail ? env.detail : `The broker answered ${status}.`);
    this.status = status;
    this.type = typeof env.type === 'string' ? env.type : '';
    this.fields = Array.isArray(env.errors) ? env.errors.filter((e) => e && typeof e.field === 'string') : [];
  }
}

let unauthorized = () => {};

// onUnauthorized sets what a 401 does (back to sign-in).
export function onUnauthorized(f) { unauthorized = f; }

// api calls METHOD /api/v1PATH. opts.key overrides the session's key;
// opts.quiet keeps a 401 from signing out (the sign-in form's own check).
export async function api(method, path, body, opts = {}) {
  const key = opts.key ?? session.key();
  const headers = { Accept: 'application/json' };
  if (key) headers['X-API-Key'] = key;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch {
    throw new APIError(0, { detail: 'The broker could not be reached.' });
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) {
    const err = new APIError(res.status, data && typeof data === 'object' ? data : {});
    if (res.status === 401 && !opts.quiet) unauthorized(err);
    throw err;
  }
  return data;
}
