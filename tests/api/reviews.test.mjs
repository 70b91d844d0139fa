// reviews.test.mjs - periodic reviews of cases being paid (定期复核,
// src/modules/assistance/reviews.c): the next review is scheduled when payment
// starts from the configured period of the case's category and zone
// (variable incomes: monthly in cities, quarterly in villages), recorded by
// the recheck action, rescheduled when the category changes; the due list
// shows the caller's cases due soon and overdue; the cross-checks remind.
// Reference: docs/assistance.md.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, show, makeIdNumber, makeBankCard, runCli, TEST_PASSWORD } from './lib.mjs';

let srv;
const D = {};
const U = {};
const CASES = '/api/v1/assistance_cases';
const act = (id, action, body = {}, api = srv.api) => api('POST', `${CASES}/${id}/actions/${action}`, body);

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}

async function restart(today) {
  await srv.stop({ keepDir: true });
  srv = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: today } });
  U.comm = (await srv.login('comm', TEST_PASSWORD, { mode: 'bearer' })).api;
  U.other = (await srv.login('other', TEST_PASSWORD, { mode: 'bearer' })).api;
}

const C = {};
before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const streets = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items;
  D.a1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${streets[0].code}`))).items[0].code;
  D.b1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${streets[1].code}`))).items[0].code;
  srv.addUser('comm', { roles: 'community_worker', scope: D.a1 });
  srv.addUser('other', { roles: 'community_worker', scope: D.b1 });
  const spec = { urban: ['urban', 'variable'], rural: ['rural', 'variable'], plain: [undefined, undefined] };
  let n = 0;
  for (const [key, [zone, category]] of Object.entries(spec)) {
    const p = await ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: `196${n++}-01-01` }), name: `复核${key}`, hukou_division: D.a1 }), 201);
    const body = {
      program: 'dibao', applicant_person_id: p.id, division: D.a1, start_month: '2025-10', bank_account: makeBankCard(),
      members: [{ person_id: p.id, monthly_income_fen: 0, authorisation_scan: 'scan' }],
    };
    if (zone) body.zone = zone;
    if (category) body.review_category = category;
    const c = await ok(await srv.api('POST', CASES, body), 201);
    for (const a of ['accept', 'investigate', 'verify', 'deliberate', 'review', 'publicise']) await ok(await act(c.id, a, { comment: '测试' }));
    C[key] = c;
  }
  // A family of two, for the death of a member who is not the payee.
  const head = await ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: '1955-05-05' }), name: '家庭甲', hukou_division: D.a1 }), 201);
  const spouse = await ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: '1956-06-06' }), name: '家庭乙', hukou_division: D.a1 }), 201);
  C.family = await ok(await srv.api('POST', CASES, {
    program: 'dibao', applicant_person_id: head.id, division: D.a1, start_month: '2025-10', bank_account: makeBankCard(),
    members: [{ person_id: head.id, monthly_income_fen: 0, authorisation_scan: 'scan' }, { person_id: spouse.id, monthly_income_fen: 0, authorisation_scan: 'scan' }],
  }), 201);
  C.family.spouse = spouse;
  for (const a of ['accept', 'investigate', 'verify', 'deliberate', 'review', 'publicise']) await ok(await act(C.family.id, a, { comment: '测试' }));
  await restart('2025-10-08');
  for (const c of Object.values(C)) {
    await ok(await act(c.id, 'approve'));
    await ok(await act(c.id, 'pay'));
  }
});
after(async () => {
  await srv?.stop();
});

describe('public notices (公示)', () => {
  it('anyone sees the notices in their window, with only what a notice may show', async () => {
    const r = await ok(await srv.anon('GET', `/api/v1/public/notices?division=${D.a1}`));
    assert.equal(r.total, 4);
    const names = r.items.map((x) => x.applicant_name).sort();
    assert.deepEqual(names, ['复核plain', '复核rural', '复核urban', '家庭甲'].sort());
    const fam = r.items.find((x) => x.applicant_name === '家庭甲');
    assert.equal(fam.household_size, 2);
    assert.equal(fam.start_date, '2025-10-01');
    assert.equal(fam.end_date, '2025-10-08');
    assert.ok(fam.community.length > 0);
    assert.deepEqual(Object.keys(fam).sort(), ['amount_fen', 'applicant_name', 'community', 'division', 'end_date', 'household_size', 'id', 'kind', 'program', 'start_date', 'start_date'].filter((v, i, a) => a.indexOf(v) === i).sort());
    assert.doesNotMatch(JSON.stringify(r), /\d{17}[\dX]/, 'no ID number anywhere');
    assert.equal((await ok(await srv.anon('GET', '/api/v1/public/notices?division=120101'))).total, 4);
    assert.equal((await ok(await srv.anon('GET', `/api/v1/public/notices?division=${D.b1}`))).total, 0);
    assert.equal((await ok(await srv.anon('GET', `/api/v1/public/notices?division=${D.a1}&size=2&page=2`))).items.length, 2);
    assertError(await srv.anon('GET', '/api/v1/public/notices'), 400, 'bad_filter');
    assertError(await srv.anon('GET', '/api/v1/public/notices?division=12'), 400, 'bad_filter');
    assertError(await srv.anon('GET', `/api/v1/public/notices?division=${D.a1}&size=51`), 400, 'bad_size');
  });
});

