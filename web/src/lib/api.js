// api.js - the one HTTP client of the web app.
//
// Every call goes to /api/v1 with the session cookie (HttpOnly, set by the
// login) and, on state-changing methods, the CSRF header the login named. A
// 401 anywhere but the login itself clears the session and sends the user back
// to the login page. Errors are thrown as ApiError with the contract's body:
// {error:{code,message,field,errors?,...}}.

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `请求失败（HTTP ${status}）`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.field = e.field || null;
    this.errors = Array.isArray(e.errors) ? e.errors : [];
    this.detail = e;
  }
}

const csrf = { header: 'X-CSRF-Token', token: null };
let onUnauthenticated = () => {};

export function setCsrf(token, header) {
  csrf.token = token || null;
  if (header) csrf.header = header;
}
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

/** Build a query string from an object; empty values are left out. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    u.append(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

/**
 * request(method, path, {body, raw, contentType, query, quiet401})
 * path is relative to /api/v1 ("/meta"). Resolves with the parsed JSON (or
 * null for 204), rejects with ApiError.
 */
export async function request(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (opts.raw !== undefined) {
    body = opts.raw;
    if (opts.contentType) headers['Content-Type'] = opts.contentType;
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  if (!['GET', 'HEAD'].includes(method) && csrf.token) headers[csrf.header] = csrf.token;
  let res;
  try {
    res = await fetch('/api/v1' + path + qs(opts.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: '无法连接服务器，请检查网络后重试' } });
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, json);
    if (res.status === 401 && !opts.quiet401) onUnauthenticated(err);
    throw err;
  }
  return json;
}

export const api = {
  get: (p, query, opts) => request('GET', p, { ...opts, query }),
  post: (p, body, opts) => request('POST', p, { ...opts, body }),
  patch: (p, body, opts) => request('PATCH', p, { ...opts, body }),
  del: (p, query, opts) => request('DELETE', p, { ...opts, query }),
};
