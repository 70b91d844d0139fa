// routes.js - the public side: the policy library (/portal) and the citizen
// service hall (/hall). Every page is public for the router's guard (no staff
// login, no /meta); 我的办件 checks the citizen's own session itself.
// Spread into src/router.js before the staff layout.
const PortalLayout = () => import('./PortalLayout.vue');

export const portalRoutes = [
  {
    path: '/portal',
    component: PortalLayout,
    meta: { public: true },
    children: [
      { path: '', name: 'portal', component: () => import('./PolicyList.vue'), meta: { public: true, title: '政策文件' } },
      { path: 'notices', name: 'portal-notices', component: () => import('./NoticeList.vue'), meta: { public: true, title: '救助公示' } },
      { path: 'policies/:id(\\d+)', name: 'portal-policy', component: () => import('./PolicyDetail.vue'), props: (r) => ({ id: Number(r.params.id) }), meta: { public: true, title: '政策文件' } },
    ],
  },
  {
    path: '/hall',
    component: PortalLayout,
    meta: { public: true },
    children: [
      { path: '', name: 'hall', component: () => import('../citizen/HallHome.vue'), meta: { public: true, title: '网上办事大厅' } },
      { path: 'register', name: 'hall-register', component: () => import('../citizen/HallRegister.vue'), meta: { public: true, title: '公众注册' } },
      { path: 'login', name: 'hall-login', component: () => import('../citizen/HallLogin.vue'), meta: { public: true, title: '公众登录' } },
      { path: 'mine', name: 'hall-mine', component: () => import('../citizen/HallMine.vue'), meta: { public: true, title: '我的办件' } },
      { path: 'mine/applications/:id(\\d+)', name: 'hall-application', component: () => import('../citizen/HallApplication.vue'), props: (r) => ({ id: Number(r.params.id) }), meta: { public: true, title: '办件进度' } },
      { path: 'apply/:matter([a-z][a-z0-9_]*)', name: 'hall-apply', component: () => import('../citizen/HallApply.vue'), props: (r) => ({ matterCode: r.params.matter }), meta: { public: true, title: '网上申请' } },
      { path: 'booking', name: 'hall-booking', component: () => import('../citizen/HallBooking.vue'), meta: { public: true, title: '预约办理' } },
      { path: 'track', name: 'hall-track', component: () => import('../citizen/HallTrack.vue'), meta: { public: true, title: '办件进度查询' } },
    ],
  },
];
