// modules/index.js - where a module replaces a generic screen or adds a page.
//
// screens: { '<entity>': { list?, detail?, form?: () => import('./<module>/X.vue') } }
//   The component receives the same props as the generic one
//   (entity, and id for detail/form) and may embed the generic one
//   (import EntityList from '../views/EntityList.vue').
// pages: [{ path: '/registry/duplicates', title: '疑似重复人员', component: () => import(...) }]
//   Pages for the menus whose `route` the server declares; a menu route with
//   no page here shows a "建设中" placeholder. A page may also add its own menu
//   entry: `menu: '<module>'` puts it first in that module's group of the side
//   menu (when the user sees the module at all), `may: '<permission>'` shows it
//   only to users who hold the permission (lib/perm.js; the server still decides),
//   `entity: '<entity>'` only to users whose /meta lists that entity.

const screens = {
  // 经济状况核对: a case and a registry household start a verification; a
  // verification record shows its report (single) or its summary (bulk).
  // 社会救助: the case also shows its ledger balance (assistance/CaseDetail.vue
  // wraps verify/CaseDetail.vue); a payroll run its bank file and return file.
  assistance_cases: { detail: () => import('./assistance/CaseDetail.vue') },
  households: { detail: () => import('./verify/HouseholdDetail.vue') },
  verify_requests: { detail: () => import('./verify/RequestDetail.vue') },
  assistance_payroll_runs: { detail: () => import('./assistance/RunDetail.vue') },
  // 医疗救助 bills and 临时救助 cases: the generic detail, the decision notice, the ledger.
  assistance_medical_bills: { detail: () => import('./assistance/OneOffDetail.vue') },
  assistance_temporary_cases: { detail: () => import('./assistance/OneOffDetail.vue') },
};

export const modulePages = [
  { path: '/verify/check', title: '单户核对', menu: 'verify', may: 'verify_requests.run', component: () => import('./verify/CheckView.vue') },
  { path: '/verify/bulk', title: '批量复核', menu: 'verify', may: 'verify_requests.bulk', component: () => import('./verify/BulkView.vue') },
  { path: '/verify/sources', title: '数据批次', menu: 'verify', may: 'verify_batches.receive', component: () => import('./verify/SourcesView.vue') },
  { path: '/assistance/reviews', title: '待复核', menu: 'assistance', entity: 'assistance_cases', component: () => import('./assistance/ReviewsDue.vue') },
  { path: '/assistance/report', title: '救助月报', menu: 'assistance', entity: 'assistance_payments', component: () => import('./assistance/MonthlyReport.vue') },
  { path: '/hall/slots/generate', title: '批量生成时段', menu: 'hall', may: 'hall_slots.create', component: () => import('./hall/SlotGenerate.vue') },
  { path: '/assistance/medical-quote', title: '医疗救助试算', menu: 'assistance', entity: 'assistance_standards', component: () => import('./assistance/MedicalQuote.vue') },
];

/** The module's component loader for (entity, kind), or null for the generic screen. */
export function screenFor(entity, kind) {
  return screens[entity]?.[kind] || null;
}
