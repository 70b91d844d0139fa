// router.js - the screens. Entity screens are generic (/e/:entity...), and a
// module may replace any of them, or add pages for its menus' own routes,
// through src/modules/index.js.
import { createRouter, createWebHistory, START_LOCATION } from 'vue-router';
import { session, restore, loadMeta, clear, mustEnrolTotp } from './lib/session.js';
import { setUnauthenticatedHandler } from './lib/api.js';
import { modulePages } from './modules/index.js';
import { portalRoutes } from './views/portal/routes.js';
import { prefetchHome } from './lib/home.js';

const Layout = () => import('./components/AppLayout.vue');

const routes = [
  { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true } },
  { path: '/password', name: 'password', component: () => import('./views/PasswordView.vue'), meta: { noMeta: true } },
  { path: '/totp', name: 'totp', component: () => import('./views/auth/TotpEnrolView.vue'), meta: { noMeta: true } },
  ...portalRoutes, // the public portal and citizen hall (/portal, /hall)
  {
    path: '/',
    component: Layout,
    children: [
      { path: '', name: 'home', component: () => import('./views/HomeView.vue') },
      { path: 'stats', name: 'stats', component: () => import('./views/dashboard/StatsView.vue'), meta: { title: '统计分析' } },
      { path: 'e/:entity', name: 'list', component: () => import('./views/EntityScreen.vue'), props: (r) => ({ entity: r.params.entity, kind: 'list' }) },
      { path: 'e/:entity/new', name: 'create', component: () => import('./views/EntityScreen.vue'), props: (r) => ({ entity: r.params.entity, kind: 'form' }) },
      { path: 'e/:entity/:id(\\d+)', name: 'detail', component: () => import('./views/EntityScreen.vue'), props: (r) => ({ entity: r.params.entity, id: Number(r.params.id), kind: 'detail' }) },
      { path: 'e/:entity/:id(\\d+)/edit', name: 'edit', component: () => import('./views/EntityScreen.vue'), props: (r) => ({ entity: r.params.entity, id: Number(r.params.id), kind: 'form' }) },
      ...modulePages.map((p) => ({ path: p.path.replace(/^\//, ''), component: p.component, meta: { title: p.title } })),
      { path: ':rest(.*)*', name: 'notfound', component: () => import('./views/NotFound.vue') },
    ],
  },
];

export const router = createRouter({
  history: createWebHistory('/'),
  routes,
  // To the top after a navigation; not on the first one (a fresh page is at the
  // top already, and scrollTo would force a layout in the middle of the mount).
  scrollBehavior: (to, from) => (from === START_LOCATION ? false : { top: 0 }),
});

setUnauthenticatedHandler(() => {
  if (!session.user) return;
  clear();
  const cur = router.currentRoute.value;
  if (cur.name !== 'login') router.push({ name: 'login', query: { redirect: cur.fullPath, expired: '1' } });
});

/**
 * Start loading the screen's lazy chunks (layout, page) now, so that they
 * download while the guard below waits for /auth/me and /meta, instead of
 * after it (the router resolves lazy components only once the guards are done).
 * The router's own later call gets the same module; a failed load is left to it.
 */
function preloadComponents(to) {
  for (const r of to.matched) {
    const c = r.components?.default;
    // A lazy route component is a plain function (not a component object or functional component).
    if (typeof c === 'function' && !('displayName' in c) && !('props' in c) && !('__vccOpts' in c)) {
      Promise.resolve()
        .then(c)
        .catch(() => {});
    }
  }
}

router.beforeEach(async (to) => {
  if (!session.checked) {
    if (!to.meta.public) preloadComponents(to);
    await restore({ withMeta: !to.meta.public && !to.meta.noMeta });
  }
  if (to.meta.public) return true;
  if (!session.user) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} };
  if (session.user.must_change_password && to.name !== 'password') return { name: 'password' };
  if (to.name === 'home' && (session.user.roles || []).includes('citizen')) return { name: 'hall-mine' };
  // A second factor to bind first (after the password change: the server gates them in that order).
  const enrol = () => ({ name: 'totp', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} });
  if (!session.user.must_change_password && (session.needsTotpEnrolment || mustEnrolTotp(session.user)) && to.name !== 'totp') return enrol();
  if (!to.meta.noMeta && !session.meta) {
    try {
      await loadMeta();
    } catch (e) {
      if (e.code === 'totp_enrolment_required') {
        session.needsTotpEnrolment = true;
        return enrol();
      }
      // the layout shows the error and offers a retry
    }
  }
  // The 工作台's counts start now, while its chunks load and mount (lib/home.js).
  if (to.name === 'home' && session.meta) prefetchHome(session.meta);
  return true;
});