describe('periodic reviews', () => {
  it('payment schedules the first review from the category and zone', async () => {
    const get = async (c) => ok(await srv.api('GET', `${CASES}/${c.id}`));
    assert.equal((await get(C.urban)).next_review_on, '2025-11-08', 'variable income, city: monthly');
    assert.equal((await get(C.rural)).next_review_on, '2026-01-08', 'variable income, village: quarterly');
    const plain = await get(C.plain);
    assert.equal(plain.review_category, 'stable');
    assert.equal(plain.next_review_on, '2026-04-08', 'stable: half-yearly');
  });

  it('the due list shows the caller\'s cases due soon, overdue first', async () => {
    const soon = await ok(await U.comm('GET', '/api/v1/assistance/reviews/due?within=31'));
    assert.deepEqual(soon.items.map((x) => x.case_id), [C.urban.id]);
    assert.equal(soon.items[0].days_left, 31);
    assert.equal(soon.overdue, 0);
    assert.equal((await ok(await U.comm('GET', '/api/v1/assistance/reviews/due?within=30'))).total, 0);
    assert.equal((await ok(await U.other('GET', '/api/v1/assistance/reviews/due?within=366'))).total, 0, 'another community sees none');
    assert.equal((await ok(await U.comm('GET', '/api/v1/assistance/reviews/due?within=366'))).total, 4);
    assertError(await U.comm('GET', '/api/v1/assistance/reviews/due?within=-1'), 400, 'bad_request');
    assertError(await U.comm('GET', '/api/v1/assistance/reviews/due?program=nope'), 400, 'bad_request');
  });

  it('overdue reviews are listed and reminded once; recording one schedules the next', async () => {
    await restart('2025-11-10');
    assert.equal((await ok(await srv.anon('GET', `/api/v1/public/notices?division=${D.a1}`))).total, 0, 'an expired 公示 is not public any more');
    const due = await ok(await U.comm('GET', '/api/v1/assistance/reviews/due'));
    assert.equal(due.items[0].case_id, C.urban.id);
    assert.equal(due.items[0].days_left, -2);
    assert.equal(due.overdue, 1);
    await ok(await srv.api('POST', '/api/v1/verify/crosscheck', {}), 201);
    const warn = (await ok(await srv.api('GET', '/api/v1/verify_warnings?kind=review_due'))).items;
    assert.equal(warn.length, 1);
    assert.equal(warn[0].case_id, C.urban.id);
    assert.match(warn[0].detail, /已于 2025-11-08/);
    assert.equal((await ok(await srv.api('POST', '/api/v1/verify/crosscheck', {}), 201)).raised, 0);
    assertError(await act(C.urban.id, 'recheck', {}, U.comm), 422, 'validation_failed', { field: 'comment' });
    const r = await ok(await act(C.urban.id, 'recheck', { comment: '入户核查：收入无变化' }, U.comm));
    assert.equal(r.state, 'paying');
    assert.equal(r.last_review_on, '2025-11-10');
    assert.equal(r.next_review_on, '2025-12-10');
    assert.equal((await act(C.urban.id, 'recheck', { comment: 'x' }, U.other)).status, 404);
  });

  it('a new category reschedules from the last review', async () => {
    const cur = await ok(await srv.api('GET', `${CASES}/${C.urban.id}`));
    const r = await ok(await U.comm('PATCH', `${CASES}/${C.urban.id}`, { version: cur.version, review_category: 'fixed' }));
    assert.equal(r.next_review_on, '2026-11-10', 'fixed: yearly from the last review');
    const bad = await U.comm('PATCH', `${CASES}/${C.urban.id}`, { version: r.version, review_category: 'sometimes' });
    assertError(bad, 422, 'validation_failed', { field: 'review_category' });
  });

  it('only the city level maintains the schedules; a district rule wins in its district', async () => {
    assert.equal((await U.comm('POST', '/api/v1/assistance_review_rules', { program: 'dibao', category: 'stable', months: 1, valid_from: '2025-01-01' })).status, 403);
    await ok(await srv.api('POST', '/api/v1/assistance_review_rules', { program: 'dibao', category: 'stable', division: '120101', months: 2, valid_from: '2025-11-01', source: '测试' }), 201);
    const cur = await ok(await srv.api('GET', `${CASES}/${C.plain.id}`));
    const r = await ok(await act(C.plain.id, 'recheck', { comment: '复核' }));
    assert.equal(r.next_review_on, '2026-01-10');
    assert.equal(cur.review_category, 'stable');
  });
});

