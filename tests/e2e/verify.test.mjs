// 经济状况核对 in the browser (web/src/modules/verify): the city imports a CSV batch
// of bank deposits on 数据批次 (first refused whole with its row errors, then the
// valid rows only) and withdraws another batch with a reason; a registry household
// is verified from its detail page and its report shows the flagged 金融资产 rule
// with the deposit rows as evidence; a household without a 授权书 is refused, the
// prefilled 授权书 form is saved and the check then runs; a bulk re-check of the
// approved 低保 cases shows its summary, chart, results and export; a community
// worker has 单户核对 but neither 批量复核 nor 数据批次.
//
// Data: persons, households, authorisations and two 低保 cases are made through
// the API. The cases are taken to 公示 on a server whose date is fixed in the past
// (MZ_TEST_TODAY), then the server restarts on today's date, when the 7-day notice
// has run, and they are approved; the browser then works on today's date. The tests
// run in order and build on each other (the batch imported first is the evidence of
// the checks that follow).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { REPO_ROOT, TEST_PASSWORD, makeIdNumber, makeBankCard, toCsv, show } from '../api/lib.mjs';
import { skipReason, assertBuilt, startWebServer, launchBrowser, shotPath, uiLogin } from './browser.mjs';

const skip = skipReason() || false;
if (skip) console.log('# ' + skip);
let srv;
let browser;
const D = { div: '120101001001' }; // a community of 和平区
const P = {}; // persons by name
const H = {}; // household ids
const C = {}; // case ids by applicant name
let vehicleBatch;

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}
let seq = 500;
async function person(name, birth) {
  const id_number = makeIdNumber({ birth, seq: seq++, area: '120101' });
  const p = await ok(await srv.api('POST', '/api/v1/persons', { id_number, name, hukou_division: D.div }), 201);
  P[name] = { ...p, id_number };
  return P[name];
}
/** axe-core on the page (as tests/e2e/a11y.test.mjs): its serious and critical WCAG 2.1 AA violations. */
let axeSource;
async function axe(page, what) {
  axeSource ??= fs.readFileSync(createRequire(path.join(REPO_ROOT, 'web', 'package.json')).resolve('axe-core/axe.min.js'), 'utf8');
  await page.waitForLoadState('networkidle');
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource + '\n;0');
  const res = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] }));
  return res.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.slice(0, 3).map((n) => `${what}: [${v.impact}] ${v.id} ${n.target.join(' ')}`));
}

async function authorise(p) {
  return ok(await srv.api('POST', '/api/v1/verify_authorisations', {
    id_number: p.id_number, name: p.name, signed_on: '2025-09-01', valid_until: '2030-12-31', scan: `scan-${p.id}.pdf`, division: D.div,
  }), 201);
}

