// divisions.js - GET /api/v1/divisions?parent= (children of a division), cached.
// When the server has no such endpoint (404 not_found on the route), the
// division inputs fall back to a plain 12-digit code input.
import { reactive } from 'vue';
import { api } from './api.js';
import { divisionPrefix } from './meta.js';

const children = new Map(); // parent code12 ('' for the root) -> Promise<items>
export const divisionsState = reactive({ available: null }); // null unknown, true/false

export function childrenOf(parent) {
  const key = parent || '';
  if (!children.has(key)) {
    const p = api
      .get('/divisions', parent ? { parent } : {})
      .then((r) => {
        divisionsState.available = true;
        return (r.items || []).map((i) => ({ ...i, code12: i.code12 || String(i.code).padEnd(12, '0') }));
      })
      .catch((e) => {
        children.delete(key);
        if (e.status === 404 || e.status === 405) divisionsState.available = false;
        throw e;
      });
    children.set(key, p);
  }
  return children.get(key);
}

/** The chain of divisions from below `from` (exclusive, '' = root) down to `code12`, or null. */
export async function divisionPath(code12, from = '') {
  const target = divisionPrefix(code12);
  const path = [];
  let parent = from;
  for (let depth = 0; depth < 6; depth++) {
    const items = await childrenOf(parent);
    const hit = items.find((i) => target.startsWith(divisionPrefix(i.code12)));
    if (!hit) return null;
    path.push(hit);
    if (divisionPrefix(hit.code12) === target) return path;
    parent = hit.code12;
  }
  return null;
}

/** "天津市 和平区 劝业场街道" for a code, or the code itself when unknown. */
export async function divisionName(code12) {
  try {
    const p = await divisionPath(code12);
    return p ? p.map((i) => i.name).join(' / ') : code12;
  } catch {
    return code12;
  }
}