describe('a member\'s death', () => {
  it('stops the household\'s payment from the next month until the benefit is decided again', async () => {
    const sp = await ok(await srv.api('GET', `/api/v1/persons/${C.family.spouse.id}`));
    await ok(await srv.api('PATCH', `/api/v1/persons/${sp.id}`, { version: sp.version, deceased_on: '2025-11-05' }));
    const nov = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-11', division: '120101' }), 201);
    const novPay = (await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${nov.run_id}&case_id=${C.family.id}`))).items[0];
    assert.equal(novPay.status, 'paid', 'November was still due');
    const dec = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-12', division: '120101' }), 201);
    const decPay = (await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${dec.run_id}&case_id=${C.family.id}`))).items[0];
    assert.equal(decPay.status, 'skipped');
    assert.equal(decPay.amount_fen, 0);
    assert.match(decPay.note, /家庭成员已于 2025-11-05 死亡/);
    const other = (await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${dec.run_id}&case_id=${C.plain.id}`))).items[0];
    assert.equal(other.status, 'paid', 'other households are paid');
  });
});

describe('医疗救助 quote', () => {
  it('applies the group\'s deductible, ratio and annual cap, with a trace', async () => {
    const q = (body) => srv.api('POST', '/api/v1/assistance/medical/quote', { group: 'relapse', division: D.a1, date: '2025-11-01', ...body });
    const r = await ok(await q({ cost_fen: 1000000, deductible_used_fen: 50000 }));
    assert.deepEqual([r.deductible_applied_fen, r.eligible_fen, r.ratio_percent, r.aid_fen], [100000, 900000, 70, 630000]);
    assert.equal(r.trace.length, 4);
    assert.match(r.trace[3].zh, /本次救助 6300\.00 元/);
    const capped = await ok(await q({ group: 'dibao', cost_fen: 1000000, paid_this_year_fen: 4900000 }));
    assert.equal(capped.aid_fen, 100000);
    assertError(await q({ group: 'catastrophic', cost_fen: 1 }), 422, 'no_rule');
    assertError(await q({ group: 'nobody', cost_fen: -1 }), 422, 'validation_failed', { field: 'group' });
    assert.equal((await U.comm('POST', '/api/v1/assistance_medical_rules', { target_group: 'dibao', valid_from: '2025-01-01', deductible_fen: 0, ratio_percent: 100, annual_cap_fen: 1 })).status, 403);
  });
});

describe('特困 quote', () => {
  it('takes the support mode and the members\' care grades', async () => {
    const q = (body) => srv.api('POST', '/api/v1/assistance/quote', { program: 'tekun', division: '120221001001', month: '2025-10', members: [{ monthly_income_fen: 0 }], ...body });
    const home = await ok(await q({ zone: 'rural', support_mode: 'home' }));
    assert.equal(home.standard_fen, 153000);
    assert.equal(home.support_mode, 'home');
    assert.equal((await ok(await q({ zone: 'rural', support_mode: 'institutional' }))).standard_fen, 187000);
    await ok(await srv.api('POST', '/api/v1/assistance_care_standards', { care_grade: 'full', amount_fen: 60000, valid_from: '2025-01-01', source: '测试' }), 201);
    const cared = await ok(await q({ zone: 'rural', support_mode: 'home', members: [{ monthly_income_fen: 0, care_grade: 'full' }] }));
    assert.equal(cared.care_fen, 60000);
    assert.equal(cared.monthly_benefit_fen, 213000);
    assert.ok(cared.trace.some((t) => t.step === 'care' && t.amount_fen === 60000));
    assertError(await q({ support_mode: 'boat' }), 422, 'validation_failed', { field: 'support_mode' });
    assertError(await q({ members: [{ monthly_income_fen: 0, care_grade: 'some' }] }), 422, 'validation_failed', { field: 'members[0].care_grade' });
  });
});

describe('payroll killed mid-run (kill -9)', () => {
  it('leaves no trace at any phase; the rerun pays everyone once', async () => {
    const runs = async () => (await ok(await srv.api('GET', '/api/v1/assistance_payroll_runs?month=2026-01'))).total;
    const paying = (await ok(await srv.api('GET', '/api/v1/assistance_cases?state=paying&size=100'))).items;
    const balances = async () => Promise.all(paying.map(async (c) =>
      ok(await srv.api('GET', `/api/v1/assistance/ledger/balance?case_id=${c.id}`))));
    const before = await balances();
    for (const phase of ['run', 'snapshot', 'reissue', 'ledger', 'totals', 'commit']) {
      const r = runCli(['payroll', '--db', srv.dbPath, '--program', 'dibao', '--month', '2026-01', '--division', '120101'], { env: { MZ_TEST_KILL_AT: phase } });
      assert.equal(r.signal, 'SIGKILL', `${phase}: ${r.stderr}`);
      if (phase !== 'commit') assert.equal(await runs(), 0, `killed at ${phase}: nothing written`);
    }
    // Killed after the commit: the run is whole, and a rerun changes nothing (exit 3).
    assert.equal(await runs(), 1);
    const again = runCli(['payroll', '--db', srv.dbPath, '--program', 'dibao', '--month', '2026-01', '--division', '120101']);
    assert.equal(again.status, 3, again.stderr);
    const run = JSON.parse(again.stdout);
    const pays = (await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${run.run_id}&size=100`))).items;
    assert.equal(pays.length, paying.length, 'one payment per paying case');
    assert.equal(new Set(pays.map((p) => p.case_id)).size, pays.length, 'no case twice');
    // Each case's ledger owes this month's amount once (its paid amount, 0
    // when skipped), whatever the killed attempts did.
    const after = await balances();
    paying.forEach((c, i) => {
      const p = pays.find((x) => x.case_id === c.id);
      const due = p.status === 'paid' ? p.amount_fen : 0;
      assert.equal(after[i].debit_fen - before[i].debit_fen, due, `case ${c.id}: debited once`);
      assert.equal(after[i].credit_fen, before[i].credit_fen, `case ${c.id}: nothing credited`);
    });
    const debits = (await ok(await srv.api('GET', '/api/v1/assistance_ledger?month=2026-01&entry=debit&size=100'))).items;
    assert.equal(debits.reduce((s, d) => s + d.amount_fen, 0), run.amount_fen, 'the debits are the run\'s amount');
  });
});