before(async () => {
  if (skip) return;
  assertBuilt();
  srv = await startWebServer({ env: { MZ_TEST_TODAY: '2025-10-02' } });
  // A registry household with an adult (authorised) and a child; another whose adult has no 授权书.
  const head = await person('张核对', '1970-03-03');
  await person('张小核', '2015-06-06');
  H.flagged = (await ok(await srv.api('POST', '/api/v1/households', { kind: 'hukou', division: D.div, address: '和平区核对路1号', head_person_id: head.id }), 201)).id;
  await ok(await srv.api('POST', '/api/v1/household_members', { household_id: H.flagged, person_id: P['张小核'].id, relation: '20', from_date: '2015-06-06' }), 201);
  await authorise(head);
  const lone = await person('赵未授', '1975-05-05');
  H.unauthorised = (await ok(await srv.api('POST', '/api/v1/households', { kind: 'hukou', division: D.div, address: '和平区核对路2号', head_person_id: lone.id }), 201)).id;
  // Two 低保 cases: 李清白 (nothing on file) and 王存款 (deposits over the limit).
  const cases = [];
  for (const name of ['李清白', '王存款']) {
    const p = await person(name, name === '李清白' ? '1965-01-01' : '1960-02-02');
    await authorise(p);
    const c = await ok(await srv.api('POST', '/api/v1/assistance_cases', {
      program: 'dibao', applicant_person_id: p.id, division: D.div, start_month: '2025-10', bank_account: makeBankCard(),
      members: [{ person_id: p.id, monthly_income_fen: 0, authorisation_scan: 'scan' }],
    }), 201);
    for (const a of ['accept', 'investigate', 'verify', 'deliberate', 'review', 'publicise']) {
      await ok(await srv.api('POST', `/api/v1/assistance_cases/${c.id}/actions/${a}`, { comment: '测试' }));
    }
    cases.push(c.id);
    C[name] = c.id;
  }
  await srv.stop({ keepDir: true });
  srv = await startWebServer({ db: srv.dbPath });
  for (const id of cases) await ok(await srv.api('POST', `/api/v1/assistance_cases/${id}/actions/approve`, { comment: '同意' }));
  // A vehicle batch to withdraw in the browser.
  const q = new URLSearchParams({ as_of: '2025-09-30', department: '交管测试' });
  vehicleBatch = (await ok(await srv.api('POST', `/api/v1/verify/sources/vehicle/batches?${q}`, Buffer.from(toCsv([
    ['身份证号码', '号牌号码', '车辆类型', '评估价值（元）'],
    [P['李清白'].id_number, '津Z99999', '小型汽车', '10000'],
  ]), 'utf8'), { raw: true, headers: { 'Content-Type': 'text/csv' } }), 201)).batch_id;
  srv.addUser('comm', { roles: 'community_worker', scope: D.div });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

/** A page logged in as user, with page errors collected. */
async function open(user = 'tester') {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await uiLogin(page, srv.base, user, TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  return { page, errors };
}

test('数据批次: a CSV refused whole with its row errors, then its valid rows; a batch withdrawn with a reason', { skip }, async () => {
  const { page, errors } = await open();
  await page.getByRole('menuitem', { name: '数据批次', exact: true }).click();
  await page.getByRole('heading', { name: '数据批次' }).waitFor();
  await page.getByTestId('current-deposit').waitFor();
  assert.equal((await page.getByTestId('current-deposit').innerText()).trim(), '无');
  assert.equal(await page.getByTestId('sources-table').locator('.el-table__body > tbody > tr.el-table__row').count(), 12);
  const a11y = await axe(page, '数据批次');

  await page.getByTestId('import-deposit').click();
  const bad = P['王存款'].id_number.slice(0, 17) + (P['王存款'].id_number[17] === '0' ? '1' : '0');
  const csv = toCsv([
    ['身份证号码', '姓名', '开户银行', '存款余额（元）'],
    [P['张核对'].id_number, '张核对', '核对测试银行', '900,000.00'],
    [P['王存款'].id_number, '王存款', '核对测试银行', '300000'],
    [bad, '王存款', '核对测试银行', '5'],
  ]);
  await page.locator('#sv-file').setInputFiles({ name: '银行存款.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
  await page.locator('#sv-as-of').fill('2025-09-30');
  await page.locator('#sv-as-of').press('Enter');
  await page.locator('#sv-department').fill('市金融监管测试');
  await page.getByTestId('batch-upload').click();
  const report = page.getByTestId('batch-report');
  await report.getByText('整批未入库').first().waitFor();
  const errRow = page.getByTestId('batch-errors').locator('tbody tr');
  assert.equal(await errRow.count(), 1);
  assert.match(await errRow.innerText(), /^4\s+身份证号码\s+\S+/);
  await page.screenshot({ path: shotPath('40-verify-batch-rejected') });

  await page.getByTestId('batch-mode-valid').click();
  await page.getByTestId('batch-upload').click();
  await report.getByText(/入库 2 行，拒收 1 行/).waitFor();
  await page.keyboard.press('Escape');
  await page.getByTestId('current-deposit').getByText(/^#\d+$/).waitFor();
  assert.equal(await page.getByTestId('asof-deposit').innerText(), '2025-09-30');

  // Withdraw the vehicle batch: a reason is required, then it is no longer in force.
  assert.equal(await page.getByTestId('current-vehicle').innerText(), '#' + vehicleBatch);
  await page.getByTestId('sources-table').locator('tr.el-table__row', { hasText: '公安交管部门' }).locator('.el-table__expand-icon').click();
  await page.getByTestId('withdraw-' + vehicleBatch).click();
  await page.getByTestId('withdraw-confirm').click();
  await page.getByText('请填写撤回原因').waitFor();
  await page.locator('#sv-reason').fill('交管部门通知数据有误');
  await page.getByTestId('withdraw-confirm').click();
  await page.getByTestId('batches-vehicle').getByText('已撤回').waitFor();
  await page.getByTestId('current-vehicle').getByText('无').waitFor();
  const b = await ok(await srv.api('GET', `/api/v1/verify_batches/${vehicleBatch}`));
  assert.equal(b.state, 'withdrawn');
  assert.deepEqual(a11y, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('单户核对 from a registry household: the report flags 金融资产 with its evidence; a missing 授权书 is added from the refusal', { skip }, async () => {
  const { page, errors } = await open();
  await page.goto(`${srv.base}/e/households/${H.flagged}`);
  await page.getByTestId('verify-entry').getByText('尚未核对').waitFor();
  await page.getByTestId('verify-start').click();
  await page.waitForURL(new RegExp(`/verify/check\\?household_id=${H.flagged}`));
  await page.getByTestId('verify-target-info').getByText('2 名成员').waitFor();
  await page.getByTestId('verify-run').click();
  await page.waitForURL(/\/e\/verify_requests\/\d+$/);
  const rep = page.getByTestId('verify-report');
  await rep.waitFor();
  assert.equal((await page.getByTestId('verify-outcome').innerText()).trim(), '不符合');
  const assets = page.getByTestId('verify-rule-assets');
  assert.equal(await assets.getAttribute('data-result'), 'flagged');
  assert.match(await assets.getByTestId('verify-sentence').innerText(), /家庭金融资产 900000\.00 元，超过限额/);
  const ev = page.getByTestId('verify-evidence-assets-deposit');
  assert.deepEqual(await ev.locator('thead th').allInnerTexts(), ['身份证号码', '姓名', '开户银行', '存款余额（元）', '批次']);
  const cells = await ev.locator('tbody tr').first().locator('td').allInnerTexts();
  assert.equal(cells[0], P['张核对'].id_number.slice(0, 6) + '********' + P['张核对'].id_number.slice(14));
  assert.deepEqual(cells.slice(1, 4), ['张核对', '核对测试银行', '900,000.00']);
  assert.equal(await page.getByTestId('verify-rule-income').getAttribute('data-result'), 'passed');
  const members = await page.getByTestId('verify-members').locator('tbody tr').allInnerTexts();
  assert.equal(members.length, 2);
  assert.match(members[0], /张核对.*已授权/s);
  assert.match(members[1], /张小核.*未成年，无需授权/s);
  assert.match(await page.getByTestId('verify-sources').locator('tr', { hasText: '银行存款' }).innerText(), /#\d+\s+2025-09-30/);
  await page.getByTestId('verify-print').waitFor();
  await page.screenshot({ path: shotPath('41-verify-report'), fullPage: true });
  const a11y = await axe(page, '核对报告');
  // The household's page now shows the latest check.
  await page.goto(`${srv.base}/e/households/${H.flagged}`);
  await page.getByTestId('verify-entry').getByText('不符合').waitFor();

  // From a case: its program is chosen, the report links the case.
  await page.goto(`${srv.base}/e/assistance_cases/${C['王存款']}`);
  await page.getByTestId('verify-start').click();
  await page.waitForURL(new RegExp(`/verify/check\\?case_id=${C['王存款']}&program=dibao`));
  await page.getByTestId('verify-target-info').getByText('1 名成员').waitFor();
  await page.getByTestId('verify-run').click();
  await page.waitForURL(/\/e\/verify_requests\/\d+$/);
  assert.equal((await page.getByTestId('verify-outcome').innerText()).trim(), '不符合');
  await page.getByTestId('verify-report').locator(`a[href="/e/assistance_cases/${C['王存款']}"]`).waitFor();

  // Without a 授权书 the check is refused, naming the member, with a link to add it.
  await page.goto(`${srv.base}/verify/check?household_id=${H.unauthorised}`);
  await page.getByTestId('verify-target-info').waitFor();
  await page.getByTestId('verify-run').click();
  const refused = page.getByTestId('verify-auth-missing');
  await refused.getByText('有成年家庭成员没有签署核对授权书').waitFor();
  assert.match(await refused.innerText(), /赵未授/);
  a11y.push(...(await axe(page, '单户核对（缺少授权）')));
  await refused.getByTestId('verify-add-authorisation').click();
  await page.waitForURL(/\/e\/verify_authorisations\/new\?/);
  assert.equal(await page.locator('#fld-name').inputValue(), '赵未授');
  assert.equal(await page.locator('#fld-id_number').inputValue(), P['赵未授'].id_number);
  await page.locator('#fld-valid_until').fill('2030-12-31');
  await page.locator('#fld-valid_until').press('Enter');
  await page.locator('#fld-scan').fill('授权书-赵未授.pdf');
  await page.getByTestId('save').click();
  await page.waitForURL(new RegExp(`/verify/check\\?household_id=${H.unauthorised}`));
  await page.getByTestId('verify-target-info').waitFor();
  await page.getByTestId('verify-run').click();
  await page.waitForURL(/\/e\/verify_requests\/\d+$/);
  assert.equal((await page.getByTestId('verify-outcome').innerText()).trim(), '符合');
  assert.deepEqual(a11y, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('批量复核: confirmation, summary with flags by rule, results filtered by outcome, Excel export', { skip }, async () => {
  const { page, errors } = await open();
  await page.getByRole('menuitem', { name: '批量复核' }).click();
  await page.getByRole('heading', { name: '批量复核' }).waitFor();
  await page.getByTestId('bulk-run').click();
  await page.getByRole('dialog', { name: '开始批量复核' }).waitFor();
  await page.getByRole('button', { name: '开始复核' }).click();
  await page.getByTestId('bulk-summary').waitFor();
  await page.waitForURL(/\/verify\/bulk\?request_id=\d+/);
  assert.equal(await page.getByTestId('bulk-households').innerText(), '2');
  assert.equal(await page.getByTestId('bulk-flagged').innerText(), '1');
  assert.equal(await page.getByTestId('bulk-rules').locator('td[data-rule="assets"]').innerText(), '1');
  assert.equal(await page.getByTestId('bulk-rules').locator('td[data-rule="vehicles"]').innerText(), '0');
  await page.getByTestId('bulk-chart').waitFor();
  assert.match(await page.getByTestId('bulk-chart').getAttribute('aria-label'), /金融资产 1 户/);
  const rows = page.getByTestId('bulk-results').locator('.el-table__body tr');
  await rows.nth(1).waitFor();
  assert.equal(await rows.count(), 2);
  await page.getByTestId('bulk-outcomes').locator('[data-outcome="ineligible"]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="bulk-results"] .el-table__body tr').length === 1);
  assert.match(await rows.first().innerText(), /不符合[\s\S]*金融资产[\s\S]*300,000\.00/);
  await page.screenshot({ path: shotPath('42-verify-bulk'), fullPage: true });
  const a11y = await axe(page, '批量复核');
  const dl = page.waitForEvent('download');
  await page.getByTestId('bulk-export-xlsx').click();
  const file = await (await dl).path();
  assert.equal(fs.readFileSync(file).subarray(0, 2).toString('latin1'), 'PK', 'an xlsx (zip) file');
  // The case's page shows its re-check result; the run's address shows the same run again.
  const runUrl = page.url();
  await page.goto(`${srv.base}/e/assistance_cases/${C['王存款']}`);
  await page.getByTestId('verify-entry-bulk').getByText('不符合').waitFor();
  await page.goto(runUrl);
  await page.getByTestId('bulk-summary').waitFor();
  assert.equal(await page.getByTestId('bulk-households').innerText(), '2');
  assert.deepEqual(a11y, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a community worker verifies single households but has no 批量复核 or 数据批次', { skip }, async () => {
  const { page, errors } = await open('comm');
  const menu = page.getByRole('navigation', { name: '功能菜单' });
  await menu.getByRole('menuitem', { name: '单户核对' }).waitFor();
  assert.equal(await menu.getByRole('menuitem', { name: '批量复核' }).count(), 0);
  assert.equal(await menu.getByRole('menuitem', { name: '数据批次', exact: true }).count(), 0);
  await page.goto(`${srv.base}/verify/bulk`);
  await page.getByTestId('bulk-forbidden').waitFor();
  assert.equal(await page.getByTestId('bulk-run').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});
