// The social-assistance screens in a real browser (docs/web.md, docs/assistance.md):
// the public 救助公示 page without login (district choice, paging), 救助月报
// (table with 合计, chart text, Excel download), a payroll run's bank return file
// (a refused file's errors, then the result), the run's payments read from
// its packs (its tab and the list) and the case's ledger balance,
// and 待复核 with the recheck dialog. "Today" is fixed with MZ_TEST_TODAY and
// moved by restarting the server on the same database, as the API tests do.
// The tests run in order on shared data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { REPO_ROOT, TEST_PASSWORD, makeIdNumber, makeBankCard, parseCsv, toCsv, show } from '../api/lib.mjs';
import { skipReason, assertBuilt, startWebServer, launchBrowser, shotPath, uiLogin } from './browser.mjs';

const skip = skipReason() || false;
if (skip) console.log('# ' + skip);
const CASES = '/api/v1/assistance_cases';
let srv;
let browser;
const D = {};
const cases = []; // [{id, name}] - cases[0] has a variable income (monthly reviews in a city)
let run;

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}
const act = (id, action, body = {}) => srv.api('POST', `${CASES}/${id}/actions/${action}`, body);
/** axe-core (as a11y.test.mjs): no serious or critical WCAG 2.0/2.1 A/AA violation on the page. */
let axeSource;
async function axe(page, what) {
  // The page at rest: no hovered or focused button (their states are styles.css's business).
  await page.mouse.move(0, 0);
  await page.evaluate(() => document.activeElement?.blur());
  await page.waitForLoadState('networkidle');
  await page.waitForFunction(() => !document.querySelector('.el-zoom-in-top-enter-active, .el-fade-in-linear-enter-active, .el-skeleton, .el-loading-mask'));
  if (!axeSource) axeSource = fs.readFileSync(createRequire(path.join(REPO_ROOT, 'web', 'package.json')).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource + '\n;0');
  const res = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.flatMap((v) => v.nodes.slice(0, 5).map((n) => `${what}: [${v.impact}] ${v.id} ${n.target.join(' ')}`)), []);
}
async function restart(today) {
  await srv.stop({ keepDir: true });
  srv = await startWebServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: today } });
}

