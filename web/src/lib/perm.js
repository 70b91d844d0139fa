// perm.js - may the user do X? A hint for showing buttons and menu entries;
// the server decides every call (403 otherwise).
//
// The server's user object (/auth/me, login) carries `permissions`: the
// permission patterns of the user's roles, used here. Only when they are
// missing (an older server) are the built-in roles' patterns mirrored here
// from src/auth/access.c (mz_builtin_roles). A custom role (defined by the security
// administrator) is unknown to the browser: for it, the data scope's level
// stands in (a district-level scope or above may run bulk checks, the city
// level may receive source batches), and the server still has the last word.
import { session } from './session.js';

const BUILTIN = {
  sysadmin: ['users.*', 'config.*'],
  secadmin: ['roles.*', 'api_tokens.*', 'users.read', 'users.assign_roles', 'users.revoke_sessions', 'config.read'],
  auditadmin: ['audit*.read'],
  community_worker: ['*.read', '*.create', '*.update', '*.import', '*.submit', '*.view_sensitive', 'assistance_cases.investigate', 'assistance_cases.verify', 'assistance_cases.deliberate', 'assistance_cases.object', 'verify_requests.run', 'verify_warnings.check', 'verify_warnings.handle', 'assistance_cases.recheck'],
  street_officer: ['*.read', '*.create', '*.update', '*.submit', '*.accept', '*.review', '*.send_back', '*.export', '*.view_sensitive', 'assistance_cases.investigate', 'assistance_cases.verify', 'assistance_cases.deliberate', 'assistance_cases.object', 'assistance_cases.publicise', 'assistance_cases.resume', 'verify_requests.run', 'verify_warnings.check', 'verify_warnings.handle', 'verify_warnings.close', 'verify_warnings.dismiss', 'assistance_cases.recheck'],
  district_officer: ['*.read', '*.update', '*.accept', '*.send_back', '*.approve', '*.reject', '*.export', '*.view_sensitive', 'assistance_cases.pay', 'assistance_cases.suspend', 'assistance_cases.reinstate', 'assistance_cases.terminate', 'assistance_payroll_runs.run', 'assistance_payroll_runs.reconcile', 'verify_requests.run', 'verify_requests.bulk', 'verify_warnings.close', 'verify_warnings.dismiss', 'verify_warnings.run', 'assistance_cases.recheck'],
  city_officer: ['*'],
  leader: ['*.read'],
  citizen: ['*.read', '*.create', '*.submit'],
  partner: [],
};

/** Glob match as the server's mz_perm_match: '*' matches any run of characters. */
export function permMatch(pattern, perm) {
  const re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(perm);
}

/** The level of a 12-digit division code: 1 province/city, 2 prefecture, 3 district, 4 street, 5 community. */
export function divisionLevel(code) {
  const c = String(code || '');
  if (!/^\d{12}$/.test(c)) return 0;
  if (c.slice(9) !== '000') return 5;
  if (c.slice(6, 9) !== '000') return 4;
  if (c.slice(4, 6) !== '00') return 3;
  if (c.slice(2, 4) !== '00') return 2;
  return 1;
}

// A municipality (天津 120000) has its districts at the prefecture segment (120101): level 3 here
// means a district's own code; the city is 120000000000 (level 1) and its districts 1201xx (level 3).
const FALLBACK = {
  'verify_requests.bulk': (u) => divisionLevel(u.scope) <= 3,
  'verify_batches.receive': (u) => divisionLevel(u.scope) <= 2,
};

/** May the current user do `perm` (e.g. 'verify_requests.bulk')? */
export function may(perm) {
  const u = session.user;
  if (!u) return false;
  if (Array.isArray(u.permissions)) return u.permissions.some((p) => permMatch(p, perm));
  let unknown = false;
  for (const r of u.roles || []) {
    const pats = BUILTIN[r];
    if (!pats) {
      unknown = true;
      continue;
    }
    if (pats.some((p) => permMatch(p, perm))) return true;
  }
  if (!unknown) return false;
  const f = FALLBACK[perm];
  return f ? f(u) : true;
}

/**
 * May the user read the audit log (the detail page's 审计记录 tab)? Under
 * 三员分立 only the audit administrator's patterns reach audit.* on the server:
 * a business role's "*" never does, so the generic may() cannot tell.
 */
export function mayAudit() {
  const u = session.user;
  if (!u) return false;
  if ((u.roles || []).includes('auditadmin')) return true;
  return Array.isArray(u.permissions) && u.permissions.some((p) => p.startsWith('audit') && permMatch(p, 'audit.read'));
}
