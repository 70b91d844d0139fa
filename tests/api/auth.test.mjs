// auth.test.mjs - accounts, login, sessions, CSRF, tokens, TOTP and 三员分立.
// Reference: docs/security.md, src/auth/*.c. Timeouts, lockout and the rate
// limit use the test clock (POST /api/v1/test/clock, MZ_TEST_CLOCK=1) instead
// of sleeping; each test that fails logins first moves the clock past the
// current rate-limit minute.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, assertError, show, loginRaw, makeApi, totpCode, validCase, ADMIN_PASSWORD, TEST_PASSWORD,
} from './lib.mjs';

const CASES = '/api/v1/sample_cases';
let srv;
let sys; // sysadmin client (password changed)
let sec; // secadmin client
let aud; // auditadmin client
const NEW_ADMIN_PW = 'Changed-Adm1n-Pw-城';

/** Total clock offset of the running test; reverted by clocked(). */
let moved = 0;
/** Move the auth clock. */
async function shift(seconds) {
  const r = await srv.anon('POST', '/api/v1/test/clock', { offset_seconds: seconds });
  assert.equal(r.status, 200, show(r));
  moved += seconds;
  return r.json.now;
}
/** Run a test body that moves the clock, then put the clock back, so the
 * sessions of the other tests (idle meanwhile) are still valid. */
const clocked = (fn) => async () => {
  moved = 0;
  try {
    await fn();
  } finally {
    await shift(-moved);
    moved = 0;
  }
};
/** Start a fresh rate-limit minute. */
const nextMinute = () => shift(61);

/** Log an administrator in, changing the initial password first if needed. */
async function adminLogin(name) {
  let r = await loginRaw(srv.base, name, NEW_ADMIN_PW);
  if (r.status !== 200) {
    const first = await srv.login(name, ADMIN_PASSWORD);
    assert.equal(first.user.must_change_password, true);
    const c = await first.api('POST', '/api/v1/auth/password', { old_password: ADMIN_PASSWORD, new_password: NEW_ADMIN_PW });
    assert.equal(c.status, 200, show(c));
  }
  return srv.login(name, NEW_ADMIN_PW);
}

before(async () => {
  srv = await startServer();
  sys = await adminLogin('sysadmin');
  sec = await adminLogin('secadmin');
  aud = await adminLogin('auditadmin');
});
after(async () => {
  await srv?.stop();
});