before(async () => {
  if (skip) return;
  assertBuilt();
  srv = await startWebServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const street = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items[0].code;
  D.a1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${street}`))).items[0].code;
  // Eleven households of 和平区 publicised today: more than one page of notices.
  for (let i = 0; i < 11; i++) {
    const name = `公示户${String(i + 1).padStart(2, '0')}`;
    const p = await ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: `19${50 + i}-03-0${1 + (i % 9)}` }), name, hukou_division: D.a1 }), 201);
    const body = {
      program: 'dibao', applicant_person_id: p.id, division: D.a1, start_month: '2025-10', bank_account: makeBankCard(),
      members: [{ person_id: p.id, monthly_income_fen: i * 1000, authorisation_scan: 'scan' }],
    };
    if (i === 0) Object.assign(body, { zone: 'urban', review_category: 'variable' });
    const c = await ok(await srv.api('POST', CASES, body), 201);
    for (const a of ['accept', 'investigate', 'verify', 'deliberate', 'review', 'publicise']) await ok(await act(c.id, a, { comment: '测试' }));
    cases.push({ id: c.id, name, benefit: c.monthly_benefit_fen });
  }
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

test('救助公示: a visitor chooses 和平区 and pages through the notices', { skip }, async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(srv.base + '/portal');
  await page.getByRole('link', { name: '救助公示' }).click();
  await page.waitForURL(/\/portal\/notices$/);
  await page.getByRole('heading', { name: '救助公示', level: 1 }).waitFor();
  await page.getByText('请选择所在的区').waitFor();
  await page.locator('.notice-sel').first().click();
  await page.getByRole('option', { name: '和平区' }).click();
  await page.waitForURL(/division=120101/);
  await page.getByTestId('notice-count').filter({ hasText: '和平区正在公示 11 户' }).waitFor();
  const rows = page.getByTestId('notice-table').locator('tbody tr');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="notice-table"] tbody tr').length === 10);
  const first = cases[10]; // newest first
  const row = rows.filter({ hasText: first.name });
  await row.waitFor();
  assert.match(await row.innerText(), /2025-10-01 至 2025-10-08/);
  assert.match(await row.innerText(), /低保/);
  await page.screenshot({ path: shotPath('assist-01-notices'), fullPage: true });
  await axe(page, '救助公示');
  await page.locator('.notice-pages').getByText('2', { exact: true }).click();
  await page.waitForURL(/page=2/);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="notice-table"] tbody tr').length === 1);
  assert.doesNotMatch(await page.locator('main').innerText(), /\d{17}[\dX]/, 'no ID number on the page');
  // A community of another street has none.
  await page.goto(srv.base + '/portal/notices?division=120101002');
  await page.getByText('目前没有正在公示的救助对象').waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test('救助月报: the month\'s table with 合计, the chart\'s text and the Excel file', { skip }, async () => {
  // A week later: approved, paid, October's payroll run sent to the bank.
  await restart('2025-10-08');
  for (const c of cases) {
    await ok(await act(c.id, 'approve'));
    await ok(await act(c.id, 'pay'));
  }
  run = await ok(await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-10', division: '120101' }), 201);
  await ok(await srv.api('POST', `/api/v1/assistance_payroll_runs/${run.run_id}/actions/approve`, {}));
  const total = cases.reduce((s, c) => s + c.benefit, 0);
  assert.equal(run.amount_fen, total);

  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await uiLogin(page, srv.base, 'tester', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  await page.getByRole('menuitem', { name: '救助月报' }).click();
  await page.waitForURL(/\/assistance\/report/);
  await page.goto(srv.base + '/assistance/report?month=2025-10');
  await page.getByRole('heading', { name: '救助月报' }).waitFor();
  const table = page.getByTestId('report-table');
  const hp = table.locator('tbody tr').filter({ hasText: '和平区' });
  await hp.waitFor();
  const cells = (await hp.locator('td').allInnerTexts()).map((s) => s.trim());
  const yuan = (f) => `${Math.floor(f / 100).toLocaleString('en-US')}.${String(f % 100).padStart(2, '0')}`;
  assert.deepEqual(cells, ['和平区', '最低生活保障（低保）', '11', '11', yuan(total), '11', '0']);
  const sum = (await table.locator('tbody tr').filter({ hasText: '合计' }).locator('td').allInnerTexts()).map((s) => s.trim());
  assert.deepEqual(sum.slice(2), ['11', '11', yuan(total), '11', '0']);
  await page.locator('[role="img"][aria-label*="和平区 11 户"]').waitFor();
  await page.screenshot({ path: shotPath('assist-02-report'), fullPage: true });
  await axe(page, '救助月报');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('report-xlsx').click()]);
  assert.match(dl.suggestedFilename(), /^救助月报-2025-10\.xlsx$/);
  const fs = await import('node:fs');
  const file = await dl.path();
  assert.equal(fs.readFileSync(file).subarray(0, 2).toString(), 'PK');
  await page.close();
});

test('发放批次: the bank file, a refused return file, then the result; the case owes the returned payment', { skip }, async () => {
  const page = await browser.context.newPage();
  await page.goto(`${srv.base}/e/assistance_payroll_runs/${run.run_id}`);
  await page.getByRole('heading', { name: '银行代发与回盘' }).waitFor();
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('bank-file').click()]);
  const fs = await import('node:fs');
  const csv = fs.readFileSync(await dl.path(), 'utf8').replace(/^\uFEFF/, '');
  const sent = parseCsv(csv).slice(1).filter((r) => r[0] !== 'TOTAL');
  assert.equal(sent.length, 11);
  await ok(await srv.api('POST', `/api/v1/assistance_payroll_runs/${run.run_id}/actions/export`, {}));
  await page.reload();
  await page.getByTestId('return-upload').waitFor();
  const header = ['明细号', '处理结果', '失败原因', '金额（元）'];
  // One payment missing: refused whole, the errors in a table.
  const bad = [header, ...sent.slice(1).map((r) => [r[1], '成功', '', r[5]])];
  await page.getByTestId('return-file').setInputFiles({ name: '回盘-缺行.csv', mimeType: 'text/csv', buffer: Buffer.from(toCsv(bad), 'utf8') });
  await page.getByTestId('return-upload').click();
  await page.getByRole('dialog').getByRole('button', { name: '导入并对账' }).click();
  await page.getByTestId('return-errors').filter({ hasText: '未做任何更改' }).waitFor();
  await page.getByTestId('return-errors').locator('tbody tr').first().waitFor();
  await page.screenshot({ path: shotPath('assist-03-return-errors'), fullPage: true });
  // The whole file, the first payment returned by the bank.
  const failedCase = Number(sent[0][2]);
  const good = [header, ...sent.map((r, i) => [r[1], i === 0 ? '失败' : '成功', i === 0 ? '账户已销户' : '', r[5]])];
  await page.getByTestId('return-file').setInputFiles({ name: '回盘.csv', mimeType: 'text/csv', buffer: Buffer.from(toCsv(good), 'utf8') });
  await page.getByTestId('return-upload').click();
  await page.getByRole('dialog').getByRole('button', { name: '导入并对账' }).click();
  await page.getByTestId('return-result').filter({ hasText: '成功 10 笔' }).filter({ hasText: '银行退回 1 笔' }).waitFor();
  await page.getByText('已对账：回盘文件已导入').waitFor();
  await page.screenshot({ path: shotPath('assist-04-return-result'), fullPage: true });
  await axe(page, '发放批次');
  // The run's 救助发放明细 (a packed run: the households read from its packs,
  // the returned one from its override row) in the tab and in the list.
  await page.getByRole('tab', { name: '救助发放明细' }).click();
  await page.getByText('在救助发放明细列表中查看全部（11）').waitFor();
  await page.getByText('在救助发放明细列表中查看全部（11）').click();
  await page.waitForURL(/\/e\/assistance_payments\?run_id=/);
  await page.getByTestId('list-total').filter({ hasText: '共 11 条' }).waitFor();
  const listed = page.locator('.el-table__body-wrapper tbody tr');
  await page.waitForFunction(() => document.querySelectorAll('.el-table__body-wrapper tbody tr').length === 11);
  await page.screenshot({ path: shotPath('assist-05-payments'), fullPage: true });
  assert.deepEqual((await listed.locator('td:nth-child(3)').allInnerTexts()).map(Number).sort((x, y) => x - y),
    cases.map((c) => c.id).sort((x, y) => x - y), 'each case once');
  // Filtered by status in the URL: the returned payment, its override row.
  await page.goto(`${srv.base}/e/assistance_payments?run_id=${run.run_id}&status=failed`);
  await page.getByTestId('list-total').filter({ hasText: '共 1 条' }).waitFor();
  assert.equal(await listed.locator('td:nth-child(3)').innerText(), String(failedCase));
  // The returned case's ledger: due, not paid out.
  const owed = Number(sent[0][5].replace('.', ''));
  await page.goto(`${srv.base}/e/assistance_cases/${failedCase}`);
  const yuan = (f) => `${Math.floor(f / 100).toLocaleString('en-US')}.${String(f % 100).padStart(2, '0')}`;
  await page.getByTestId('ledger-outstanding').filter({ hasText: yuan(owed) }).waitFor();
  await axe(page, '救助案件');
  await page.close();
});

test('待复核: the overdue case first, recheck with a required comment, the list refreshed', { skip }, async () => {
  await restart('2025-11-10');
  // The daily cross-checks remind of the overdue review (a 复核到期 warning, for the 工作台 below).
  await ok(await srv.api('POST', '/api/v1/verify/crosscheck', {}), 201);
  // The community's own worker does the review.
  srv.addUser('comm', { roles: 'community_worker', scope: D.a1, name: '社区工作人员' });
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await uiLogin(page, srv.base, 'comm', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  await page.getByRole('menuitem', { name: '待复核' }).click();
  await page.waitForURL(/\/assistance\/reviews$/);
  await page.getByTestId('due-summary').filter({ hasText: '共 1 件待复核' }).filter({ hasText: '1 件已逾期' }).waitFor();
  const row = page.getByTestId('due-table').locator('tbody tr').first();
  assert.match(await row.innerText(), new RegExp(cases[0].name));
  assert.match(await row.innerText(), /逾期 2 天/);
  assert.match(await row.innerText(), /2025-11-08/);
  assert.match(await row.getAttribute('class'), /as-overdue/);
  await page.screenshot({ path: shotPath('assist-05-due'), fullPage: true });
  await axe(page, '待复核');
  await page.getByTestId(`recheck-${cases[0].id}`).click();
  await page.getByTestId('recheck-submit').click();
  await page.getByText('请填写复核结果').waitFor();
  await page.locator('#recheck-comment').fill('入户核查：收入无变化');
  await page.getByTestId('recheck-submit').click();
  // Recorded today; the next review, a month on (30 days), is listed again but no longer overdue.
  await page.getByTestId('due-summary').filter({ hasText: '共 1 件待复核' }).waitFor();
  await page.getByTestId('due-table').locator('tbody tr').filter({ hasText: '30 天' }).filter({ hasText: '2025-12-10' }).waitFor();
  assert.doesNotMatch(await page.getByTestId('due-summary').innerText(), /逾期/);
  const c = await ok(await srv.api('GET', `${CASES}/${cases[0].id}`));
  assert.equal(c.last_review_on, '2025-11-10');
  assert.equal(c.next_review_on, '2025-12-10');
  assert.deepEqual(errors, []);
  await page.close();
});

test('医疗救助试算 in 元, exactly; the 工作台 card of open warnings links to their list', { skip }, async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await uiLogin(page, srv.base, 'tester', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  await page.goto(srv.base + '/assistance/medical-quote');
  await page.getByRole('heading', { name: '医疗救助试算' }).waitFor();
  await page.locator('.el-form-item').filter({ hasText: '救助对象类别' }).locator('.el-select').click();
  await page.getByRole('option', { name: '返贫致贫人口' }).click();
  await page.locator('#mq-date').fill('2025-11-01');
  await page.locator('#mq-date').press('Enter');
  await page.locator('#mq-cost').fill('10000.1');
  await page.locator('#mq-deductible').fill('500');
  await page.getByTestId('mq-submit').click();
  // 10000.10 - (1500 - 500) = 9000.10 eligible; 70% = 6300.07 (rounded down to the fen).
  await page.getByTestId('mq-aid').filter({ hasText: '6,300.07' }).waitFor();
  assert.equal(await page.getByTestId('mq-trace').locator('li').count(), 4);
  await page.locator('#mq-cost').fill('12.345');
  await page.getByTestId('mq-submit').click();
  await page.getByText('请输入金额（元），最多两位小数').waitFor();
  await page.locator('#mq-cost').fill('10000.10');
  await page.getByTestId('mq-submit').click();
  await page.getByText('请输入金额（元），最多两位小数').waitFor({ state: 'hidden' });
  await page.getByTestId('mq-aid').filter({ hasText: '6,300.07' }).waitFor();
  await page.screenshot({ path: shotPath('assist-06-medical'), fullPage: true });
  await axe(page, '医疗救助试算');

  await page.goto(srv.base + '/');
  const card = page.getByTestId('warnings-card');
  await card.getByTestId('warnings-open').waitFor();
  const link = card.getByTestId('warn-kind-review_due');
  await link.waitFor();
  await page.screenshot({ path: shotPath('assist-07-home'), fullPage: true });
  await axe(page, '工作台');
  await link.click();
  await page.waitForURL(/\/e\/verify_warnings\?.*kind=review_due/);
  await page.getByTestId('list-total').filter({ hasText: '1' }).waitFor();
  await page.close();
});

test('医疗救助: an approved bill shows its decision notice and its ledger balance beside the generic detail', { skip }, async () => {
  const p = await ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: '1966-06-16' }), name: '医疗界面', hukou_division: D.a1 }), 201);
  const bill = await ok(await srv.api('POST', '/api/v1/assistance_medical_bills', {
    person_id: p.id, target_group: 'dibao', division: D.a1, hospital: '界面测试医院（合成）', admitted_on: '2025-09-01',
    discharged_on: '2025-09-05', total_fen: 1000000, insurance_fen: 600000, bank_account: makeBankCard(),
  }), 201);
  for (const a of ['accept', 'review', 'approve']) await ok(await srv.api('POST', `/api/v1/assistance_medical_bills/${bill.id}/actions/${a}`, {}));
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await uiLogin(page, srv.base, 'tester', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  await page.goto(`${srv.base}/e/assistance_medical_bills/${bill.id}`);
  const link = page.getByTestId('oneoff-notice');
  await link.waitFor();
  assert.equal(await link.getAttribute('href'), `/api/v1/assistance_medical_bills/${bill.id}/notice.pdf`);
  assert.match(await link.textContent(), /救助决定通知书/);
  await page.getByTestId('ledger-balance').waitFor();
  await page.getByText('界面测试医院（合成）').first().waitFor();
  await page.screenshot({ path: shotPath('assist-08-medical-bill'), fullPage: true });
  await axe(page, '医疗救助详情');
  await page.close();
});
