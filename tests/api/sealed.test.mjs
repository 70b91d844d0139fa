// sealed.test.mjs - case members' incomes and the benefit trace sealed at rest
// (src/modules/assistance/sealed.c): a raw read of the database (the SQLite
// file with its WAL, or the PostgreSQL rows) holds neither an income nor the
// trace sentences that repeat it; staff who may see personal data get the
// incomes back in the members list and the same benefit as the quote; a
// leader (no view_sensitive) gets them masked; a change of another field
// keeps the incomes; the payroll pays the same amount and its trace copy
// opens; a database written before (incomes in clear) is sealed by init;
// `minzheng rekey` re-seals and everything still reads. Reference:
// docs/assistance.md ("Sealed at rest").
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startServer, show, makeIdNumber, makeBankCard, runCli, legacyPayrollRun, isPgSpec, SQLITE_ONLY, TEST_PASSWORD } from './lib.mjs';

let srv;
const CASES = '/api/v1/assistance_cases';
const INCOME = 123457; // 1234.57 yuan: must not appear in clear anywhere
const users = {};
let D;

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}
const act = (id, action, body = { comment: '测试' }) => srv.api('POST', `${CASES}/${id}/actions/${action}`, body);

/** Everything the database holds, as text: the SQLite file and its WAL, or
 *  the PostgreSQL tables the figures could reach. */
function rawDatabase() {
  if (isPgSpec(srv.dbPath)) {
    const psql = process.env.MZ_TEST_PG_PSQL || 'psql';
    let out = '';
    for (const t of ['assistance_cases', 'assistance_payments', 'mz_history', 'mz_audit']) {
      const r = spawnSync(psql, [srv.dbPath, '-qAtc', `SELECT t::text FROM ${t} t`], { encoding: 'utf8' });
      out += r.stdout;
    }
    return out;
  }
  let out = '';
  for (const f of [srv.dbPath, `${srv.dbPath}-wal`]) if (fs.existsSync(f)) out += fs.readFileSync(f).toString('latin1');
  return out;
}

function assertNoFigures(what) {
  const raw = rawDatabase();
  assert.ok(raw.length > 1000, 'the raw read found the data');
  assert.ok(!raw.includes(String(INCOME)), `${what}: the income in fen is not stored in clear`);
  assert.ok(!raw.includes('1234.57'), `${what}: the income in yuan (trace) is not stored in clear`);
}

async function restart(today) {
  await srv.stop({ keepDir: true });
  srv = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: today } });
  users.leader = (await srv.login('leader', TEST_PASSWORD, { mode: 'bearer' })).api;
}

