// medical_bills.test.mjs - 医疗救助 bills (src/modules/assistance/bills.c):
// a bill's self-paid part and aid from the seeded example rules (低保 75%,
// 低收入 ¥3000 deductible / 60%, cap ¥50,000 a year), the workflow by the
// right roles in the right scopes with refusals and their reasons, the
// annual cap per person and year across bills (also when two approvals
// race), decided bills kept as decided, and the one-off payment through the
// payroll (program medical): paid once, the run refused a second time, the
// bank file's totals, the ledger balancing after the bank's return file.
// Reference: docs/assistance.md (医疗救助 bills).
import { describe, it, before, after } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { startServer, assertError, assertFieldErrors, show, makeIdNumber, makeBankCard, parseCsv, TEST_PASSWORD } from './lib.mjs';

let srv;
const BILLS = '/api/v1/assistance_medical_bills';
const U = {};
let A1, B1;

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}
const act = (api, id, action, body = {}) => api('POST', `${BILLS}/${id}/actions/${action}`, body);
/** Text of a PDF through pdftotext (poppler-utils). */
function pdfText(buf) {
  const r = spawnSync('pdftotext', ['-enc', 'UTF-8', '-', '-'], { input: buf, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const streets = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items;
  A1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${streets[0].code}`))).items[0].code;
  B1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${streets[1].code}`))).items[0].code;
  const roles = {
    comm: ['community_worker', A1],
    street: ['street_officer', streets[0].code],
    other_street: ['street_officer', streets[1].code],
    district: ['district_officer', '120101'],
    hexi: ['district_officer', '120103'],
  };
  for (const [name, [role, scope]] of Object.entries(roles)) {
    srv.addUser(name, { roles: role, scope });
    U[name] = (await srv.login(name, TEST_PASSWORD, { mode: 'bearer' })).api;
  }
});
after(async () => {
  await srv?.stop();
});

let patient, n = 0;
async function person(name) {
  return ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: `19${50 + (n++ % 40)}-02-02` }), name, hukou_division: A1 }), 201);
}
const bill = (over = {}) => ({
  person_id: patient.id, target_group: 'dibao', division: A1, hospital: '天津市第一医院（合成）',
  admitted_on: '2025-09-01', discharged_on: '2025-09-10', total_fen: 5000000, insurance_fen: 3000000,
  bank_account: makeBankCard(), ...over,
});
async function approved(body, api = U.comm) {
  const b = await ok(await api('POST', BILLS, body), 201);
  await ok(await act(U.street, b.id, 'accept'));
  await ok(await act(U.street, b.id, 'review'));
  return b;
}

