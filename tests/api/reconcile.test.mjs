// reconcile.test.mjs - the bank's return file (回盘) for a payroll run
// (src/modules/assistance/reconcile.c): a bad file (unknown, duplicate or
// missing payments, a wrong amount, a failure without a reason) is refused
// whole and changes nothing; a good one credits the successes, marks the
// failures, and closes the run; the next month's run reissues the returned
// payment to the corrected account; the ledger per case balances.
// Reference: docs/assistance.md.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, show, makeIdNumber, makeBankCard, payingDibaoCases, parseCsv, toCsv } from './lib.mjs';

let srv;
const D = {};
const CASES = '/api/v1/assistance_cases';
const act = (id, action, body = {}) => srv.api('POST', `${CASES}/${id}/actions/${action}`, body);
const runAct = (id, action) => srv.api('POST', `/api/v1/assistance_payroll_runs/${id}/actions/${action}`, {});
const sendReturn = (runId, rows) => srv.api('POST', `/api/v1/assistance/payroll/${runId}/return-file`,
  Buffer.from(toCsv(rows), 'utf8'), { raw: true, headers: { 'Content-Type': 'text/csv' } });
const balance = async (caseId) => ok(await srv.api('GET', `/api/v1/assistance/ledger/balance?case_id=${caseId}`));

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}