let head, child, created;
before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const streets = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items;
  D = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${streets[0].code}`))).items[0].code;
  srv.addUser('leader', { roles: 'leader', scope: '120101' });
  users.leader = (await srv.login('leader', TEST_PASSWORD, { mode: 'bearer' })).api;
  head = await ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: '1970-03-03' }), name: '封存甲', hukou_division: D }), 201);
  child = await ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: '2015-04-04' }), name: '封存乙', hukou_division: D }), 201);
});
after(async () => {
  await srv?.stop();
});

const members = () => [
  { person_id: head.id, relation: '本人', monthly_income_fen: INCOME, authorisation_scan: 'scan-1' },
  { person_id: child.id, relation: '子女', monthly_income_fen: 0, categories: ['minor'] },
];

describe('member incomes sealed at rest', () => {
  it('a case computes from the incomes, replies with them, and stores neither in clear', async () => {
    const qt = await ok(await srv.api('POST', '/api/v1/assistance/quote', {
      program: 'dibao', division: D, month: '2025-10',
      members: [{ monthly_income_fen: INCOME }, { monthly_income_fen: 0, categories: ['minor'] }],
    }));
    assert.equal(qt.monthly_benefit_fen, 104500 * 2 - INCOME + 10450);
    created = await ok(await srv.api('POST', CASES, {
      program: 'dibao', applicant_person_id: head.id, division: D, start_month: '2025-10', bank_account: makeBankCard(), members: members(),
    }), 201);
    assert.equal(created.monthly_benefit_fen, qt.monthly_benefit_fen);
    assert.deepEqual(created.members.map((m) => m.monthly_income_fen), [INCOME, 0]);
    assert.equal(created.member_figures, undefined, 'the sealed figures are not shown as such');
    assert.ok(created.benefit_trace.some((s) => s.zh && s.zh.includes('1234.57')), 'the trace names the income');
    const got = await ok(await srv.api('GET', `${CASES}/${created.id}`));
    assert.deepEqual(got.members.map((m) => m.monthly_income_fen), [INCOME, 0]);
    assert.deepEqual(got.members.map((m) => m.relation), ['本人', '子女']);
    assertNoFigures('after create');
  });

  it('a leader (no view_sensitive) sees the members with the incomes masked and no trace', async () => {
    const got = await ok(await users.leader('GET', `${CASES}/${created.id}`));
    assert.deepEqual(got.members.map((m) => m.monthly_income_fen), ['***', '***']);
    assert.deepEqual(got.members.map((m) => m.person_id), [head.id, child.id]);
    assert.equal(got.benefit_trace, '***');
    assert.equal(got.monthly_benefit_fen, created.monthly_benefit_fen, 'the amount itself is not personal');
    const list = await ok(await users.leader('GET', `${CASES}?id=${created.id}`));
    assert.equal(list.items[0].members[0].monthly_income_fen, '***');
  });

  it('a change of another field keeps the incomes and the amount; a change of income recomputes', async () => {
    const r = await ok(await srv.api('PATCH', `${CASES}/${created.id}`, { version: created.version, reason: '因病致贫' }));
    assert.equal(r.monthly_benefit_fen, created.monthly_benefit_fen);
    assert.deepEqual(r.members.map((m) => m.monthly_income_fen), [INCOME, 0]);
    const changed = members();
    changed[0].monthly_income_fen = INCOME + 1000;
    const r2 = await ok(await srv.api('PATCH', `${CASES}/${created.id}`, { version: r.version, members: changed }));
    assert.equal(r2.monthly_benefit_fen, created.monthly_benefit_fen - 1000);
    const r3 = await ok(await srv.api('PATCH', `${CASES}/${created.id}`, { version: r2.version, members: members() }));
    assert.equal(r3.monthly_benefit_fen, created.monthly_benefit_fen);
    // A members list sent without an income is still refused.
    const bad = await srv.api('PATCH', `${CASES}/${created.id}`, { version: r3.version, members: [{ person_id: head.id }] });
    assert.equal(bad.status, 422, show(bad));
    created = r3;
    assertNoFigures('after updates');
  });

  it('the workflow and the payroll pay the same amount; the payment trace opens for staff only', async () => {
    for (const a of ['accept', 'investigate', 'verify', 'deliberate', 'review', 'publicise']) await ok(await act(created.id, a));
    await restart('2025-10-08');
    await ok(await act(created.id, 'approve'));
    const paying = await ok(await act(created.id, 'pay'));
    assert.equal(paying.monthly_benefit_fen, created.monthly_benefit_fen);
    assert.deepEqual(paying.members.map((m) => m.monthly_income_fen), [INCOME, 0]);
    const run = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-10', division: '120101' }), 201);
    assert.equal(run.households, 1);
    assert.equal(run.amount_fen, created.monthly_benefit_fen);
    const pays = await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${run.run_id}`));
    assert.equal(pays.items[0].amount_fen, created.monthly_benefit_fen);
    assert.ok(Array.isArray(pays.items[0].trace) && pays.items[0].trace.some((s) => (s.zh || '').includes('1234.57')));
    const masked = await ok(await users.leader('GET', `/api/v1/assistance_payments?run_id=${run.run_id}`));
    assert.equal(masked.items[0].trace, '***');
    assertNoFigures('after the payroll');
  });
});