describe('a change counts from next month', () => {
  it('keeps paying the previous amount for earlier months', async () => {
    const cur = await ok(await srv.api('GET', `${CASES}/${C.rural.id}`));
    const before = cur.monthly_benefit_fen;
    const members = cur.members.map((m) => ({ ...m, monthly_income_fen: 50000 }));
    const r = await ok(await srv.api('PATCH', `${CASES}/${C.rural.id}`, { version: cur.version, members }));
    assert.equal(r.benefit_from, '2025-12', 'today is 2025-11-10: from next month');
    assert.equal(r.previous_benefit_fen, before);
    assert.equal(r.monthly_benefit_fen, before - 50000);
    // October (not yet paid in this community) still gets the previous amount.
    const oct = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-10', division: D.a1 }), 201);
    const octPay = (await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${oct.run_id}&case_id=${C.rural.id}`))).items[0];
    assert.equal(octPay.amount_fen, before);
    const feb = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2026-02', division: D.a1 }), 201);
    const febPay = (await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${feb.run_id}&case_id=${C.rural.id}`))).items[0];
    assert.equal(febPay.amount_fen, before - 50000);
    // A second change the same month keeps the amount paid before the first one.
    const cur2 = await ok(await srv.api('GET', `${CASES}/${C.rural.id}`));
    const r2 = await ok(await srv.api('PATCH', `${CASES}/${C.rural.id}`, { version: cur2.version, members: cur2.members.map((m) => ({ ...m, monthly_income_fen: 60000 })) }));
    assert.equal(r2.previous_benefit_fen, before);
    assert.equal(r2.monthly_benefit_fen, before - 60000);
  });
});
