// home.js - what the 工作台 counts: its key figures (the first eight menu
// entities' records) and its to-do steps (the workflow states where one of the
// user's actions applies, with how many are due soon), all within the working
// area (lib/area.js) or else the user's whole scope. The counts are asked in two
// POST /api/v1/counts (docs/api.md) sent together, one for the figures and one for
// the to-do steps, each with the filter its list link carries, so a figure always
// equals the list it opens.
//
// The router starts those requests as soon as /auth/me and /meta are in
// (prefetchHome), so they run while the workbench's chunks load and mount;
// HomeView takes the answers (loadHome) or asks again.
import { api } from './api.js';
import { may } from './perm.js';
import { areaFilter } from './area.js';

/** Days ahead that count as 临期 (due soon); overdue steps count too. */
export const SOON_DAYS = 3;
const FIGURES = 8;

/** A local date n days from today, ISO. */
export function isoInDays(n) {
  const d = new Date();
  d.setDate(d.getDate() + n);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The division filter of an entity for working area `code` ({} when none applies). */
function areaQuery(e, code) {
  const f = code && (e.fields || []).find((x) => x.scope);
  return f ? { [f.name]: code } : {};
}

/**
 * The figures and to-do steps to count for metadata `meta` in area `code`:
 * {figures: [{name, zh, q}], todos: [{key, entity, state, name, q, dueQ|null}]}.
 */
export function homePlan(meta, code) {
  const menuEntities = (meta.menus || []).map((m) => m.entity).filter(Boolean);
  const figures = meta.entities
    .filter((e) => menuEntities.includes(e.name))
    .slice(0, FIGURES)
    .map((e) => ({ name: e.name, zh: e.zh, q: areaQuery(e, code) }));
  const soon = isoInDays(SOON_DAYS);
  const todos = [];
  for (const e of meta.entities.filter((x) => x.workflow)) {
    const wf = e.workflow;
    for (const s of wf.states.filter((st) => !st.final)) {
      // A step waits for this user when one of its actions is the user's to take.
      const acts = wf.transitions.filter((t) => t.from === s.name && may(`${e.name}.${t.action}`));
      if (!acts.length || (s.name === wf.initial && !s.deadline_days)) continue;
      const q = { state: s.name, ...areaQuery(e, code) };
      todos.push({
        key: e.name + ':' + s.name,
        entity: e.zh,
        state: s.zh,
        name: e.name,
        q,
        dueQ: s.deadline_days ? { ...q, 'state_due.lte': soon, sort: 'state_due' } : null,
      });
    }
  }
  return { figures, todos };
}

/**
 * Count a plan: the key figures in one request and the to-do steps in another,
 * sent together (the server answers them on two threads), so that the figures
 * show as soon as their own counts are in - an uncounted total of a large
 * table costs tens to hundreds of ms (bench/notes.md, fourth round). Returns
 * {figures, todos}: promises of [{name, zh, total, capped}] and of
 * [{key, entity, state, to, dueTo, count, due}] (in the plan's order); each
 * rejects with its ApiError.
 */
function countPlan({ figures, todos }) {
  const count = async (counts) => (counts.length ? (await api.post('/counts', { counts })).counts : []);
  const figs = count(figures.map((f) => ({ entity: f.name, filter: f.q }))).then((out) =>
    figures.map((f, i) => ({ name: f.name, zh: f.zh, total: out[i].total, capped: out[i].total_capped })),
  );
  const tds = count(
    todos.flatMap((t) => [{ entity: t.name, filter: t.q }, ...(t.dueQ ? [{ entity: t.name, filter: t.dueQ }] : [])]),
  ).then((out) => {
    let i = 0;
    return todos.map((t) => {
      const count = out[i++].total;
      const due = t.dueQ ? out[i++].total : 0;
      return {
        key: t.key,
        entity: t.entity,
        state: t.state,
        to: { path: '/e/' + t.name, query: t.q },
        dueTo: t.dueQ ? { path: '/e/' + t.name, query: t.dueQ } : null,
        count,
        due,
      };
    });
  });
  // Reported by the screen that awaits them; not an unhandled rejection when
  // the screen has moved on (another area) before they failed.
  figs.catch(() => {});
  tds.catch(() => {});
  return { figures: figs, todos: tds };
}

// A request started ahead of the screen: used once, by the same metadata and
// area, within PREFETCH_MS (else counted again).
const PREFETCH_MS = 10000;
let ahead = null; // {meta, code, at, counted}

/** Start counting the 工作台 now (the router, once /meta is in, before the screen mounts). */
export function prefetchHome(meta) {
  const code = areaFilter();
  ahead = { meta, code, at: Date.now(), counted: countPlan(homePlan(meta, code)) };
}

/**
 * The 工作台's counts for metadata `meta` and area `code`, {figures, todos} as
 * countPlan: the prefetched ones when they fit.
 */
export function loadHome(meta, code) {
  const a = ahead;
  ahead = null;
  if (a && a.meta === meta && a.code === code && Date.now() - a.at < PREFETCH_MS) return a.counted;
  return countPlan(homePlan(meta, code));
}
