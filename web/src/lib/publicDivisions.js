// publicDivisions.js - GET /api/v1/public/divisions?parent= (no login): the
// divisions in force today below a parent, with public fields only
// ({code, name, level, has_children}; code in its short form). Cached per
// parent for the page's life (the server also sends Cache-Control). Used by
// the citizen side: 救助公示's district/street/community choice and the
// hall's community and street pickers.
import { api } from './api.js';

const cache = new Map(); // parent -> Promise<items>

export function publicChildren(parent = '120000') {
  const key = String(parent || '120000');
  if (!cache.has(key)) {
    const p = api.get('/public/divisions', { parent: key }).then(
      (r) => r.items || [],
      (e) => {
        cache.delete(key);
        throw e;
      },
    );
    cache.set(key, p);
  }
  return cache.get(key);
}