describe('login', () => {
  it('answers token, CSRF token, user and an HttpOnly SameSite=Strict cookie', async () => {
    const r = await loginRaw(srv.base, 'tester', TEST_PASSWORD);
    assert.equal(r.status, 200, show(r));
    assert.match(r.json.token, /^mzs_[0-9a-f]{64}$/);
    assert.match(r.json.csrf_token, /^[0-9a-f]{64}$/);
    assert.equal(r.json.csrf_header, 'X-CSRF-Token');
    const u = r.json.user;
    assert.equal(u.username, 'tester');
    assert.deepEqual(u.roles, ['city_officer']);
    assert.equal(u.scope, '120000000000');
    assert.equal(u.must_change_password, false);
    assert.equal(u.totp_enrolled, false);
    const c = r.headers['set-cookie'];
    assert.match(c, /mz_session=mzs_[0-9a-f]{64}/);
    assert.match(c, /HttpOnly/);
    assert.match(c, /SameSite=Strict/);
    assert.match(c, /Path=\//);
    assert.doesNotMatch(c, /Secure/);
    assert.ok(!('password' in u) && !JSON.stringify(r.json).includes('argon2'), 'no hash in the reply');
  });
  it('adds Secure behind TLS (X-Forwarded-Proto: https)', async () => {
    const r = await loginRaw(srv.base, 'tester', TEST_PASSWORD, { headers: { 'X-Forwarded-Proto': 'https' } });
    assert.equal(r.status, 200);
    assert.match(r.headers['set-cookie'], /Secure/);
  });
  it('rotates: each login gives a new token', async () => {
    const a = await srv.login('tester', TEST_PASSWORD);
    const b = await srv.login('tester', TEST_PASSWORD);
    assert.notEqual(a.token, b.token);
  });
  it('fails with the same generic 401 for a wrong password and an unknown user', clocked(async () => {
    await nextMinute();
    const a = await loginRaw(srv.base, 'tester', 'wrong-password-1');
    const b = await loginRaw(srv.base, 'nobody_here', 'wrong-password-1');
    assertError(a, 401, 'login_failed');
    assertError(b, 401, 'login_failed');
    assert.equal(a.json.error.message, b.json.error.message);
    assert.equal(a.headers['set-cookie'], undefined);
  }));
  it('needs username and password', async () => {
    assertError(await srv.anon('POST', '/api/v1/auth/login', { username: 'tester' }), 400, 'bad_request');
  });
  it('unauthenticated calls are 401', async () => {
    assertError(await srv.anon('GET', CASES), 401, 'unauthenticated');
    assertError(await srv.anon('GET', CASES, undefined, { headers: { Authorization: 'Bearer mzs_' + '0'.repeat(64) } }), 401);
    assertError(await srv.anon('GET', CASES, undefined, { headers: { Cookie: 'mz_session=garbage' } }), 401);
  });
});

describe('lockout and rate limit', () => {
  it('locks an account after 5 failures for 30 minutes', clocked(async () => {
    srv.addUser('lock_me', { roles: 'leader', scope: '120101' });
    // The client's failure count lives in aligned windows of lockout_minutes:
    // the steps below (about 2 minutes of test clock) must share one, so a
    // window about to end is skipped. (The whole test moves the clock by less
    // than an hour: the hourly prune of the counters must not run meanwhile.)
    const now = await shift(0);
    if (1800 - (now % 1800) < 300) await shift(1800 - (now % 1800) + 1);
    const GENERIC = '用户名或密码错误';
    const LOCKED = /连续登录失败次数过多，账号已被锁定 30 分钟/;
    for (let i = 0; i < 4; i++) {
      const r = await loginRaw(srv.base, 'lock_me', `bad-password-${i}`);
      assertError(r, 401, 'login_failed');
      assert.equal(r.json.error.message, GENERIC);
    }
    // The fifth failure locks the account, and the client that made the
    // five is told so; a name that does not exist gets the very same answer
    // after five failures (the message follows the client's own attempts,
    // never the account's state: no enumeration).
    const fifth = await loginRaw(srv.base, 'lock_me', 'bad-password-4');
    assertError(fifth, 401, 'login_failed');
    assert.match(fifth.json.error.message, LOCKED);
    await nextMinute(); // the per-address limit (10 failures a minute) is another matter
    const ghost = [];
    for (let i = 0; i < 5; i++) ghost.push(await loginRaw(srv.base, 'no_such_person', `bad-password-${i}`));
    assert.equal(ghost[3].json.error.message, GENERIC);
    assert.equal(ghost[4].json.error.message, fifth.json.error.message);
    // Even the right password is refused while locked, with the same answer.
    const right = await loginRaw(srv.base, 'lock_me', TEST_PASSWORD);
    assertError(right, 401, 'login_failed');
    assert.match(right.json.error.message, LOCKED);
    await shift(28 * 60); // 29 minutes after the lock
    assertError(await loginRaw(srv.base, 'lock_me', TEST_PASSWORD), 401, 'login_failed');
    await shift(2 * 60);
    const ok = await loginRaw(srv.base, 'lock_me', TEST_PASSWORD);
    assert.equal(ok.status, 200, show(ok));
    // A success starts this client's count again: one more failure is generic.
    assert.equal((await loginRaw(srv.base, 'lock_me', 'bad-password-5')).json.error.message, GENERIC);
  }));
  it('rate-limits failed logins per address (429 after 10 a minute)', clocked(async () => {
    await nextMinute();
    for (let i = 0; i < 10; i++) assertError(await loginRaw(srv.base, `ghost${i}`, 'whatever-pw'), 401, 'login_failed');
    const r = await loginRaw(srv.base, 'tester', TEST_PASSWORD);
    assertError(r, 429, 'rate_limited');
    assert.ok(r.headers['retry-after']);
    await nextMinute();
    assert.equal((await loginRaw(srv.base, 'tester', TEST_PASSWORD)).status, 200);
  }));
});

describe('sessions', () => {
  it('cookie sessions need the CSRF header on writes (missing or wrong: 403 csrf)', async () => {
    const c = await srv.login('tester', TEST_PASSWORD);
    const bare = makeApi(srv.base, { cookie: c.cookie });
    assert.equal((await bare('GET', CASES)).status, 200, 'reads need no CSRF token');
    assertError(await bare('POST', CASES, validCase()), 403, 'csrf');
    assertError(await bare('POST', CASES, validCase(), { headers: { 'X-CSRF-Token': 'f'.repeat(64) } }), 403, 'csrf');
    const ok = await c.api('POST', CASES, validCase({ title: '带令牌' }));
    assert.equal(ok.status, 201, show(ok));
  });
  it('bearer session tokens need no CSRF header', async () => {
    const b = await srv.login('tester', TEST_PASSWORD, { mode: 'bearer' });
    assert.equal((await b.api('POST', CASES, validCase({ title: '持票' }))).status, 201);
  });
  it('logout revokes the session', async () => {
    const c = await srv.login('tester', TEST_PASSWORD);
    const r = await c.api('POST', '/api/v1/auth/logout');
    assert.equal(r.status, 204, show(r));
    assert.match(r.headers['set-cookie'], /Max-Age=0/);
    assertError(await c.api('GET', CASES), 401, 'unauthenticated');
  });
  it('idle timeout (30 min) and absolute timeout (12 h)', clocked(async () => {
    const c = await srv.login('tester', TEST_PASSWORD, { mode: 'bearer' });
    await shift(29 * 60);
    assert.equal((await c.api('GET', '/api/v1/auth/me')).status, 200, 'active within 30 minutes');
    await shift(29 * 60);
    assert.equal((await c.api('GET', '/api/v1/auth/me')).status, 200, 'activity moved the idle timer');
    await shift(31 * 60);
    assertError(await c.api('GET', '/api/v1/auth/me'), 401, 'unauthenticated');

    const d = await srv.login('tester', TEST_PASSWORD, { mode: 'bearer' });
    for (let i = 0; i < 24; i++) {
      await shift(29 * 60); // 11 h 36 min in all, active every 29 minutes
      assert.equal((await d.api('GET', '/api/v1/auth/me')).status, 200, `step ${i}`);
    }
    await shift(25 * 60);
    assertError(await d.api('GET', '/api/v1/auth/me'), 401, 'unauthenticated');
  }));
  it('a password change ends the other sessions, keeps this one', async () => {
    srv.addUser('changer', { roles: 'leader', scope: '120101' });
    const a = await srv.login('changer', TEST_PASSWORD);
    const b = await srv.login('changer', TEST_PASSWORD);
    const pw2 = 'Another-Pa55-Word-Z';
    const r = await a.api('POST', '/api/v1/auth/password', { old_password: TEST_PASSWORD, new_password: pw2 });
    assert.equal(r.status, 200, show(r));
    assert.equal((await a.api('GET', '/api/v1/auth/me')).status, 200);
    assertError(await b.api('GET', '/api/v1/auth/me'), 401);
    // Policy: wrong old password, a common password, too short.
    assertError(await a.api('POST', '/api/v1/auth/password', { old_password: 'nope-nope', new_password: 'Fresh-Pa55-1' }), 422, 'validation_failed', { field: 'old_password' });
    assertError(await a.api('POST', '/api/v1/auth/password', { old_password: pw2, new_password: 'password123' }), 422, 'validation_failed', { field: 'new_password' });
    assertError(await a.api('POST', '/api/v1/auth/password', { old_password: pw2, new_password: 'short' }), 422, 'validation_failed', { field: 'new_password' });
  });
  it('must-change-password sessions may only change the password, log out, or ask who they are', async () => {
    srv.addUser('newbie', { roles: 'leader', scope: '120101', mustChange: true });
    const c = await srv.login('newbie', TEST_PASSWORD);
    assert.equal(c.user.must_change_password, true);
    assertError(await c.api('GET', CASES), 403, 'must_change_password');
    assert.equal((await c.api('GET', '/api/v1/auth/me')).status, 200);
    const r = await c.api('POST', '/api/v1/auth/password', { old_password: TEST_PASSWORD, new_password: 'Fresh-Pa55-Word-9' });
    assert.equal(r.status, 200, show(r));
    assert.equal((await c.api('GET', CASES)).status, 200);
  });
  it('an administrator revokes sessions, and disabling an account ends them', clocked(async () => {
    srv.addUser('victim', { roles: 'leader', scope: '120101' });
    const v = await srv.login('victim', TEST_PASSWORD);
    const list = await sys.api('GET', '/api/v1/users?username=victim');
    assert.equal(list.status, 200, show(list));
    const row = list.json.items[0];
    const r = await sys.api('POST', `/api/v1/users/${row.id}/actions/revoke_sessions`, {});
    assert.equal(r.status, 200, show(r));
    assertError(await v.api('GET', '/api/v1/auth/me'), 401);
    const v2 = await srv.login('victim', TEST_PASSWORD);
    const p = await sys.api('PATCH', `/api/v1/users/${row.id}`, { version: row.version, status: 'disabled' });
    assert.equal(p.status, 200, show(p));
    assertError(await v2.api('GET', '/api/v1/auth/me'), 401);
    await nextMinute();
    assertError(await loginRaw(srv.base, 'victim', TEST_PASSWORD), 401, 'login_failed');
  }));
  it('never exposes password hashes or TOTP secrets through the users entity', async () => {
    const r = await sys.api('GET', '/api/v1/users?size=100');
    assert.equal(r.status, 200);
    assert.doesNotMatch(r.text, /argon2|pwhash|totp_secret/);
  });
});

describe('partner tokens', () => {
  let token;
  before(async () => {
    const c = await sec.api('POST', '/api/v1/api_tokens', {
      name: '法院接口', scopes: ['sample_cases.read'], entities: ['sample_cases'], scope_division: '120101',
    });
    assert.equal(c.status, 201, show(c));
    const i = await sec.api('POST', `/api/v1/api_tokens/${c.json.id}/actions/issue`, {});
    assert.equal(i.status, 200, show(i));
    token = i.json.token;
    assert.match(token, /^mzp_[0-9a-f]{64}$/);
  });
  it('reads within its scopes and division', async () => {
    await srv.api('POST', CASES, validCase({ title: '和平区案件', division: '120101001001' }));
    await srv.api('POST', CASES, validCase({ title: '河西区案件', division: '120103001001' }));
    const p = makeApi(srv.base, { token });
    const r = await p('GET', `${CASES}?size=500`);
    assert.equal(r.status, 200, show(r));
    assert.ok(r.json.items.length > 0);
    assert.ok(r.json.items.every((x) => x.division.startsWith('120101')), 'only 和平区 rows');
  });
  it('is refused outside its scopes and allow-list', async () => {
    const p = makeApi(srv.base, { token });
    assertError(await p('POST', CASES, validCase()), 403, 'forbidden');
    assertError(await p('GET', '/api/v1/sample_notes'), 403, 'forbidden');
    assertError(await p('GET', '/api/v1/users'), 403, 'forbidden');
  });
  it('a token may not carry system permissions', async () => {
    const r = await sec.api('POST', '/api/v1/api_tokens', { name: '越权', scopes: ['users.read'], scope_division: '120000' });
    assertError(r, 422, 'validation_failed');
  });
});

describe('TOTP', () => {
  it('enrols, then is required at login', clocked(async () => {
    let r = await sys.api('PATCH', '/api/v1/auth/config', { totp_required: 1 });
    assert.equal(r.status, 200, show(r));
    srv.addUser('approver', { roles: 'district_officer', scope: '120101' });
    const c = await srv.login('approver', TEST_PASSWORD);
    assert.equal(c.user.totp_required, true);
    assertError(await c.api('GET', CASES), 403, 'totp_enrolment_required');
    const e = await c.api('POST', '/api/v1/auth/totp/enrol', {});
    assert.equal(e.status, 200, show(e));
    assert.match(e.json.uri, /^otpauth:\/\/totp\/minzheng:approver\?secret=[A-Z2-7]+&issuer=minzheng/);
    assertError(await c.api('POST', '/api/v1/auth/totp/verify', { code: '000000' === totpCode(e.json.secret) ? '111111' : '000000' }), 422);
    const v = await c.api('POST', '/api/v1/auth/totp/verify', { code: totpCode(e.json.secret) });
    assert.equal(v.status, 200, show(v));
    assert.equal((await c.api('GET', CASES)).status, 200);

    await nextMinute();
    assertError(await loginRaw(srv.base, 'approver', TEST_PASSWORD), 401, 'totp_required');
    assertError(await loginRaw(srv.base, 'approver', TEST_PASSWORD, { totp: '12345' }), 401, 'login_failed');
    const now = await shift(60); // a fresh step: the enrolment code may not be replayed
    const ok = await loginRaw(srv.base, 'approver', TEST_PASSWORD, { totp: totpCode(e.json.secret, now) });
    assert.equal(ok.status, 200, show(ok));
    // The system administrator is now held at the enrolment gate too.
    assertError(await sys.api('GET', '/api/v1/users'), 403, 'totp_enrolment_required');
    const se = await sys.api('POST', '/api/v1/auth/totp/enrol', {});
    assert.equal(se.status, 200, show(se));
    assert.equal((await sys.api('POST', '/api/v1/auth/totp/verify', { code: totpCode(se.json.secret, now) })).status, 200);
    r = await sys.api('PATCH', '/api/v1/auth/config', { totp_required: 0 });
    assert.equal(r.status, 200, show(r));
  }));
});

describe('三员分立', () => {
  it('the administrators were created by init and had to change their passwords', () => {
    for (const c of [sys, sec, aud]) assert.equal(c.user.must_change_password, false);
  });
  it('no administrator reads or writes business data', async () => {
    for (const c of [sys, sec, aud]) {
      assertError(await c.api('GET', CASES), 403, 'forbidden');
      assertError(await c.api('POST', CASES, validCase()), 403, 'forbidden');
      assertError(await c.api('GET', `${CASES}/export?format=csv`), 403, 'forbidden');
    }
  });
  it('the system administrator manages accounts but not roles or the audit log', async () => {
    assert.equal((await sys.api('GET', '/api/v1/users')).status, 200);
    assertError(await sys.api('POST', '/api/v1/roles', { name: 'x_role', zh: '某角色', permissions: ['*.read'] }), 403, 'forbidden');
    assertError(await sys.api('POST', '/api/v1/users/1/actions/assign_roles', { roles: ['leader'] }), 403, 'forbidden');
    assertError(await sys.api('GET', '/api/v1/audit'), [403, 404]);
  });
  it('the security administrator manages roles but not accounts or the audit log', async () => {
    const r = await sec.api('POST', '/api/v1/roles', { name: 'reader_role', zh: '只读', permissions: ['sample_cases.read'] });
    assert.equal(r.status, 201, show(r));
    assertError(await sec.api('POST', '/api/v1/users', { username: 'made_by_sec', name: '某人', scope_division: '120101' }), 403, 'forbidden');
    assertError(await sec.api('PATCH', '/api/v1/auth/config', { lockout_threshold: 3 }), 403, 'forbidden');
    assertError(await sec.api('GET', '/api/v1/audit'), [403, 404]);
    // Business roles never get system permissions; built-in roles are fixed.
    assertError(await sec.api('POST', '/api/v1/roles', { name: 'sneaky', zh: '越权', permissions: ['users.*'] }), 422, 'validation_failed');
    const builtin = await sec.api('GET', '/api/v1/roles?name=city_officer');
    const b = builtin.json.items[0];
    assertError(await sec.api('PATCH', `/api/v1/roles/${b.id}`, { version: b.version, permissions: ['*'] }), 403, 'forbidden');
  });
  it('the audit administrator does neither', async () => {
    assertError(await aud.api('GET', '/api/v1/users'), 403, 'forbidden');
    assertError(await aud.api('GET', '/api/v1/roles'), 403, 'forbidden');
    assertError(await aud.api('GET', '/api/v1/auth/config'), 403, 'forbidden');
  });
  it('no account holds two 三员 roles, or one with a business role', async () => {
    srv.addUser('combo', { roles: '', scope: '120000' });
    const u = (await sec.api('GET', '/api/v1/users?username=combo')).json.items[0];
    assertError(await sec.api('POST', `/api/v1/users/${u.id}/actions/assign_roles`, { roles: ['sysadmin', 'auditadmin'] }), 422, 'separation_of_duties');
    assertError(await sec.api('POST', `/api/v1/users/${u.id}/actions/assign_roles`, { roles: ['secadmin', 'city_officer'] }), 422, 'separation_of_duties');
    const ok = await sec.api('POST', `/api/v1/users/${u.id}/actions/assign_roles`, { roles: ['leader'] });
    assert.equal(ok.status, 200, show(ok));
    assert.deepEqual(ok.json.roles, ['leader']);
    // And the CLI refuses it too.
    assert.throws(() => srv.addUser('combo2', { roles: 'sysadmin,leader' }));
  });
  it('the system administrator cannot take over another administrator by a password reset', async () => {
    const u = (await sys.api('GET', '/api/v1/users?username=secadmin')).json.items[0];
    assertError(await sys.api('POST', `/api/v1/users/${u.id}/actions/reset_password`, {}), 403, 'forbidden');
  });
});

describe('data scope', () => {
  it('a community worker sees only its community; other rows are 404', async () => {
    srv.addUser('cw_user', { roles: 'community_worker', scope: '120101001001' });
    const cw = await srv.login('cw_user', TEST_PASSWORD, { mode: 'bearer' });
    const mine = await srv.api('POST', CASES, validCase({ title: '本社区', division: '120101001001' }));
    const other = await srv.api('POST', CASES, validCase({ title: '别的社区', division: '120103001001' }));
    assert.equal(mine.status, 201, show(mine));
    assert.equal(other.status, 201, show(other));
    assert.equal((await cw.api('GET', `${CASES}/${mine.json.id}`)).status, 200);
    const r = await cw.api('GET', `${CASES}/${other.json.id}`);
    assertError(r, 404, 'not_found');
    assert.doesNotMatch(r.text, /别的社区|120103/);
    const l = await cw.api('GET', `${CASES}?size=500`);
    assert.ok(l.json.items.every((x) => x.division === '120101001001'));
    assert.doesNotMatch(l.text, /120103/);
  });
});