const cases = [];
before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const street = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items[0].code;
  D.a1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${street}`))).items[0].code;
  const made = await payingDibaoCases(srv, [['回盘甲', '1960-01-01', 0], ['回盘乙', '1962-02-02', 20000]]
    .map(([name, birth, income]) => ({ name, birth, income, division: D.a1 })));
  srv = made.srv;
  cases.push(...made.cases);
});
after(async () => {
  await srv?.stop();
});

/** Run, approve and export a month; the bank file's rows. */
async function sendMonth(month) {
  const run = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month, division: '120101' }), 201);
  await ok(await runAct(run.run_id, 'approve'));
  const file = await srv.api('GET', `/api/v1/assistance/payroll/${run.run_id}/bank-file`);
  assert.equal(file.status, 200, show(file));
  await ok(await runAct(run.run_id, 'export'));
  const rows = parseCsv(file.text.replace(/^\uFEFF/, '')).slice(1).filter((r) => r[0] !== 'TOTAL');
  return { run, rows: rows.map(([seq, payment_id, case_id, name, account, amount]) => ({ seq, payment_id, case_id: Number(case_id), name, account, amount })) };
}

describe('bank return file', () => {
  let oct;
  const header = ['明细号', '处理结果', '失败原因', '金额（元）'];

  it('is refused before the run is sent to the bank', async () => {
    const run = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-09', division: '120101' }), 201);
    assertError(await sendReturn(run.run_id, [header]), 409, 'not_exported');
  });

  it('a bad return file is refused whole and changes nothing', async () => {
    oct = await sendMonth('2025-10');
    assert.equal(oct.rows.length, 2);
    const [a, b] = oct.rows;
    const r = await sendReturn(oct.run.run_id, [
      header,
      [a.payment_id, '成功', '', a.amount],
      [a.payment_id, '成功', '', a.amount],
      [b.payment_id, '失败', '', b.amount],
      ['999999', '成功', '', '1.00'],
      [b.payment_id, '退回', '户名不符', '0.01'],
    ]);
    assertError(r, 422, 'import_rejected');
    const codes = r.json.error.errors.map((e) => `${e.row}:${e.field}:${e.code}`);
    assert.deepEqual(codes, ['3:payment_id:duplicate', '4:reason:required', '5:payment_id:no_such_payment', '6:payment_id:duplicate']);
    const missing = await sendReturn(oct.run.run_id, [header, [a.payment_id, '成功', '', a.amount]]);
    assertError(missing, 422, 'import_rejected');
    assert.equal(missing.json.error.errors[0].code, 'missing');
    const wrong = await sendReturn(oct.run.run_id, [header, [a.payment_id, '成功', '', '0.01'], [b.payment_id, '成功', '', b.amount]]);
    assert.equal(wrong.json.error.errors[0].code, 'amount_mismatch');
    const run = await ok(await srv.api('GET', `/api/v1/assistance_payroll_runs/${oct.run.run_id}`));
    assert.equal(run.state, 'exported');
    for (const c of cases) assert.equal((await balance(c.id)).credit_fen, 0);
  });

  it('credits the successes, marks the failures and closes the run', async () => {
    const [a, b] = oct.rows;
    const r = await ok(await sendReturn(oct.run.run_id, [header, [a.payment_id, '成功', '', a.amount], [b.payment_id, '失败', '账户已销户', b.amount]]));
    assert.equal(r.credited, 1);
    assert.equal(r.failed, 1);
    assert.equal(r.state, 'reconciled');
    const run = await ok(await srv.api('GET', `/api/v1/assistance_payroll_runs/${oct.run.run_id}`));
    assert.equal(run.state, 'reconciled');
    assert.equal(run.returned, 1);
    const payA = await balance(a.case_id);
    assert.equal(payA.outstanding_fen, 0);
    assert.ok(payA.debit_fen > 0);
    const payB = await balance(b.case_id);
    assert.equal(payB.credit_fen, 0);
    assert.equal(payB.outstanding_fen, payB.debit_fen, 'the returned payment is still owed');
    const pays = (await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${oct.run.run_id}`))).items;
    const failed = pays.find((p) => String(p.id) === b.payment_id);
    assert.equal(failed.status, 'failed');
    assert.match(failed.note, /账户已销户/);
    assertError(await sendReturn(oct.run.run_id, [header]), 409, 'not_exported');
  });

  it('the next run reissues the returned payment to the corrected account; then everything balances', async () => {
    const b = oct.rows[1];
    const cur = await ok(await srv.api('GET', `${CASES}/${b.case_id}`));
    await ok(await srv.api('PATCH', `${CASES}/${b.case_id}`, { version: cur.version, bank_account: makeBankCard() }));
    const nov = await sendMonth('2025-11');
    assert.equal(nov.run.households, 3, 'two November payments and one reissue');
    const pays = (await ok(await srv.api('GET', `/api/v1/assistance_payments?run_id=${nov.run.run_id}`))).items;
    const reissue = pays.find((p) => p.reissue_of === Number(b.payment_id));
    assert.ok(reissue, JSON.stringify(pays));
    assert.equal(reissue.month, '2025-10');
    assert.equal(reissue.amount_fen, Math.round(Number(b.amount) * 100));
    const line = nov.rows.find((r) => r.payment_id === String(reissue.id));
    assert.notEqual(line.account, b.account, 'sent to the corrected account');
    await ok(await sendReturn(nov.run.run_id, [header, ...nov.rows.map((r) => [r.payment_id, '成功', '', r.amount])]));
    for (const c of cases) {
      const bal = await balance(c.id);
      assert.equal(bal.outstanding_fen, 0, JSON.stringify(bal));
      assert.ok(bal.credit_fen > 0);
    }
    // The monthly report counts what was due per district and program, reissues left out.
    const octReport = await ok(await srv.api('GET', '/api/v1/assistance/reports/monthly?month=2025-10'));
    assert.deepEqual(octReport.items.map((x) => [x.division, x.name, x.program, x.households, x.new, x.stopped]), [['120101', '和平区', 'dibao', 2, 2, 0]]);
    const novReport = await ok(await srv.api('GET', '/api/v1/assistance/reports/monthly?month=2025-11&program=dibao'));
    const nov1 = novReport.items[0];
    assert.deepEqual([nov1.households, nov1.new, nov1.stopped], [2, 0, 0]);
    assert.equal(nov1.amount_fen, octReport.items[0].amount_fen, 'the reissue of October is not November\'s');
    assert.equal(novReport.totals.dibao.households, 2);
    const xlsx = await srv.api('GET', '/api/v1/assistance/reports/monthly?month=2025-11&format=xlsx');
    assert.equal(xlsx.status, 200, show(xlsx));
    assert.match(xlsx.headers['content-type'], /spreadsheetml/);
    assert.equal(xlsx.buf.subarray(0, 2).toString(), 'PK');
    assertError(await srv.api('GET', '/api/v1/assistance/reports/monthly?month=2025-13'), 400, 'bad_request');
    // A reissued payment is not reissued again.
    const dec = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-12', division: '120101' }), 201);
    assert.equal(dec.households, 2);
  });

  it('writes the bank file in a bank\'s own layout: fixed-width GB18030, or its CSV', async () => {
    const dec = (await ok(await srv.api('GET', '/api/v1/assistance_payroll_runs?month=2025-12'))).items[0];
    await ok(await runAct(dec.id, 'approve'));
    const fixed = await ok(await srv.api('POST', '/api/v1/assistance_bank_layouts', {
      code: 'test_fixed', name: '测试银行定长格式', file_format: 'fixed', encoding: 'gb18030',
      columns: [
        { field: 'seq', width: 6, align: 'right', pad: '0' },
        { field: 'account', width: 19 },
        { field: 'payee_name', width: 20 },
        { field: 'amount_fen', width: 12, align: 'right', pad: '0' },
      ],
      trailer: 'T{count}|{sum_fen}',
    }), 201);
    assert.equal(fixed.code, 'test_fixed');
    const r = await srv.api('GET', `/api/v1/assistance/payroll/${dec.id}/bank-file?layout=test_fixed`);
    assert.equal(r.status, 200, show(r));
    const lines = r.buf.toString('latin1').split('\r\n').filter((x) => x.length);
    assert.equal(lines.length, 3, 'two payments and the trailer');
    for (const l of lines.slice(0, 2)) assert.equal(Buffer.byteLength(l, 'latin1'), 57, 'every record is 57 bytes');
    const text = new TextDecoder('gb18030').decode(r.buf);
    assert.match(text, /^000001\d{16,19} *回盘/);
    const total = (await ok(await srv.api('GET', `/api/v1/assistance_payroll_runs/${dec.id}`))).amount_fen;
    assert.match(text, new RegExp(`T2\\|${total}\\r\\n$`));
    // A name wider than its column is refused, not cut.
    await ok(await srv.api('POST', '/api/v1/assistance_bank_layouts', {
      code: 'narrow', name: '过窄', file_format: 'fixed', columns: [{ field: 'payee_name', width: 4 }],
    }), 201);
    const narrow = await srv.api('GET', `/api/v1/assistance/payroll/${dec.id}/bank-file?layout=narrow`);
    assertError(narrow, 422, 'field_too_wide');
    assert.ok(narrow.json.error.payment_id > 0);
    const csv = await ok(await srv.api('POST', '/api/v1/assistance_bank_layouts', {
      code: 'test_csv', name: '测试银行CSV', file_format: 'csv', columns: [{ field: 'account', title: '账号' }, { field: 'amount_yuan', title: '金额' }, { field: 'month', title: '月份' }],
    }), 201);
    const c = await srv.api('GET', `/api/v1/assistance/payroll/${dec.id}/bank-file?layout=${csv.code}`);
    const rows = c.text.split('\r\n').filter((x) => x);
    assert.equal(rows[0], '账号,金额,月份');
    assert.match(rows[1], /^\d{16,19},\d+\.\d{2},2025-12$/);
    assert.match(rows[3], /^TOTAL,2,\d+\.\d{2}$/);
    assertError(await srv.api('GET', `/api/v1/assistance/payroll/${dec.id}/bank-file?layout=nope`), 422, 'no_such_layout');
    const badLayout = await srv.api('POST', '/api/v1/assistance_bank_layouts', { code: 'bad', name: '坏', file_format: 'fixed', columns: [{ field: 'password' }] });
    assertError(badLayout, 422, 'validation_failed');
  });
});

