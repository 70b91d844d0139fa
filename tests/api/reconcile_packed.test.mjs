// reconcile_packed.test.mjs - the bank's return file and the ledger balance
// over a packed payroll run (src/modules/assistance/reconcile.c): the same
// cases paid per row in October (a month written before the switch to packed
// runs: the legacyPayrollRun fixture) and as packs in November and December
// (the API, as every run of a regular program now),
// the same household returned by the bank each month. The packed run's
// sent set comes from its packs (payment id = the run's first id +
// position); a bad file is refused whole and changes nothing; a returned
// packed payment gets an override row that reads as the per-row run's failed
// row, field by field; it is reissued by the next run as a per-row failure
// is; the packed credits are one ledger row per community; and the balance
// per case reads the same for the packed months as for the per-row one; the
// monthly report counts a packed month as the per-row one (households,
// persons, amounts, new and stopped across a per-row and a packed month).
// Reference: docs/assistance.md ("Packed payroll snapshot", "Bank return file and the ledger").
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, show, makeIdNumber, makeBankCard, legacyPayrollRun, payingDibaoCases, parseCsv, toCsv, TEST_PASSWORD } from './lib.mjs';

let srv;
const D = {};
const CASES = '/api/v1/assistance_cases';
const PAYS = '/api/v1/assistance_payments';
const act = (id, action) => srv.api('POST', `${CASES}/${id}/actions/${action}`, { comment: '测试' });
const runAct = (id, action) => srv.api('POST', `/api/v1/assistance_payroll_runs/${id}/actions/${action}`, {});
const sendReturn = (runId, rows) => srv.api('POST', `/api/v1/assistance/payroll/${runId}/return-file`,
  Buffer.from(toCsv(rows), 'utf8'), { raw: true, headers: { 'Content-Type': 'text/csv' } });
const header = ['明细号', '处理结果', '失败原因', '金额（元）'];
const cases = [];

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}
const balance = async (caseId) => {
  const { case_id, ...rest } = await ok(await srv.api('GET', `/api/v1/assistance/ledger/balance?case_id=${caseId}`));
  return rest;
};
const balances = async () => Promise.all(cases.map((c) => balance(c.id)));
const payments = async (query) => (await ok(await srv.api('GET', `${PAYS}?${query}&size=100`))).items;
/** What a payment says about the household, without its run's ids, month and times. */
const essence = ({ id, run_id, month, created_at, updated_at, version, reissue_of, note, ...rest }) =>
  ({ ...rest, note: note && note.replace(/\d+/g, 'N') });
const regular = async (run) => (await payments(`run_id=${run}`)).filter((p) => p.reissue_of == null)
  .sort((a, b) => a.case_id - b.case_id).map(essence);

/** Approve and export a run; its bank file's rows by payment id. */
async function send(runId) {
  await ok(await runAct(runId, 'approve'));
  const file = await srv.api('GET', `/api/v1/assistance/payroll/${runId}/bank-file`);
  assert.equal(file.status, 200, show(file));
  await ok(await runAct(runId, 'export'));
  return parseCsv(file.text.replace(/^\uFEFF/, '')).slice(1).filter((r) => r.length > 1 && r[0] !== 'TOTAL')
    .map(([seq, payment_id, case_id, name, account, amount]) => ({ payment_id, case_id: Number(case_id), amount }));
}
/** The return: every sent payment paid but the returned case's regular payment. */
const answer = (rows, returnedCase, reissues) => [header, ...rows.map((r) => {
  const failed = r.case_id === returnedCase && !reissues.has(r.payment_id);
  return [r.payment_id, failed ? '失败' : '成功', failed ? '账户已销户' : '', r.amount];
})];
const strip = ({ run_id, ...rest }) => rest;

