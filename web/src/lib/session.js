// session.js - who is logged in, their CSRF token and the metadata they may see.
import { markRaw, reactive } from 'vue';
import { api, setCsrf } from './api.js';

export const session = reactive({
  user: null, // {id, username, name, unit, roles, scope, must_change_password, totp_*}
  meta: null, // GET /api/v1/meta (raw, replaced whole: see loadMeta)
  checked: false, // /auth/me asked once
  needsTotpEnrolment: false,
});

function adopt(body) {
  session.user = body.user || null;
  session.needsTotpEnrolment = mustEnrolTotp(session.user);
  setCsrf(body.csrf_token, body.csrf_header);
}

/**
 * The account must bind a TOTP authenticator before anything else: its roles
 * need a second factor (user.totp_required) and none is enrolled. The server
 * answers every other route 403 totp_enrolment_required until
 * POST /auth/totp/verify succeeds (src/auth/session.c).
 */
export function mustEnrolTotp(user) {
  return !!(user && user.totp_required && !user.totp_enrolled);
}

/** After POST /auth/totp/verify: the account is enrolled. */
export function totpEnrolled(user) {
  session.user = user;
  session.needsTotpEnrolment = mustEnrolTotp(user);
  session.meta = null;
}

/**
 * Ask the server who we are (cookie session). Never throws. With withMeta, the
 * metadata is asked for at the same time rather than after the answer (the
 * first screen waits for both): it is kept only when the user may go on to the
 * workbench (logged in, no password change or TOTP enrolment pending);
 * otherwise, or when that request fails, loadMeta() asks again later.
 */
export async function restore({ withMeta = false } = {}) {
  const metaP = withMeta && !session.meta ? api.get('/meta', undefined, { quiet401: true }).catch(() => null) : null;
  try {
    adopt(await api.get('/auth/me', undefined, { quiet401: true }));
  } catch (e) {
    session.user = null;
    if (e.code === 'totp_enrolment_required') session.needsTotpEnrolment = true;
  }
  session.checked = true;
  if (metaP) {
    const meta = await metaP;
    if (meta && session.user && !session.user.must_change_password && !session.needsTotpEnrolment) session.meta = markRaw(meta);
  }
  return session.user;
}

/** POST /auth/login; rethrows ApiError (code totp_required asks for the code). */
export async function login(username, password, totp) {
  const body = { username, password };
  if (totp) body.totp = totp;
  const r = await api.post('/auth/login', body, { quiet401: true });
  adopt(r);
  session.meta = null;
  session.checked = true;
  return r.user;
}

export async function logout() {
  try {
    await api.post('/auth/logout', {}, { quiet401: true });
  } catch {
    // the session may already be gone
  }
  clear();
}

export function clear() {
  session.user = null;
  session.needsTotpEnrolment = false;
  session.meta = null;
  setCsrf(null);
}

export async function changePassword(oldPassword, newPassword) {
  await api.post('/auth/password', { old_password: oldPassword, new_password: newPassword });
  if (session.user) session.user.must_change_password = false;
  await restore();
}

/**
 * The metadata (entities, dictionaries, workflows, menus), loaded once per login.
 * It is kept raw (not a deep reactive proxy): screens read it thousands of times
 * per render (every table cell's field and dictionary label), and it only ever
 * changes as a whole - session.meta itself stays reactive.
 */
export async function loadMeta(force = false) {
  if (session.meta && !force) return session.meta;
  session.meta = markRaw(await api.get('/meta'));
  return session.meta;
}
