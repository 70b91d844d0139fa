// assistance.test.mjs - social assistance (src/modules/assistance/):
// the quote (POST /api/v1/assistance/quote) over the seeded Tianjin standards,
// a case through the whole workflow by the right roles in the right scopes
// (and refusals by the wrong ones), the 7-day 公示 (MZ_TEST_TODAY), 双向公示
// for a 人户分离 household, payroll idempotency (API 409 and CLI exit 3 with
// the same summary, no new payments), a dead payee not paid, and the bank
// file's control totals. Reference: docs/assistance.md.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, assertFieldErrors, show, makeIdNumber, makeBankCard, runCli, parseCsv, TEST_PASSWORD } from './lib.mjs';

let srv;
const D = { city: '120000' };
const users = {};
const quote = (body, api = srv.api) => api('POST', '/api/v1/assistance/quote', body);
const q = (over = {}) => ({ program: 'dibao', division: '120101', month: '2025-10', members: [{ monthly_income_fen: 0 }], ...over });

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}

/** Log every role in again (after a restart). */
async function loginAll() {
  for (const name of Object.keys(users)) users[name] = (await srv.login(name, TEST_PASSWORD, { mode: 'bearer' })).api;
}

before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const streets = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items;
  D.s1 = streets[0].code;
  D.s2 = streets[1].code;
  const c1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${D.s1}`))).items;
  const c2 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${D.s2}`))).items;
  D.a1 = c1[0].code;
  D.b1 = c2[0].code;
  const roles = {
    comm: ['community_worker', D.a1],
    street: ['street_officer', D.s1],
    other_street: ['street_officer', D.s2],
    district: ['district_officer', '120101'],
    hexi: ['district_officer', '120103'],
  };
  for (const [name, [role, scope]] of Object.entries(roles)) {
    srv.addUser(name, { roles: role, scope });
    users[name] = null;
  }
  await loginAll();
});
after(async () => {
  await srv?.stop();
});

describe('configuration is written by the city level only (declared write permission)', () => {
  it('a street officer may not create, a district officer may not change a standard; nothing written', async () => {
    const list = await ok(await srv.api('GET', '/api/v1/assistance_standards?size=1'));
    const std = list.items[0];
    const before = list.total;
    const e1 = assertError(await users.street('POST', '/api/v1/assistance_standards', {
      program: 'dibao', division: '120000', zone: 'all', valid_from: '2031-01-01', amount_fen: 1, basis: 'per_person', source: '测试',
    }), 403, 'forbidden');
    assert.match(e1.message, /只有市级业务人员可以维护/);
    assertError(await users.district('PATCH', `/api/v1/assistance_standards/${std.id}`, { version: std.version, amount_fen: 1 }), 403, 'forbidden');
    assertError(await users.district('PATCH', '/api/v1/verify_rules/1', { version: 1, percent: 1 }), [403, 404], 'forbidden');
    const after = await ok(await srv.api('GET', `/api/v1/assistance_standards/${std.id}`));
    assert.equal(after.amount_fen, std.amount_fen);
    assert.equal((await ok(await srv.api('GET', '/api/v1/assistance_standards?size=1'))).total, before);
  });
});