before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const street = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items[0].code;
  const communities = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${street}`))).items;
  D.street = street;
  D.a1 = communities[0].code;
  D.a2 = communities[1].code;
  const specs = [
    ['对账甲', '1960-01-01', 0, D.a1, false],
    ['对账乙', '1962-02-02', 20000, D.a1, true],
    ['对账丙', '1964-03-03', 10000, D.a2, false],
  ];
  let seq = 300;
  const made = await payingDibaoCases(srv, specs.map(([name, birth, income, division, child]) =>
    ({ name, birth, income, division, child, seq: ++seq, childSeq: child ? ++seq : undefined })));
  srv = made.srv;
  cases.push(...made.cases);
});
after(async () => {
  await srv?.stop();
});

describe('reconciliation and balances over packed runs', () => {
  const returned = () => cases[1].id;
  let oct, octRows, octResult, octBalances, nov, novRows, novResult, reissueOfOct;

  it('October per row: the return marks the failure and credits the rest', async () => {
    oct = legacyPayrollRun(srv.dbPath, { program: 'dibao', month: '2025-10', district: '120101' });
    octRows = await send(oct.run_id);
    assert.equal(octRows.length, 3);
    octResult = await ok(await sendReturn(oct.run_id, answer(octRows, returned(), new Set())));
    assert.deepEqual([octResult.credited, octResult.failed], [2, 1]);
    octBalances = await balances();
    assert.equal(octBalances[1].credit_fen, 0);
    assert.equal(octBalances[1].outstanding_fen, octBalances[1].debit_fen);
    for (const k of [0, 2]) assert.equal(octBalances[k].outstanding_fen, 0);
  });

  it('November packed: a bad return file is refused whole and changes nothing', async () => {
    nov = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-11', division: '120101' }), 201);
    assert.equal(nov.households, 4, 'three packed households and the reissue of October');
    assert.equal((await ok(await srv.api('GET', `/api/v1/assistance_payroll_runs/${nov.run_id}`))).reissued, 1);
    novRows = await send(nov.run_id);
    assert.equal(novRows.length, 4);
    const before = await balances();
    const packedIds = (await payments(`run_id=${nov.run_id}`)).filter((p) => p.reissue_of == null).map((p) => p.id);
    const [a, b] = novRows;
    const top = Math.max(...novRows.map((r) => Number(r.payment_id)));
    const bad = await sendReturn(nov.run_id, [
      header,
      [a.payment_id, '成功', '', a.amount],
      [a.payment_id, '成功', '', a.amount],
      [b.payment_id, '失败', '', b.amount],
      [String(top + 1), '成功', '', '1.00'],
    ]);
    assertError(bad, 422, 'import_rejected');
    const codes = bad.json.error.errors.map((e) => `${e.row}:${e.field}:${e.code}`);
    assert.deepEqual(codes, ['3:payment_id:duplicate', '4:reason:required', '5:payment_id:no_such_payment', '0:payment_id:missing']);
    const packedRow = novRows.find((r) => packedIds.includes(Number(r.payment_id)));
    const wrong = await sendReturn(nov.run_id, [header, ...novRows.map((r) => [r.payment_id, '成功', '', r === packedRow ? '0.01' : r.amount])]);
    assertError(wrong, 422, 'import_rejected');
    assert.deepEqual(wrong.json.error.errors.map((e) => e.code), ['amount_mismatch']);
    assert.equal((await ok(await srv.api('GET', `/api/v1/assistance_payroll_runs/${nov.run_id}`))).state, 'exported');
    assert.deepEqual(await balances(), before);
    assert.ok((await payments(`run_id=${nov.run_id}`)).every((p) => p.status === 'paid'));
  });

  it('November packed: the same return reads as October\'s, field by field', async () => {
    reissueOfOct = (await payments(`run_id=${nov.run_id}`)).find((p) => p.reissue_of != null);
    assert.equal(reissueOfOct.case_id, returned());
    const reissues = new Set([String(reissueOfOct.id)]);
    novResult = await ok(await sendReturn(nov.run_id, answer(novRows, returned(), reissues)));
    const failedOct = octRows.find((r) => r.case_id === returned());
    assert.deepEqual(strip(novResult), {
      ...strip(octResult),
      credited: octResult.credited + 1,
      credited_fen: octResult.credited_fen + reissueOfOct.amount_fen,
    }, 'the reissue is the one payment more');
    assert.equal(reissueOfOct.amount_fen, Math.round(Number(failedOct.amount) * 100));
    const run = await ok(await srv.api('GET', `/api/v1/assistance_payroll_runs/${nov.run_id}`));
    const octRun = await ok(await srv.api('GET', `/api/v1/assistance_payroll_runs/${oct.run_id}`));
    assert.deepEqual([run.state, run.returned, run.paid_out_fen], ['reconciled', octRun.returned, octRun.paid_out_fen + reissueOfOct.amount_fen]);
    // The statuses, notes and every other field of the households read the
    // same: the returned one through its override row.
    assert.deepEqual(await regular(nov.run_id), await regular(oct.run_id));
    const failed = (await payments(`run_id=${nov.run_id}&status=failed`));
    assert.equal(failed.length, 1);
    assert.equal(failed[0].case_id, returned());
    assert.match(failed[0].note, /账户已销户/);
    assert.deepEqual(await ok(await srv.api('GET', `${PAYS}/${failed[0].id}`)), failed[0]);
    assert.ok(Array.isArray(failed[0].trace) && failed[0].trace.length > 0, 'the trace as paid');
    // The packed credits: one ledger row per community, the reissue's own.
    const ledger = (await ok(await srv.api('GET', `/api/v1/assistance_ledger?run_id=${nov.run_id}&size=100`))).items;
    const credits = ledger.filter((l) => l.entry === 'credit');
    const summary = credits.filter((l) => l.case_id == null).sort((x, y) => x.division.localeCompare(y.division));
    const paidPacked = (await regular(nov.run_id)).filter((p) => p.status === 'paid');
    assert.deepEqual(summary.map((l) => [l.division, l.amount_fen]), [D.a1, D.a2].map((d) =>
      [d, paidPacked.filter((p) => p.division === d).reduce((s, p) => s + p.amount_fen, 0)]));
    assert.deepEqual(credits.filter((l) => l.case_id != null).map((l) => [l.case_id, l.amount_fen]), [[returned(), reissueOfOct.amount_fen]]);
    // Balances: one month more of debits; October's return paid by the
    // reissue, November's outstanding exactly as October's was.
    const now = await balances();
    for (let k = 0; k < cases.length; k++) {
      const o = octBalances[k];
      assert.deepEqual(now[k], {
        debit_fen: 2 * o.debit_fen,
        credit_fen: 2 * o.debit_fen - o.outstanding_fen,
        outstanding_fen: o.outstanding_fen,
      }, `case ${k}`);
    }
    assertError(await sendReturn(nov.run_id, [header]), 409, 'not_exported');
  });

  it('December packed reissues November\'s packed failure as November reissued October\'s; then every case balances', async () => {
    const dec = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-12', division: '120101' }), 201);
    assert.equal(dec.households, 4);
    const reissue = (await payments(`run_id=${dec.run_id}`)).find((p) => p.reissue_of != null);
    const failed = (await payments(`run_id=${nov.run_id}&status=failed`))[0];
    assert.equal(reissue.reissue_of, failed.id, 'the packed payment\'s id');
    assert.equal(reissue.month, '2025-11');
    assert.deepEqual(essence(reissue), essence(reissueOfOct));
    const rows = await send(dec.run_id);
    assert.ok(rows.some((r) => r.payment_id === String(reissue.id)));
    const r = await ok(await sendReturn(dec.run_id, answer(rows, -1, new Set())));
    assert.deepEqual([r.credited, r.failed], [4, 0]);
    const now = await balances();
    for (let k = 0; k < cases.length; k++) {
      assert.deepEqual(now[k], { debit_fen: 3 * octBalances[k].debit_fen, credit_fen: 3 * octBalances[k].debit_fen, outstanding_fen: 0 }, `case ${k}`);
    }
    // A reissued packed payment is not reissued again.
    const jan = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2026-01', division: '120101' }), 201);
    assert.equal(jan.households, 3);
  });

  it('the monthly report counts the packed months as the per-row one', async () => {
    const report = async (month, api = srv.api) => (await ok(await api('GET', `/api/v1/assistance/reports/monthly?month=${month}&program=dibao`)));
    const rows = (r) => r.items.map((x) => [x.division, x.program, x.households, x.persons, x.amount_fen, x.new, x.stopped]);
    const oct = await report('2025-10');
    assert.equal(oct.items.length, 1);
    const [o] = oct.items;
    assert.deepEqual([o.division, o.households, o.new, o.stopped], ['120101', 3, 3, 0]);
    const octPay = await payments(`month=2025-10&program=dibao`);
    assert.equal(o.amount_fen, octPay.filter((p) => p.reissue_of == null).reduce((s, p) => s + p.amount_fen, 0));
    // November: packed, its returned household an override row (counted
    // once), the month before per row: nobody new or stopped.
    const same = [['120101', 'dibao', o.households, o.persons, o.amount_fen, 0, 0]];
    for (const month of ['2025-11', '2025-12', '2026-01']) assert.deepEqual(rows(await report(month)), same, month);
    const feb = await report('2026-02');
    assert.deepEqual(rows(feb), [['120101', 'dibao', 0, 0, 0, 0, 3]], 'January\'s packed households stopped');
    assert.deepEqual(feb.totals.dibao, { households: 0, persons: 0, amount_fen: 0, new: 0, stopped: 3 });
    // A street's leader sees its communities, from the packs' divisions.
    srv.addUser('street_leader', { roles: 'leader', scope: D.street });
    const leader = (await srv.login('street_leader', TEST_PASSWORD, { mode: 'bearer' })).api;
    const octStreet = rows(await report('2025-10', leader)).map((x) => [...x.slice(0, 5), 0, 0]);
    assert.deepEqual(octStreet.map((x) => [x[0], x[2]]), [[D.a1, 2], [D.a2, 1]]);
    assert.deepEqual(rows(await report('2025-11', leader)), octStreet);
    const x = await srv.api('GET', '/api/v1/assistance/reports/monthly?month=2025-11&format=xlsx');
    assert.equal(x.status, 200, show(x));
    assert.equal(x.buf.subarray(0, 2).toString(), 'PK');
  });
});