describe('medical assistance bills', () => {
  it('a bill computes its self-paid part and a provisional aid from the rules', async () => {
    patient = await person('医疗甲');
    const b = await ok(await U.comm('POST', BILLS, bill()), 201);
    assert.equal(b.state, 'draft');
    assert.equal(b.self_paid_fen, 2000000);
    assert.equal(b.year, '2025');
    assert.equal(b.aid_fen, 1500000, '75% of 20,000 yuan for 低保, no deductible');
    assert.equal(b.payee_person_id, patient.id);
    assert.ok(Array.isArray(b.aid_trace) && b.aid_trace.some((s) => s.zh.includes('75%')));
    const low = await ok(await U.comm('POST', BILLS, bill({ target_group: 'low_income' })), 201);
    assert.equal(low.aid_fen, Math.floor((2000000 - 300000) * 60 / 100), '低收入: ¥3000 deductible, 60%');
    await ok(await act(U.district, low.id, 'reject', { comment: '重复申报' }));
  });

  it('bad figures are refused with the field and change nothing', async () => {
    const before = (await ok(await srv.api('GET', `${BILLS}?size=1`))).total;
    assertFieldErrors(await U.comm('POST', BILLS, bill({ insurance_fen: 6000000 })), [['insurance_fen', 'too_large']]);
    assertFieldErrors(await U.comm('POST', BILLS, bill({ discharged_on: '2025-08-01' })), [['discharged_on', 'before_admission']]);
    assertFieldErrors(await U.comm('POST', BILLS, bill({ total_fen: -1 })), [['total_fen', 'too_small']]);
    assertError(await U.comm('POST', BILLS, bill({ admitted_on: '2019-01-01', discharged_on: '2019-01-02' })), 422, 'no_rule');
    assert.equal((await ok(await srv.api('GET', `${BILLS}?size=1`))).total, before);
  });

  it('the workflow: the right roles in the right scopes, refusals with reasons', async () => {
    const b = await ok(await U.comm('POST', BILLS, bill({ total_fen: 1000000, insurance_fen: 600000 })), 201);
    assert.equal((await act(U.comm, b.id, 'accept')).status, 403, 'a community worker does not accept');
    assert.equal((await act(U.other_street, b.id, 'accept')).status, 404, 'another street does not see it');
    await ok(await act(U.street, b.id, 'accept'));
    assertError(await act(U.district, b.id, 'approve'), 409, 'illegal_transition');
    await ok(await act(U.street, b.id, 'review'));
    assert.equal((await act(U.street, b.id, 'approve')).status, 403, 'approval is the district\'s');
    assert.equal((await act(U.hexi, b.id, 'approve')).status, 404, 'another district does not see it');
    const a = await ok(await act(U.district, b.id, 'approve'));
    assert.equal(a.state, 'approved');
    assert.equal(a.aid_fen, 300000);
    assert.equal(a.decided_on, '2025-10-01');
    // Decided: the figures stay; the account may be corrected.
    assertError(await U.comm('PATCH', `${BILLS}/${b.id}`, { version: a.version, total_fen: 2000000 }), 409, 'decided');
    const acc = await ok(await U.comm('PATCH', `${BILLS}/${b.id}`, { version: a.version, bank_account: makeBankCard() }));
    assert.equal(acc.aid_fen, 300000);
    // A refusal needs the written reason; an approval without an account is refused.
    const r = await ok(await U.comm('POST', BILLS, bill()), 201);
    assertError(await act(U.district, r.id, 'reject'), 422, 'validation_failed', { field: 'comment' });
    const refused = await ok(await act(U.district, r.id, 'reject', { comment: '已由其他渠道全额报销' }));
    assert.equal(refused.state, 'refused');
    assert.equal(refused.aid_fen, 0);
    const noacc = await approved(bill({ bank_account: undefined }));
    assertError(await act(U.district, noacc.id, 'approve'), 422, 'no_account');
    await ok(await act(U.district, noacc.id, 'reject', { comment: '未登记账号' }));
    // The decision notices: granted with the figures, refused with the reason and remedies.
    const pdf = await U.district('GET', `${BILLS}/${b.id}/notice.pdf`);
    assert.equal(pdf.status, 200, show(pdf));
    assert.equal(pdf.headers['content-type'], 'application/pdf');
    const text = pdfText(pdf.buf);
    for (const want of ['医疗救助决定通知书', '医疗甲', '天津市第一医院', '3000.00', '4000.00', '天津市和平区民政局']) assert.ok(text.includes(want), want);
    const no = pdfText((await U.district('GET', `${BILLS}/${r.id}/notice.pdf`)).buf);
    for (const want of ['不予救助决定书', '已由其他渠道全额报销', '行政复议']) assert.ok(no.includes(want), want);
    const draft = await ok(await U.comm('POST', BILLS, bill()), 201);
    assertError(await U.comm('GET', `${BILLS}/${draft.id}/notice.pdf`), 409, 'not_decided');
    assert.equal((await U.hexi('GET', `${BILLS}/${b.id}/notice.pdf`)).status, 404);
    await ok(await act(U.district, draft.id, 'reject', { comment: '测试' }));
  });

  it('the annual cap holds across bills of a person: later bills get what is left, then nothing', async () => {
    patient = await person('医疗乙');
    // 75% of 40,000 = 30,000 yuan each; the cap is 50,000 a year.
    const big = { total_fen: 6000000, insurance_fen: 2000000 };
    const b1 = await approved(bill(big));
    assert.equal((await ok(await act(U.district, b1.id, 'approve'))).aid_fen, 3000000);
    const b2 = await approved(bill(big));
    assert.equal(b2.aid_fen, 2000000, 'the provisional aid already counts the approved bill');
    assert.equal((await ok(await act(U.district, b2.id, 'approve'))).aid_fen, 2000000, 'what is left of the cap');
    const b3 = await approved(bill(big));
    const e = assertError(await act(U.district, b3.id, 'approve'), 422, 'cap_exhausted');
    assert.match(e.message, /限额已用完/);
    assert.equal((await ok(await srv.api('GET', `${BILLS}/${b3.id}`))).state, 'checked', 'nothing changed');
    // Another year has its own cap.
    const next = await approved(bill({ ...big, admitted_on: '2026-01-05', discharged_on: '2026-01-09' }));
    assert.equal((await ok(await act(U.district, next.id, 'approve'))).aid_fen, 3000000);
    await ok(await act(U.district, b3.id, 'reject', { comment: '年度限额已用完' }));
  });

  it('two approvals racing never exceed the cap together', async () => {
    patient = await person('医疗丙');
    const big = { total_fen: 6000000, insurance_fen: 2000000 };
    const x = await approved(bill(big));
    const y = await approved(bill(big));
    const [rx, ry] = await Promise.all([act(U.district, x.id, 'approve'), act(U.district, y.id, 'approve')]);
    assert.deepEqual([rx.status, ry.status], [200, 200], show(rx) + show(ry));
    assert.deepEqual([rx.json.aid_fen, ry.json.aid_fen].sort(), [2000000, 3000000]);
    const all = await ok(await srv.api('GET', `${BILLS}?person_id=${patient.id}&state=approved`));
    assert.equal(all.items.reduce((s, b) => s + b.aid_fen, 0), 5000000, 'exactly the cap');
  });

  it('the payroll pays every approved bill once, with totals, and the ledger balances after the return file', async () => {
    const due = (await ok(await srv.api('GET', `${BILLS}?state=approved&size=100`))).items;
    const dueSum = due.reduce((s, b) => s + b.aid_fen, 0);
    assert.ok(due.length >= 5);
    assert.equal((await U.street('POST', '/api/v1/assistance/payroll', { program: 'medical', month: '2025-10', division: '120101' })).status, 403);
    const run = await ok(await U.district('POST', '/api/v1/assistance/payroll', { program: 'medical', month: '2025-10', division: '120101' }), 201);
    assert.equal(run.households, due.length);
    assert.equal(run.amount_fen, dueSum);
    assertError(await U.district('POST', '/api/v1/assistance/payroll', { program: 'medical', month: '2025-10', division: '120101' }), 409, 'payroll_exists');
    for (const b of due) assert.equal((await ok(await srv.api('GET', `${BILLS}/${b.id}`))).state, 'paid');
    // A later run finds nothing left to pay: a bill is paid once.
    const later = await ok(await U.district('POST', '/api/v1/assistance/payroll', { program: 'medical', month: '2025-11', division: '120101' }), 201);
    assert.equal(later.households, 0);
    await ok(await srv.api('POST', `/api/v1/assistance_payroll_runs/${run.run_id}/actions/approve`));
    const file = await srv.api('GET', `/api/v1/assistance/payroll/${run.run_id}/bank-file`);
    assert.equal(file.status, 200, show(file));
    const rows = parseCsv(file.text.replace(/^\uFEFF/, ''));
    const total = rows.find((r) => r[0] === 'TOTAL');
    assert.equal(Number(total[1]), due.length);
    assert.equal(Math.round(Number(total[5]) * 100), dueSum);
    await ok(await srv.api('POST', `/api/v1/assistance_payroll_runs/${run.run_id}/actions/export`));
    const body = ['payment_id,result,reason', ...rows.filter((r) => /^\d+$/.test(r[0])).map((r) => `${r[1]},成功,`)].join('\n');
    const ret = await srv.api('POST', `/api/v1/assistance/payroll/${run.run_id}/return-file`, Buffer.from(body, 'utf8'), { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(ret.status, 200, show(ret));
    for (const b of due) {
      const bal = await ok(await srv.api('GET', `/api/v1/assistance/ledger/balance?bill_id=${b.id}`));
      assert.deepEqual([bal.debit_fen, bal.credit_fen, bal.outstanding_fen], [b.aid_fen, b.aid_fen, 0]);
    }
  });
});