describe('quote', () => {
  it('zero income gets the full standard per member (2025-09-01: 1045 yuan)', async () => {
    const r = await ok(await quote(q({ members: [{ monthly_income_fen: 0 }, { monthly_income_fen: 0 }, { monthly_income_fen: 0 }] })));
    assert.equal(r.standard_fen, 104500);
    assert.equal(r.members, 3);
    assert.equal(r.household_income_fen, 0);
    assert.equal(r.monthly_benefit_fen, 313500);
    assert.ok(r.trace.some((t) => t.step === 'standard' && t.valid_from === '2025-09-01' && t.amount_fen === 104500));
  });

  it('income at or above the standard gives 0', async () => {
    const r = await ok(await quote(q({ members: [{ monthly_income_fen: 104500 }] })));
    assert.equal(r.monthly_benefit_fen, 0);
    const r2 = await ok(await quote(q({ members: [{ monthly_income_fen: 300000, categories: ['elderly'] }] })));
    assert.equal(r2.monthly_benefit_fen, 0, 'no increments when not eligible');
  });

  it('per-capita income is rounded down; the gap uses the exact household income', async () => {
    const r = await ok(await quote(q({ members: [{ monthly_income_fen: 50 }, { monthly_income_fen: 50 }, { monthly_income_fen: 1 }] })));
    assert.equal(r.household_income_fen, 101);
    assert.equal(r.per_capita_income_fen, 33);
    assert.equal(r.monthly_benefit_fen, 313500 - 101);
  });

  it('分类施保 increments are configured percentages of the standard', async () => {
    const id = makeIdNumber({ birth: '1950-01-01' });
    const r = await ok(await quote(q({ members: [{ id_number: id, monthly_income_fen: 0, categories: ['elderly', 'severe_disability'] }] })));
    assert.equal(r.increments_fen, 10450 + 20900);
    assert.equal(r.monthly_benefit_fen, 104500 + 31350);
    const member = r.trace.find((t) => t.step === 'member_income');
    assert.ok(member.label.includes('*'), 'the ID number is masked in the trace');
  });

  it('urban and rural standards before unification; zone needed then', async () => {
    const u = await ok(await quote(q({ month: '2017-01', zone: 'urban' })));
    const r = await ok(await quote(q({ month: '2017-01', zone: 'rural' })));
    assert.equal(u.standard_fen, 78000);
    assert.equal(r.standard_fen, 70000);
    assertError(await quote(q({ month: '2017-01' })), 422, 'zone_required', { field: 'zone' });
    const old = await ok(await quote(q({ month: '2010-06', zone: 'rural' })));
    assert.equal(old.standard_fen, 23000);
  });

  it('a standard changing mid-year: the month before and the month after', async () => {
    assert.equal((await ok(await quote(q({ month: '2025-08' })))).standard_fen, 98000);
    assert.equal((await ok(await quote(q({ month: '2025-09' })))).standard_fen, 104500);
    assert.equal((await ok(await quote(q({ month: '2018-03', zone: 'urban' })))).standard_fen, 78000);
    assert.equal((await ok(await quote(q({ month: '2018-04' })))).standard_fen, 92000);
  });

  it('the most specific division wins, from its valid_from on; a minimum applies', async () => {
    await ok(await srv.api('POST', '/api/v1/assistance_standards', {
      program: 'dibao', division: '120103', zone: 'all', valid_from: '2025-10-01', amount_fen: 110000, minimum_fen: 5000, source: '测试', note: '区级标准（测试）',
    }), 201);
    const hexi = await ok(await quote(q({ division: '120103', members: [{ monthly_income_fen: 109900 }] })));
    assert.equal(hexi.standard_fen, 110000);
    assert.equal(hexi.monthly_benefit_fen, 5000, 'gap 100 fen raised to the minimum');
    assert.ok(hexi.trace.some((t) => t.step === 'minimum' && t.applied === true));
    assert.equal((await ok(await quote(q({ division: '120103', month: '2025-09' })))).standard_fen, 104500);
    assert.equal((await ok(await quote(q({ division: '120101' })))).standard_fen, 104500);
  });

  it('bad input is 422 with every field error; no standard is 422 no_standard', async () => {
    assertFieldErrors(await quote({ program: 'x', division: '99', month: '2025-13', members: [{ monthly_income_fen: -1, categories: ['nope'] }], extra: 1 }), [
      ['program', 'not_in_dictionary'], ['division', 'invalid_division'], ['month', 'pattern'],
      ['members[0].monthly_income_fen', 'too_small'], ['members[0].categories', 'not_in_dictionary'], ['extra', 'unknown_field'],
    ]);
    assertFieldErrors(await quote(q({ members: [] })), [['members', 'required']]);
    const e = assertError(await quote(q({ month: '2008-01', zone: 'urban' })), 422, 'no_standard');
    assert.match(e.message, /该地区该月份没有低保标准/);
  });

  it('only the city level maintains standards', async () => {
    const r = await users.comm('POST', '/api/v1/assistance_standards', { program: 'dibao', division: D.a1, valid_from: '2026-01-01', amount_fen: 1 });
    assert.equal(r.status, 403, show(r));
  });
});

