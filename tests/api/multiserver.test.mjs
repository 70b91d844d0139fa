// multiserver.test.mjs - several stateless servers on one database (issue 8).
//
// Three servers (A, B, C) serve one database: on SQLite one file shared by
// three processes, on PostgreSQL (scripts/pg-test.sh, make test) one
// database. Nothing is kept per server that another would need:
//   - a session made on one server works on the others, and a logout on one
//     ends it everywhere (mz_auth_sessions);
//   - failed logins against one account count together wherever they arrive,
//     and the lockout holds on every server (mz_auth_credentials);
//   - the failed-login limit per address is one limit for the cluster
//     (mz_rate_counters), and a policy change made on the database reaches
//     running servers within 5 s (src/auth/accounts.c);
//   - behind a reverse proxy the client address comes from the proxy's
//     X-Real-IP, only when the peer is a trusted proxy (serve --trusted-proxy;
//     A and B trust 127.0.0.1, C does not);
//   - a scheduled job runs once per interval, not once per server
//     (mz_job_leases): with MZ_TEST_JOB_INTERVAL=2 the audit anchor job runs
//     every 2 s, each run appending one line to the anchor file the three
//     servers share (MZ_AUDIT_ANCHOR), and GET /api/v1/test/jobs (test mode
//     only) shows the lease's run count.
// Reference: docs/deployment.md, src/engine/jobs.c, src/engine/ratelimit.c.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, makeApi, loginRaw, assertError, show, runCli, isPgSpec, sleep, TEST_PASSWORD, makeIdNumber,
  ADMIN_PASSWORD,
} from './lib.mjs';

const JOB_INTERVAL_S = 2;
const ANCHOR_JOB = 'audit/audit-anchor';
let a, b, c, anchorDir, anchorFile;
const servers = () => [a, b, c];

/** Move the auth clock of every server by the same amount (they must agree). */
let moved = 0;
async function shiftAll(seconds) {
  for (const s of servers()) {
    const r = await s.anon('POST', '/api/v1/test/clock', { offset_seconds: seconds });
    assert.equal(r.status, 200, show(r));
  }
  moved += seconds;
}

/**
 * Start a fresh rate-limit minute with most of it ahead: move every clock to
 * second 1 of the next minute, so a test's failures and its check cannot fall
 * on both sides of a minute boundary (the counts start again each minute).
 */
async function freshMinute() {
  const r = await a.anon('POST', '/api/v1/test/clock', { offset_seconds: 0 });
  assert.equal(r.status, 200, show(r));
  await shiftAll(60 - (r.json.now % 60) + 1);
}

/** Lines of the shared anchor file (0 before the first run). */
const anchorLines = () =>
  fs.existsSync(anchorFile) ? fs.readFileSync(anchorFile, 'utf8').split('\n').filter(Boolean).length : 0;

/** The anchor job's lease row as server s sees it. */
async function anchorLease(s) {
  const r = await s.anon('GET', '/api/v1/test/jobs');
  assert.equal(r.status, 200, show(r));
  const lease = r.json.items.find((j) => j.name === ANCHOR_JOB);
  assert.ok(lease, `no lease ${ANCHOR_JOB} in ${r.text}`);
  return lease;
}

before(async () => {
  anchorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-anchor-'));
  anchorFile = path.join(anchorDir, 'anchors.jsonl');
  const env = { MZ_TEST_JOB_INTERVAL: String(JOB_INTERVAL_S), MZ_AUDIT_ANCHOR: anchorFile };
  const proxy = ['--trusted-proxy', '127.0.0.1,::1'];
  a = await startServer({ env, args: proxy });
  b = await startServer({ env, args: proxy, db: a.dbPath });
  c = await startServer({ env, db: a.dbPath });
});
after(async () => {
  if (moved) await shiftAll(-moved).catch(() => {});
  // A last: it owns (and removes) the temporary directory.
  for (const s of [c, b, a]) await s?.stop();
  fs.rmSync(anchorDir, { recursive: true, force: true });
});

