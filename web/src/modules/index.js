// modules/index.js - where a module replaces a generic screen or adds a page.
//
// screens: { '<entity>': { list?, detail?, form?: () => import('./<module>/X.vue') } }
//   The component receives the same props as the generic one
//   (entity, and id for detail/form) and may embed the generic one
//   (import EntityList from '../views/EntityList.vue').
// pages: [{ path: '/registry/duplicates', title: '疑似重复人员', component: () => import(...) }]
//   Pages for the menus whose `route` the server declares; a menu route with
//   no page here shows a "建设中" placeholder.

const screens = {
  // sample_cases: { detail: () => import('./sample/CaseDetail.vue') },
};

export const modulePages = [];

/** The module's component loader for (entity, kind), or null for the generic screen. */
export function screenFor(entity, kind) {
  return screens[entity]?.[kind] || null;
}