/** A person via the registry (as the city tester). */
async function person(name, { birth, hukou, residence, deceased } = {}) {
  const body = { id_number: makeIdNumber({ birth }), name, hukou_division: hukou };
  if (residence) body.residence_division = residence;
  if (deceased) body.deceased_on = deceased;
  return ok(await srv.api('POST', '/api/v1/persons', body), 201);
}

const CASES = '/api/v1/assistance_cases';
const act = (api, id, action, body = {}) => api('POST', `${CASES}/${id}/actions/${action}`, body);

describe('a case from application to a paid month', () => {
  let p1, p2, p3, case1, case3;

  it('a community worker applies; the benefit is computed with its trace', async () => {
    p1 = await person('张测试', { birth: '1970-05-05', hukou: D.a1, residence: D.b1 });
    p2 = await person('张小测', { birth: '2015-03-03', hukou: D.a1 });
    p3 = await person('李测试', { birth: '1950-02-02', hukou: D.a1 });
    case1 = await ok(await users.comm('POST', CASES, {
      program: 'dibao', applicant_person_id: p1.id, division: D.a1, start_month: '2025-10',
      bank_name: '测试银行', bank_account: makeBankCard(), reason: '因病致贫',
      members: [{ person_id: p1.id, relation: '02', monthly_income_fen: 20000, authorisation_scan: 'scan-001' },
        { person_id: p2.id, relation: '20', monthly_income_fen: 0, categories: ['minor'] }],
    }), 201);
    assert.equal(case1.state, 'draft');
    assert.equal(case1.monthly_benefit_fen, 104500 * 2 - 20000 + 10450);
    assert.equal(case1.hukou_division.slice(0, 12), D.a1.padEnd(12, '0'));
    assert.ok(Array.isArray(case1.benefit_trace) && case1.benefit_trace.length > 3);
    case3 = await ok(await users.comm('POST', CASES, {
      program: 'dibao', applicant_person_id: p3.id, division: D.a1, start_month: '2025-10', bank_account: makeBankCard(),
      members: [{ person_id: p3.id, monthly_income_fen: 50000, categories: ['elderly'] }],
    }), 201);
  });

  it('refuses the wrong role and the wrong area', async () => {
    assert.equal((await act(users.comm, case1.id, 'accept')).status, 403, 'a community worker cannot accept');
    assert.equal((await act(users.other_street, case1.id, 'accept')).status, 404, 'another street sees nothing');
    assert.equal((await act(users.hexi, case1.id, 'reject', { comment: '不符合' })).status, 404, 'another district sees nothing');
    assert.equal((await act(users.street, case1.id, 'reject', { comment: '不符合' })).status, 403, 'refusal is a district decision');
  });

  it('经济状况核对 needs every adult\'s authorisation', async () => {
    await ok(await act(users.street, case3.id, 'accept'));
    await ok(await act(users.comm, case3.id, 'investigate'));
    const r = await act(users.comm, case3.id, 'verify', { comment: '核对通过' });
    const err = assertFieldErrors(r, [['members[0].authorisation_scan', 'authorisation_missing']]);
    assert.ok(err);
    const cur = await ok(await users.comm('GET', `${CASES}/${case3.id}`));
    const members = cur.members.map((m) => ({ ...m, authorisation_scan: 'scan-003' }));
    await ok(await users.comm('PATCH', `${CASES}/${case3.id}`, { version: cur.version, members }));
    await ok(await act(users.comm, case3.id, 'verify', { comment: '核对通过（人工）' }));
  });

  it('the right roles take it to 公示, with notices in both communities (双向公示)', async () => {
    await ok(await act(users.street, case1.id, 'accept'));
    await ok(await act(users.comm, case1.id, 'investigate'));
    const v = await ok(await act(users.comm, case1.id, 'verify', { comment: '核对：收入属实' }));
    // The staff's note, then the verification engine's check of the household (docs/verify.md).
    assert.match(v.verification_result, /^核对：收入属实\n系统核对：符合（核对编号 \d+）$/);
    const report = await ok(await srv.api('GET', `/api/v1/verify_requests/${v.verification_request_id}`));
    assert.equal(report.case_id, case1.id);
    assert.equal(report.origin, 'case');
    assert.equal(report.outcome, 'pass');
    const auths = await ok(await srv.api('GET', '/api/v1/verify_authorisations?size=100'));
    assert.ok(auths.items.some((a) => a.scan === 'scan-001'), 'the case\'s scan is recorded as the authorisation');
    await ok(await act(users.comm, case1.id, 'deliberate'));
    assert.equal((await act(users.comm, case1.id, 'review')).status, 403, '审核 is the street\'s');
    await ok(await act(users.street, case1.id, 'review'));
    const p = await ok(await act(users.street, case1.id, 'publicise'));
    assert.equal(p.state, 'publicised');
    assert.equal(p.notice_start, '2025-10-01');
    const notices = (await ok(await srv.api('GET', `/api/v1/assistance_notices?case_id=${case1.id}`))).items;
    assert.equal(notices.length, 2, show({ status: 0, json: notices }));
    const kinds = notices.map((n) => `${n.kind}:${n.division}`).sort();
    assert.deepEqual(kinds, [`hukou:${D.a1.padEnd(12, '0')}`, `residence:${D.b1.padEnd(12, '0')}`]);
    assert.equal(notices[0].amount_fen, case1.monthly_benefit_fen);
    for (const a of ['deliberate', 'review', 'publicise']) await ok(await act(a === 'deliberate' ? users.comm : users.street, case3.id, a));
  });

  it('an objection pauses the notice; resuming restarts it', async () => {
    const o = await ok(await act(users.comm, case1.id, 'object', { comment: '邻居反映有收入未申报' }));
    assert.equal(o.state, 'objected');
    assertError(await act(users.district, case1.id, 'approve'), 409, 'illegal_transition');
    const r = await ok(await act(users.street, case1.id, 'resume', { comment: '核实无误' }));
    assert.equal(r.state, 'publicised');
  });

  it('审批 before 7 days of 公示 is refused', async () => {
    assert.equal((await act(users.street, case1.id, 'approve')).status, 403, 'approval is the district\'s');
    assertError(await act(users.district, case1.id, 'approve'), 422, 'publicity_too_short');
  });

  it('after 7 days the district approves and payment starts', async () => {
    await srv.stop({ keepDir: true });
    srv = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: '2025-10-08' } });
    await loginAll();
    for (const c of [case1, case3]) {
      const a = await ok(await act(users.district, c.id, 'approve'));
      assert.equal(a.state, 'approved');
      assert.equal((await ok(await act(users.district, c.id, 'pay'))).state, 'paying');
    }
    // The payee of case 3 died before October: no payment for October.
    const cur = await ok(await srv.api('GET', `/api/v1/persons/${p3.id}`));
    await ok(await srv.api('PATCH', `/api/v1/persons/${p3.id}`, { version: cur.version, deceased_on: '2025-09-20' }));
  });

  let run;
  it('payroll pays each paying case once; a dead payee is skipped with a note', async () => {
    assert.equal((await users.street('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-10', division: '120101' })).status, 403);
    run = await ok(await users.district('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-10', division: '120101' }), 201);
    assert.equal(run.households, 1);
    assert.equal(run.persons, 2);
    assert.equal(run.amount_fen, case1.monthly_benefit_fen);
    assert.equal(run.skipped, 1);
    assert.equal(run.status, 'draft');
    const pays = (await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${run.run_id}`))).items;
    assert.equal(pays.length, 2);
    const dead = pays.find((p) => p.case_id === case3.id);
    assert.equal(dead.status, 'skipped');
    assert.equal(dead.amount_fen, 0);
    assert.match(dead.note, /死亡/);
    // The ledger per case: the paid case owes its October benefit, the
    // skipped one nothing (the run's debits are one row per community).
    const bal = async (id) => ok(await srv.api('GET', `/api/v1/assistance/ledger/balance?case_id=${id}`));
    assert.deepEqual(await bal(case1.id), { case_id: case1.id, debit_fen: case1.monthly_benefit_fen, credit_fen: 0, outstanding_fen: case1.monthly_benefit_fen });
    assert.deepEqual(await bal(case3.id), { case_id: case3.id, debit_fen: 0, credit_fen: 0, outstanding_fen: 0 });
    const ledger = (await ok(await srv.api('GET', `/api/v1/assistance_ledger?run_id=${run.run_id}`))).items;
    assert.equal(ledger.reduce((s, l) => s + (l.entry === 'debit' ? l.amount_fen : 0), 0), run.amount_fen);
  });

  it('running the month again is refused with the same summary (API 409, CLI exit 3)', async () => {
    const again = await users.district('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-10', division: '120101' });
    const err = assertError(again, 409, 'payroll_exists');
    assert.deepEqual(err.run, run);
    const inner = await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-10', division: D.s1 });
    assert.deepEqual(assertError(inner, 409, 'payroll_exists').run, run, 'an overlapping division is the same run');
    const cli = runCli(['payroll', '--db', srv.dbPath, '--program', 'dibao', '--month', '2025-10', '--division', '120101']);
    assert.equal(cli.status, 3, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), run);
    const pays = await ok(await srv.api('GET', `/api/v1/assistance_payments?month=2025-10`));
    assert.equal(pays.total, 2, 'no new payments');
    const fresh = runCli(['payroll', '--db', srv.dbPath, '--program', 'dibao', '--month', '2025-11']);
    assert.equal(fresh.status, 0, fresh.stderr);
    const s = JSON.parse(fresh.stdout);
    assert.deepEqual(Object.keys(s).slice(0, 8), ['run_id', 'program', 'month', 'division', 'households', 'persons', 'amount_fen', 'status']);
    assert.equal(s.households, 1);
    const twice = runCli(['payroll', '--db', srv.dbPath, '--program', 'dibao', '--month', '2025-11']);
    assert.equal(twice.status, 3);
    assert.deepEqual(JSON.parse(twice.stdout), s);
    assert.equal(runCli(['payroll', '--db', srv.dbPath, '--program', 'dibao', '--month', '2025-1']).status, 2);
  });

  it('the bank file carries the decrypted accounts and control totals, after approval', async () => {
    const url = `/api/v1/assistance/payroll/${run.run_id}/bank-file`;
    assertError(await users.district('GET', url), 409, 'not_approved');
    await ok(await users.district('POST', `/api/v1/assistance_payroll_runs/${run.run_id}/actions/approve`));
    const f = await users.district('GET', url);
    assert.equal(f.status, 200, show(f));
    const rows = parseCsv(f.text.replace(/^\uFEFF/, ''));
    const body = rows.slice(1).filter((r) => r[0] !== 'TOTAL' && r.length > 1);
    const total = rows.find((r) => r[0] === 'TOTAL');
    assert.equal(body.length, 1);
    assert.match(body[0][4], /^\d{16}$/, 'account in clear for the bank');
    assert.equal(Number(total[1]), body.length);
    assert.equal(Math.round(Number(total[5]) * 100), run.amount_fen);
    assert.equal(Math.round(Number(body[0][5]) * 100), case1.monthly_benefit_fen);
  });
});
