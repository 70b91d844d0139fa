// area.js - the working area (工作区域): a division within the user's data
// scope that the workbench's figures and to-do counts follow, chosen in the
// header and remembered per browser and user. The server still applies the
// scope to every call; the area only narrows (a division filter on each
// entity's scope field), so an area outside the scope is never used.
import { reactive, watch } from 'vue';
import { session } from './session.js';

const key = () => 'mz.area.' + (session.user?.username || '');

export const area = reactive({ code: '' });

/** The significant prefix of a 12-digit division code (trailing zero groups dropped). */
export function divisionPrefix(code) {
  const c = String(code || '');
  if (!/^\d{12}$/.test(c)) return c;
  if (c.slice(9) !== '000') return c;
  if (c.slice(6, 9) !== '000') return c.slice(0, 9);
  if (c.slice(4, 6) !== '00') return c.slice(0, 6);
  if (c.slice(2, 4) !== '00') return c.slice(0, 4);
  return c.slice(0, 2);
}

/** Is division `code` within the scope `scope` (both 12-digit codes)? */
export function withinScope(code, scope) {
  if (!/^\d{12}$/.test(String(code || ''))) return false;
  if (!scope) return true;
  return String(code).startsWith(divisionPrefix(scope));
}

/** The chosen area when it narrows the scope, else '' (the whole scope). */
export function areaFilter() {
  const scope = session.user?.scope || '';
  if (!area.code || area.code === scope || !withinScope(area.code, scope)) return '';
  return area.code;
}

/** Load the remembered area of the logged-in user (call after login / restore). */
export function loadArea() {
  let v = '';
  try {
    v = localStorage.getItem(key()) || '';
  } catch {
    v = '';
  }
  area.code = withinScope(v, session.user?.scope) ? v : '';
}

watch(
  () => session.user?.username,
  () => loadArea(),
  { immediate: true },
);

/** Choose the working area ('' for the whole scope); remembered for this user. */
export function setArea(code) {
  const v = withinScope(code, session.user?.scope) ? code : '';
  area.code = v;
  if (!session.user) return;
  try {
    if (v) localStorage.setItem(key(), v);
    else localStorage.removeItem(key());
  } catch {
    // private mode: not remembered
  }
}
