// temporary.test.mjs - 临时救助 (src/modules/assistance/temporary.c): the aid
// from the configured rules as data (multiples of the 低保 standard per
// person, a cap per household and event, effective-dated), 急难型 and 支出型
// (the documented need bounds the latter), the workflow by the right roles
// with refusals and reasons, decided cases kept as decided, rules
// maintained by the city only, and the one-off payment through the payroll
// (program temporary): paid once, bank file totals, the ledger balancing
// after the bank's return file. Reference: docs/assistance.md (临时救助).
import { describe, it, before, after } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { startServer, assertError, assertFieldErrors, show, makeIdNumber, makeBankCard, parseCsv, TEST_PASSWORD } from './lib.mjs';

let srv;
const TEMP = '/api/v1/assistance_temporary_cases';
const RULES = '/api/v1/assistance_temporary_rules';
const U = {};
let A1, applicant;
const STANDARD = 104500; // 低保 2025-09-01 (seed)

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}
const act = (api, id, action, body = {}) => api('POST', `${TEMP}/${id}/actions/${action}`, body);

before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const streets = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items;
  A1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${streets[0].code}`))).items[0].code;
  const roles = { comm: ['community_worker', A1], street: ['street_officer', streets[0].code], district: ['district_officer', '120101'], hexi: ['district_officer', '120103'] };
  for (const [name, [role, scope]] of Object.entries(roles)) {
    srv.addUser(name, { roles: role, scope });
    U[name] = (await srv.login(name, TEST_PASSWORD, { mode: 'bearer' })).api;
  }
  applicant = await ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: '1975-07-07' }), name: '临时甲', hukou_division: A1 }), 201);
});
after(async () => {
  await srv?.stop();
});

const tc = (over = {}) => ({
  person_id: applicant.id, division: A1, category: 'emergency', reason: '住房失火，生活必需品损毁', occurred_on: '2025-09-20',
  household_size: 3, bank_account: makeBankCard(), ...over,
});

describe('temporary assistance', () => {
  it('急难型: multiples of the 低保 standard per person, capped per household', async () => {
    const c = await ok(await U.comm('POST', TEMP, tc()), 201);
    assert.equal(c.state, 'draft');
    assert.equal(c.standard_fen, STANDARD);
    assert.equal(c.ceiling_fen, STANDARD * 3 * 3, '3 months of the standard x 3 persons');
    assert.equal(c.aid_fen, STANDARD * 9);
    assert.ok(c.aid_trace.some((s) => s.zh.includes('1045.00')));
    const big = await ok(await U.comm('POST', TEMP, tc({ household_size: 10 })), 201);
    assert.equal(big.aid_fen, 3000000, 'the cap of ¥30,000 per household and event');
    assert.ok(big.aid_trace.some((s) => s.zh.includes('已按每户上限')));
    const need = await ok(await U.comm('POST', TEMP, tc({ need_fen: 200000 })), 201);
    assert.equal(need.aid_fen, 200000, 'a documented need below the ceiling bounds the aid');
    for (const x of [big, need]) await ok(await act(U.district, x.id, 'reject', { comment: '测试' }));
  });

  it('支出型 needs the documented need; bad input is refused and changes nothing', async () => {
    const before = (await ok(await srv.api('GET', `${TEMP}?size=1`))).total;
    assertFieldErrors(await U.comm('POST', TEMP, tc({ category: 'expenditure' })), [['need_fen', 'required']]);
    assertFieldErrors(await U.comm('POST', TEMP, tc({ household_size: 0 })), [['household_size', 'too_small']]);
    assertFieldErrors(await U.comm('POST', TEMP, tc({ category: 'other' })), [['category', 'not_in_dictionary']]);
    assertError(await U.comm('POST', TEMP, tc({ occurred_on: '2018-06-01' })), 422, 'no_rule');
    assert.equal((await ok(await srv.api('GET', `${TEMP}?size=1`))).total, before);
    const e = await ok(await U.comm('POST', TEMP, tc({ category: 'expenditure', household_size: 4, need_fen: 1000000 })), 201);
    assert.equal(e.ceiling_fen, STANDARD * 6 * 4);
    assert.equal(e.aid_fen, 1000000);
  });

  it('rules are data: a newer rule applies from its date, and only the city maintains them', async () => {
    assert.equal((await U.district('POST', RULES, { category: 'emergency', valid_from: '2025-10-01', multiple_percent: 400, cap_fen: 3000000 })).status, 403);
    await ok(await srv.api('POST', RULES, { category: 'emergency', valid_from: '2025-10-01', multiple_percent: 400, cap_fen: 3000000, source: '测试' }), 201);
    const older = await ok(await U.comm('POST', TEMP, tc({ household_size: 1, occurred_on: '2025-09-30' })), 201);
    const newer = await ok(await U.comm('POST', TEMP, tc({ household_size: 1, occurred_on: '2025-10-01' })), 201);
    assert.equal(older.aid_fen, STANDARD * 3);
    assert.equal(newer.aid_fen, STANDARD * 4);
    for (const x of [older, newer]) await ok(await act(U.district, x.id, 'reject', { comment: '测试' }));
  });

  it('the workflow by the right roles; decided cases keep their figures; payroll pays once and the ledger balances', async () => {
    const due = (await ok(await srv.api('GET', `${TEMP}?state=draft&size=100`))).items;
    assert.equal(due.length, 2);
    const c = due[0];
    assert.equal((await act(U.comm, c.id, 'accept')).status, 403);
    assert.equal((await act(U.hexi, c.id, 'accept')).status, 404);
    for (const x of due) {
      await ok(await act(U.street, x.id, 'accept'));
      await ok(await act(U.street, x.id, 'review'));
      assert.equal((await act(U.street, x.id, 'approve')).status, 403);
      const a = await ok(await act(U.district, x.id, 'approve'));
      assert.equal(a.state, 'approved');
      assert.equal(a.decided_on, '2025-10-01');
    }
    const a = await ok(await srv.api('GET', `${TEMP}/${c.id}`));
    assertError(await U.comm('PATCH', `${TEMP}/${c.id}`, { version: a.version, household_size: 5 }), 409, 'decided');
    const pdf = await U.comm('GET', `${TEMP}/${c.id}/notice.pdf`);
    assert.equal(pdf.status, 200, show(pdf));
    const r = spawnSync('pdftotext', ['-enc', 'UTF-8', '-', '-'], { input: pdf.buf, encoding: 'utf8' });
    for (const want of ['临时救助决定通知书', '临时甲', '1045.00']) assert.ok(r.stdout.includes(want), want);
    const sum = due.reduce((s, x) => s + x.aid_fen, 0);
    const run = await ok(await U.district('POST', '/api/v1/assistance/payroll', { program: 'temporary', month: '2025-10', division: '120101' }), 201);
    assert.deepEqual([run.households, run.amount_fen], [2, sum]);
    assert.equal(run.persons, due.reduce((s, x) => s + x.household_size, 0));
    assertError(await U.district('POST', '/api/v1/assistance/payroll', { program: 'temporary', month: '2025-10', division: '120101' }), 409, 'payroll_exists');
    assert.equal((await ok(await U.district('POST', '/api/v1/assistance/payroll', { program: 'temporary', month: '2025-11', division: '120101' }), 201)).households, 0);
    for (const x of due) assert.equal((await ok(await srv.api('GET', `${TEMP}/${x.id}`))).state, 'paid');
    await ok(await srv.api('POST', `/api/v1/assistance_payroll_runs/${run.run_id}/actions/approve`));
    const file = await srv.api('GET', `/api/v1/assistance/payroll/${run.run_id}/bank-file`);
    assert.equal(file.status, 200, show(file));
    const rows = parseCsv(file.text.replace(/^\uFEFF/, ''));
    const total = rows.find((r) => r[0] === 'TOTAL');
    assert.deepEqual([Number(total[1]), Math.round(Number(total[5]) * 100)], [2, sum]);
    await ok(await srv.api('POST', `/api/v1/assistance_payroll_runs/${run.run_id}/actions/export`));
    const body = ['payment_id,result,reason', ...rows.filter((r) => /^\d+$/.test(r[0])).map((r, i) => (i === 0 ? `${r[1]},失败,账户已销户` : `${r[1]},成功,`))].join('\n');
    await ok(await srv.api('POST', `/api/v1/assistance/payroll/${run.run_id}/return-file`, Buffer.from(body, 'utf8'), { raw: true, headers: { 'Content-Type': 'text/csv' } }));
    const returned = rows.filter((r) => /^\d+$/.test(r[0]))[0];
    const failedId = Number(returned[2]);
    const owed = due.find((x) => x.id === failedId);
    let bal = await ok(await srv.api('GET', `/api/v1/assistance/ledger/balance?temporary_id=${failedId}`));
    assert.equal(bal.outstanding_fen, owed.aid_fen, 'returned by the bank: still owed');
    // A corrected account, the next run reissues it; the bank confirms; balanced.
    const cur = await ok(await srv.api('GET', `${TEMP}/${failedId}`));
    await ok(await U.comm('PATCH', `${TEMP}/${failedId}`, { version: cur.version, bank_account: makeBankCard() }));
    const again = await ok(await U.district('POST', '/api/v1/assistance/payroll', { program: 'temporary', month: '2025-12', division: '120101' }), 201);
    assert.deepEqual([again.households, again.amount_fen], [1, owed.aid_fen]);
    await ok(await srv.api('POST', `/api/v1/assistance_payroll_runs/${again.run_id}/actions/approve`));
    const f2 = parseCsv((await srv.api('GET', `/api/v1/assistance/payroll/${again.run_id}/bank-file`)).text.replace(/^\uFEFF/, ''));
    await ok(await srv.api('POST', `/api/v1/assistance_payroll_runs/${again.run_id}/actions/export`));
    const body2 = ['payment_id,result,reason', ...f2.filter((r) => /^\d+$/.test(r[0])).map((r) => `${r[1]},成功,`)].join('\n');
    await ok(await srv.api('POST', `/api/v1/assistance/payroll/${again.run_id}/return-file`, Buffer.from(body2, 'utf8'), { raw: true, headers: { 'Content-Type': 'text/csv' } }));
    for (const x of due) {
      bal = await ok(await srv.api('GET', `/api/v1/assistance/ledger/balance?temporary_id=${x.id}`));
      assert.deepEqual([bal.debit_fen, bal.credit_fen, bal.outstanding_fen], [x.aid_fen, x.aid_fen, 0]);
    }
  });
});