describe('several servers on one database', () => {
  it('serve one database: a row written through one is read through the others', async () => {
    for (const s of servers()) assert.equal((await s.anon('GET', '/api/v1/health')).json.status, 'ok');
    const created = await a.api('POST', '/api/v1/sample_cases', {
      title: '多服务器案件', division: '120101001001', apply_date: '2026-01-05',
    });
    assert.equal(created.status, 201, show(created));
    for (const s of [b, c]) {
      const r = await s.api('GET', `/api/v1/sample_cases/${created.json.id}`);
      assert.equal(r.status, 200, show(r));
      assert.equal(r.json.title, '多服务器案件');
    }
  });

  it('a list total is never stale after a write through another server (totals cached per thread)', async () => {
    // A street of its own: its pages in id order, as every server must list them.
    const street = '120102005';
    const mine = [];
    for (let i = 0; i < 6; i++) {
      const r = await a.api('POST', '/api/v1/sample_cases', {
        title: `计数缓存${i}`, division: `${street}00${1 + (i % 2)}`, apply_date: '2026-01-07',
      });
      assert.equal(r.status, 201, show(r));
      mine.push(r.json.id);
    }
    const expectList = async (want, what) => {
      const ids = [...want].sort((x, y) => y - x);
      // Several requests per server: each server thread keeps its own totals.
      for (const s of servers()) {
        for (let k = 0; k < 4; k++) {
          const r = await s.api('GET', `/api/v1/sample_cases?division=${street}&size=4`);
          assert.equal(r.status, 200, show(r));
          assert.equal(r.json.total, ids.length, `${what}: total on ${s.base}`);
          assert.equal(r.json.total_capped, false);
          assert.deepEqual(r.json.items.map((x) => x.id), ids.slice(0, 4), `${what}: first page on ${s.base}`);
          const p2 = await s.api('GET', `/api/v1/sample_cases?division=${street}&size=4&page=2`);
          assert.deepEqual(p2.json.items.map((x) => x.id), ids.slice(4, 8), `${what}: second page on ${s.base}`);
        }
      }
    };
    await expectList(mine, 'counted');
    // A create through B: A and C, whose threads hold the old total, count again.
    const added = await b.api('POST', '/api/v1/sample_cases', {
      title: '计数缓存新增', division: `${street}003`, apply_date: '2026-01-07',
    });
    assert.equal(added.status, 201, show(added));
    mine.push(added.json.id);
    await expectList(mine, 'after a create through B');
    // A row moved out of the street through C.
    const cur = (await c.api('GET', `/api/v1/sample_cases/${mine[0]}`)).json;
    const moved = await c.api('PATCH', `/api/v1/sample_cases/${mine[0]}`, { version: cur.version, division: '120103001001' });
    assert.equal(moved.status, 200, show(moved));
    await expectList(mine.slice(1), 'after an update through C');
  });

  it('a session made on one server works on the others; a logout on one ends it on all', async () => {
    const login = await loginRaw(a.base, 'tester', TEST_PASSWORD);
    assert.equal(login.status, 200, show(login));
    const cookie = /mz_session=([^;]+)/.exec(login.headers['set-cookie'])[0];
    const csrf = login.json.csrf_token;
    const onB = makeApi(b.base, { cookie, csrf });
    const onC = makeApi(c.base, { token: login.json.token });
    const me = await onB('GET', '/api/v1/auth/me');
    assert.equal(me.status, 200, show(me));
    assert.equal(me.json.user.username, 'tester');
    assert.equal((await onC('GET', '/api/v1/auth/me')).json.user.username, 'tester');
    // A write on B with the session (cookie + the CSRF token A handed out).
    const w = await onB('POST', '/api/v1/sample_cases', { title: '跨服务器写入', division: '120101001001', apply_date: '2026-01-06' });
    assert.equal(w.status, 201, show(w));
    assert.equal((await a.api('GET', `/api/v1/sample_cases/${w.json.id}`)).json.title, '跨服务器写入');
    // Logout on B: A and C no longer know the session.
    assert.equal((await onB('POST', '/api/v1/auth/logout')).status, 204);
    assertError(await makeApi(a.base, { cookie, csrf })('GET', '/api/v1/auth/me'), 401, 'unauthenticated');
    assertError(await onC('GET', '/api/v1/auth/me'), 401, 'unauthenticated');
  });

  it('a revoked session or a disabled account is refused on the very next request on every server', async () => {
    // Nothing about a session or its user is kept between requests: each
    // request reads both (one read snapshot, src/core/server.c), so a change
    // committed through one server holds on the next request to any other.
    const NEW_PW = 'Changed-Adm1n-Pw-多服';
    let sys = await loginRaw(a.base, 'sysadmin', NEW_PW);
    if (sys.status !== 200) {
      const first = await a.login('sysadmin', ADMIN_PASSWORD);
      const c = await first.api('POST', '/api/v1/auth/password', { old_password: ADMIN_PASSWORD, new_password: NEW_PW });
      assert.equal(c.status, 200, show(c));
    }
    sys = await a.login('sysadmin', NEW_PW);
    a.addUser('ms_victim', { roles: 'leader', scope: '120101' });
    const row = (await sys.api('GET', '/api/v1/users?username=ms_victim')).json.items[0];
    // Sessions made on B and C, each used (and so warm) before the change.
    const onB = await b.login('ms_victim', TEST_PASSWORD, { mode: 'bearer' });
    const onC = await c.login('ms_victim', TEST_PASSWORD, { mode: 'bearer' });
    for (let k = 0; k < 4; k++) {
      assert.equal((await onB.api('GET', '/api/v1/sample_cases?size=1')).status, 200);
      assert.equal((await onC.api('GET', '/api/v1/auth/me')).status, 200);
    }
    // Revoked on A: refused on B and C at once.
    const r = await sys.api('POST', `/api/v1/users/${row.id}/actions/revoke_sessions`, {});
    assert.equal(r.status, 200, show(r));
    assertError(await onB.api('GET', '/api/v1/sample_cases?size=1'), 401, 'unauthenticated');
    assertError(await onC.api('GET', '/api/v1/auth/me'), 401, 'unauthenticated');
    // Disabled on A: a fresh session on B is refused on its next request.
    const again = await b.login('ms_victim', TEST_PASSWORD, { mode: 'bearer' });
    assert.equal((await again.api('GET', '/api/v1/sample_cases?size=1')).status, 200);
    const cur = (await sys.api('GET', `/api/v1/users/${row.id}`)).json;
    const p = await sys.api('PATCH', `/api/v1/users/${row.id}`, { version: cur.version, status: 'disabled' });
    assert.equal(p.status, 200, show(p));
    assertError(await again.api('GET', '/api/v1/sample_cases?size=1'), 401, 'unauthenticated');
  });

  it('a session a worker keeps between requests is read again after any write: role, its permissions, scope', async () => {
    // A worker thread keeps the sessions it read with the database's data
    // version and uses them only while nothing at all was written
    // (src/auth/session.c; SQLite only, PostgreSQL reads every time), so each
    // change below — one write through A — holds on B's very next request.
    const PW = 'Changed-Adm1n-Pw-多服';
    const adminOnA = async (name) => {
      if ((await loginRaw(a.base, name, PW)).status !== 200) {
        const first = await a.login(name, ADMIN_PASSWORD);
        const c = await first.api('POST', '/api/v1/auth/password', { old_password: ADMIN_PASSWORD, new_password: PW });
        assert.equal(c.status, 200, show(c));
      }
      return a.login(name, PW);
    };
    const sec = await adminOnA('secadmin');
    const sys = await adminOnA('sysadmin');
    const role = await sec.api('POST', '/api/v1/roles', { name: 'ms_reader', zh: '多服只读', permissions: ['sample_cases.read'] });
    assert.equal(role.status, 201, show(role));
    a.addUser('ms_cached', { roles: 'ms_reader', scope: '120101' });
    const user = (await sys.api('GET', '/api/v1/users?username=ms_cached')).json.items[0];
    const onB = await b.login('ms_cached', TEST_PASSWORD, { mode: 'bearer' });
    const list = () => onB.api('GET', '/api/v1/sample_cases?size=1');
    // Used several times (each worker that serves it keeps it) before each change.
    const warm = async (status) => {
      for (let k = 0; k < 6; k++) assert.equal((await list()).status, status);
    };
    await warm(200);
    // The stored role loses the permission: refused at once.
    let cur = (await sec.api('GET', `/api/v1/roles/${role.json.id}`)).json;
    let p = await sec.api('PATCH', `/api/v1/roles/${role.json.id}`, { version: cur.version, permissions: ['persons.read'] });
    assert.equal(p.status, 200, show(p));
    assertError(await list(), 403, 'forbidden');
    await warm(403);
    // ...and gets it back: allowed at once.
    cur = (await sec.api('GET', `/api/v1/roles/${role.json.id}`)).json;
    p = await sec.api('PATCH', `/api/v1/roles/${role.json.id}`, { version: cur.version, permissions: ['sample_cases.read'] });
    assert.equal(p.status, 200, show(p));
    await warm(200);
    // Other roles for the account: B's next request has them.
    const r = await sec.api('POST', `/api/v1/users/${user.id}/actions/assign_roles`, { roles: ['leader'] });
    assert.equal(r.status, 200, show(r));
    let me = await onB.api('GET', '/api/v1/auth/me');
    assert.equal(me.status, 200, show(me));
    assert.deepEqual(me.json.user.roles, ['leader']);
    // A narrower scope: B's next request has it.
    for (let k = 0; k < 4; k++) assert.equal((await onB.api('GET', '/api/v1/auth/me')).json.user.scope, '120101000000');
    const u = (await sys.api('GET', `/api/v1/users/${user.id}`)).json;
    p = await sys.api('PATCH', `/api/v1/users/${user.id}`, { version: u.version, scope_division: '120101001' });
    assert.equal(p.status, 200, show(p));
    me = await onB.api('GET', '/api/v1/auth/me');
    assert.equal(me.json.user.scope, '120101001000', show(me));
  });

  it("another server's change of the division registry shows in person replies within 5 s", async () => {
    // Each worker keeps the division names of person replies; after 5 s it
    // checks a fingerprint of division_codes and division_changes (rows,
    // highest id, versions, latest update) and drops them when it moved
    // (src/registry/divisions.c): an insert and a deletion through A.
    const p = await a.api('POST', '/api/v1/persons', { id_number: makeIdNumber(), name: '区划缓存', hukou_division: '120106001001' });
    assert.equal(p.status, 201, show(p));
    // 16 reads at once: several connections, so every worker of B answers.
    const reads = async () => {
      const rs = await Promise.all(Array.from({ length: 16 }, () => b.api('GET', `/api/v1/persons/${p.json.id}`)));
      for (const r of rs) assert.equal(r.status, 200, show(r));
      return rs.map((r) => r.json.hukou_division_current ?? null);
    };
    assert.deepEqual(await reads(), Array(16).fill(null), 'no successor before the change');
    const ch = await a.api('POST', '/api/v1/division_changes', {
      kind: 'rename', old_code: '120106001001', new_code: '120106001002', effective_on: '2026-01-01', document: '多服文号',
    });
    assert.equal(ch.status, 201, show(ch));
    await sleep(5300);
    assert.deepEqual(await reads(), Array(16).fill('120106001002'));
    const del = await a.api('DELETE', `/api/v1/division_changes/${ch.json.id}`);
    assert.ok(del.status === 200 || del.status === 204, show(del));
    await sleep(5300);
    assert.deepEqual(await reads(), Array(16).fill(null), 'the deleted change no longer applies');
  });

  it('failed logins count together across servers; the lockout holds on every server', async () => {
    a.addUser('multi_lock', { roles: 'leader', scope: '120101' });
    await freshMinute();
    // Five failures (the default threshold), spread over the three servers.
    const order = [a, b, c, a, b];
    for (let i = 0; i < order.length; i++) {
      assertError(await loginRaw(order[i].base, 'multi_lock', `wrong-password-${i}`), 401, 'login_failed');
    }
    // Locked: the right password is refused everywhere, with the same answer.
    for (const s of servers()) assertError(await loginRaw(s.base, 'multi_lock', TEST_PASSWORD), 401, 'login_failed');
    // 31 minutes later (the lockout is 30) it opens again, on any server.
    await shiftAll(31 * 60);
    const ok = await loginRaw(c.base, 'multi_lock', TEST_PASSWORD);
    assert.equal(ok.status, 200, show(ok));
    assert.equal(ok.json.user.username, 'multi_lock');
  });

  it('one failed-login limit per address for the cluster; a policy change reaches running servers', async () => {
    // Set through the database while the servers run (as PATCH /auth/config on
    // any server would): each server reloads its copy within 5 s.
    const dbOpt = isPgSpec(a.dbPath) ? '--pg' : '--db';
    const set = runCli(['auth-config', dbOpt, a.dbPath, '--set', 'login_failures_per_minute=4']);
    assert.equal(set.status, 0, set.stderr);
    await sleep(5500);
    await freshMinute();
    // Four failures from this address, at most two on any one server...
    for (const s of [a, b, c, a]) assertError(await loginRaw(s.base, 'nobody_here', 'whatever-pw'), 401, 'login_failed');
    // ...reach the limit on every server, even one that saw a single failure.
    for (const s of [c, b]) {
      const r = await loginRaw(s.base, 'tester', TEST_PASSWORD);
      assertError(r, 429, 'rate_limited');
      assert.equal(r.headers['retry-after'], '60');
    }
    await freshMinute();
    const ok = await loginRaw(b.base, 'tester', TEST_PASSWORD);
    assert.equal(ok.status, 200, show(ok));
    // (The limit stays at 4 for the next test.)
  });

  it('behind a trusted proxy the limit counts per client address (X-Real-IP), never per proxy', async () => {
    await freshMinute();
    const via = (ip) => ({ headers: { 'X-Real-IP': ip } });
    const fail = (s, ip) => makeApi(s.base)('POST', '/api/v1/auth/login',
      { username: 'nobody_here', password: 'whatever-pw' }, via(ip));
    // Four failures (the limit the previous test set) of one client, through both proxied servers.
    for (let i = 0; i < 4; i++) assertError(await fail(i % 2 ? a : b, '203.0.113.7'), 401, 'login_failed');
    assertError(await fail(a, '203.0.113.7'), 429, 'rate_limited');
    assertError(await fail(b, '203.0.113.7'), 429, 'rate_limited');
    // Another client behind the same proxy is not affected.
    const other = await makeApi(b.base)('POST', '/api/v1/auth/login', { username: 'tester', password: TEST_PASSWORD }, via('2001:db8::8'));
    assert.equal(other.status, 200, show(other));
    // C trusts no proxy: the header is ignored and the peer (127.0.0.1, no
    // failures this minute) is the client.
    const direct = await makeApi(c.base)('POST', '/api/v1/auth/login', { username: 'tester', password: TEST_PASSWORD }, via('203.0.113.7'));
    assert.equal(direct.status, 200, show(direct));
    // A header that is no address leaves the peer address.
    const junk = await makeApi(a.base)('POST', '/api/v1/auth/login', { username: 'tester', password: TEST_PASSWORD }, via('203.0.113.7, 10.0.0.1'));
    assert.equal(junk.status, 200, show(junk));
  });

  it('a scheduled job runs once per interval with three servers, not once per server', async () => {
    // Wait for a finished run, then watch a window of several intervals.
    const settled = async () => {
      for (let i = 0; i < 50; i++) {
        const l = await anchorLease(a);
        if (l.runs > 0 && l.finished_at !== null && anchorLines() === l.runs) return l;
        await sleep(100);
      }
      const l = await anchorLease(a);
      assert.fail(`the anchor job did not settle: lease ${JSON.stringify(l)}, ${anchorLines()} anchor lines`);
    };
    const first = await settled();
    const t0 = Date.now();
    await sleep(3 * JOB_INTERVAL_S * 1000 + 500);
    const last = await settled();
    const elapsed = (Date.now() - t0) / 1000;
    const runs = last.runs - first.runs;
    // Three uncoordinated servers would run it about 3 times per interval.
    const most = Math.floor(elapsed / JOB_INTERVAL_S) + 1;
    assert.ok(runs >= 2 && runs <= most, `${runs} runs in ${elapsed.toFixed(1)} s (interval ${JOB_INTERVAL_S} s, at most ${most})`);
    // Each run appended exactly one anchor line; every server sees the same lease.
    assert.equal(anchorLines(), last.runs);
    for (const s of [b, c]) {
      const l = await anchorLease(s);
      assert.ok(l.runs >= last.runs, `${JSON.stringify(l)} vs ${JSON.stringify(last)}`);
    }
    assert.match(last.holder, /:\d+$/);
    assert.equal(last.last_ok, 1);
    assert.ok(last.due_at > last.started_at && last.due_at - last.started_at === JOB_INTERVAL_S, JSON.stringify(last));
  });
});