describe('existing databases and rekey', () => {
  it('init seals the incomes and traces a database written before holds in clear', { skip: SQLITE_ONLY }, async () => {
    await srv.stop({ keepDir: true });
    // A month paid per row, as runs were written before the switch to
    // packed runs (its row holds the trace copied sealed).
    legacyPayrollRun(srv.dbPath, { program: 'dibao', month: '2025-11', district: '120101' });
    // Put the case back as the previous version stored it.
    const plainMembers = JSON.stringify(members());
    const trace = JSON.stringify([{ step: 'member', zh: '成员 1 月收入 1234.57 元' }]);
    const sql = `UPDATE assistance_cases SET members = '${plainMembers}', member_figures = NULL, member_figures_bidx = NULL,`
      + ` benefit_trace = '${trace}' WHERE id = ${created.id};`
      + ` UPDATE assistance_payments SET trace = '${trace}';`
      + " DELETE FROM mz_migrations WHERE module = 'assistance' AND number = 11;";
    const r = spawnSync('sqlite3', [srv.dbPath, sql], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const cp = spawnSync('sqlite3', [srv.dbPath, 'PRAGMA wal_checkpoint(TRUNCATE); VACUUM;'], { encoding: 'utf8' });
    assert.equal(cp.status, 0, cp.stderr);
    assert.ok(rawDatabase().includes(String(INCOME)), 'the simulated old database holds the income in clear');
    srv = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: '2025-10-08' } });
    const got = await ok(await srv.api('GET', `${CASES}/${created.id}`));
    assert.deepEqual(got.members.map((m) => m.monthly_income_fen), [INCOME, 0]);
    assert.equal(got.benefit_trace[0].zh, '成员 1 月收入 1234.57 元');
    const pays = await ok(await srv.api('GET', `/api/v1/assistance_payments?case_id=${created.id}&month=2025-11`));
    assert.equal(pays.total, 1);
    assert.equal(pays.items[0].trace[0].zh, '成员 1 月收入 1234.57 元');
    // The packed October names its sealed trace copy: the trace as paid.
    const oct = await ok(await srv.api('GET', `/api/v1/assistance_payments?case_id=${created.id}&month=2025-10`));
    assert.equal(oct.total, 1);
    assert.ok(oct.items[0].trace.some((s) => (s.zh || '').includes('1234.57')));
    await srv.stop({ keepDir: true });
    spawnSync('sqlite3', [srv.dbPath, 'PRAGMA wal_checkpoint(TRUNCATE); VACUUM;']);
    assertNoFigures('after the migration');
    srv = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: '2025-10-08' } });
  });

  it('rekey re-seals the incomes, the trace and the payment copies; results are unchanged', { skip: SQLITE_ONLY }, async () => {
    const before = await ok(await srv.api('GET', `${CASES}/${created.id}`));
    await srv.stop({ keepDir: true });
    const r = runCli(['rekey', '--db', srv.dbPath]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.to_version, out.from_version + 1);
    const raw = spawnSync('sqlite3', [srv.dbPath, `SELECT member_figures, benefit_trace FROM assistance_cases WHERE id = ${created.id}; SELECT trace, account_sealed FROM assistance_payments;`], { encoding: 'utf8' });
    for (const v of raw.stdout.trim().split(/[|\n]/)) assert.ok(v.startsWith(`v${out.to_version}.`), `re-sealed under the new key: ${v.slice(0, 12)}`);
    srv = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: '2025-10-08' } });
    const after = await ok(await srv.api('GET', `${CASES}/${created.id}`));
    assert.deepEqual(after.members, before.members);
    assert.deepEqual(after.benefit_trace, before.benefit_trace);
    assert.equal(after.monthly_benefit_fen, before.monthly_benefit_fen);
    const pays = await ok(await srv.api('GET', `/api/v1/assistance_payments?case_id=${created.id}`));
    assert.ok(Array.isArray(pays.items[0].trace));
  });
});
