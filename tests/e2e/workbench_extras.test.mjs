// The workbench's saved filters, attachments, audit tab and treemap in a real
// browser (issue 5 items 3-5), with an axe check of the pages they change, and
// the screenshots of the 网上办事大厅 and of these pages (build/test-artifacts/screenshots).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TEST_PASSWORD } from '../api/lib.mjs';
import { browserSuite, shotPath, uiLogin, axeAudit, settle } from './browser.mjs';

let srv;
let browser;
const MAX = 64 * 1024; // the server's attachment cap in this test
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');

const skip = browserSuite({ env: { MZ_ATTACHMENT_MAX_BYTES: String(MAX) } }, (s) => ({ srv, browser } = s));

async function officerPage() {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await uiLogin(page, srv.base, 'tester', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  return page;
}

test('saved filters: save the current filter, reload, apply it, rename, delete', { skip }, async () => {
  for (const t of ['甲组低保案件', '甲组复核案件', '乙组案件']) {
    const r = await srv.api('POST', '/api/v1/sample_cases', { title: t, apply_date: '2024-03-01', division: '120101001001' });
    assert.equal(r.status, 201);
  }
  const page = await officerPage();
  await page.goto(srv.base + '/e/sample_cases');
  await page.locator('#flt-q').fill('甲组');
  await page.getByTestId('apply-filters').click();
  await page.waitForURL(/q=%E7%94%B2%E7%BB%84/);
  await page.getByTestId('list-total').filter({ hasText: '共 2 条' }).waitFor();

  await page.getByTestId('saved-filters-menu').click();
  await page.getByTestId('save-filter').click();
  const box = page.locator('.el-message-box');
  await box.locator('input').fill('甲组案件');
  await box.getByRole('button', { name: '保存' }).click();
  await page.locator('.el-message', { hasText: '筛选方案已保存' }).waitFor();
  await page.screenshot({ path: shotPath('50-list-saved-filter'), fullPage: true });
  const axeList = await axeAudit(page, 'list with saved filters');

  // Stored on the server: a fresh page load without the query finds it.
  await page.goto(srv.base + '/e/sample_cases');
  await page.getByTestId('list-total').filter({ hasText: /共 [3-9]\d* 条|共 \d{2,} 条/ }).waitFor();
  await page.getByTestId('saved-filters-menu').filter({ hasText: '（1）' }).click();
  await page.locator('[data-filter-name="甲组案件"]').click();
  await page.waitForURL(/q=%E7%94%B2%E7%BB%84/);
  await page.getByTestId('list-total').filter({ hasText: '共 2 条' }).waitFor();
  assert.equal(await page.locator('#flt-q').inputValue(), '甲组');

  // Rename and delete (with a confirmation) from the manage dialog.
  await page.getByTestId('saved-filters-menu').click();
  await page.getByTestId('manage-filters').click();
  await page.locator('[data-rename="甲组案件"]').click();
  await box.locator('input').fill('甲组全部');
  await box.getByRole('button', { name: '确定' }).click();
  await page.getByTestId('filters-table').getByText('甲组全部').waitFor();
  // Shared with colleagues: another officer applies it from 同事共享的方案.
  await page.locator('[data-share="甲组全部"]').click();
  await page.locator('.el-message', { hasText: '已共享“甲组全部”' }).waitFor();
  srv.addUser('colleague', { roles: 'city_officer', name: '同事甲' });
  const colPage = await browser.context.newPage();
  await browser.context.clearCookies();
  await uiLogin(colPage, srv.base, 'colleague', TEST_PASSWORD);
  await colPage.getByRole('heading', { name: '工作台' }).waitFor();
  await colPage.goto(srv.base + '/e/sample_cases');
  await colPage.getByTestId('saved-filters-menu').click();
  await colPage.locator('[data-filter-name="甲组全部"][data-shared="1"]').filter({ hasText: '甲组全部（' }).click();
  await colPage.waitForURL(/q=%E7%94%B2%E7%BB%84/);
  await colPage.getByTestId('list-total').filter({ hasText: '共 2 条' }).waitFor();
  await colPage.close();
  await browser.context.clearCookies();
  await uiLogin(page, srv.base, 'tester', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  await page.goto(srv.base + '/e/sample_cases');
  await page.getByTestId('saved-filters-menu').click();
  await page.getByTestId('manage-filters').click();
  await page.locator('[data-remove="甲组全部"]').click();
  await box.getByText('确定删除筛选方案“甲组全部”吗？').waitFor();
  await box.getByRole('button', { name: '删除' }).click();
  await page.getByTestId('filters-table').getByText('没有保存的筛选方案').waitFor();
  const left = await srv.api('GET', '/api/v1/me/filters?entity=sample_cases');
  assert.deepEqual(left.json.items, []);
  assert.deepEqual(axeList, []);
  await page.close();
});

let caseId;

test('attachments: upload a PDF, refuse a wrong type and an oversize file, download, delete with a reason', { skip }, async () => {
  const c = await srv.api('POST', '/api/v1/sample_cases', { title: '附件浏览器测试', apply_date: '2024-03-01', division: '120101001001' });
  caseId = c.json.id;
  const page = await officerPage();
  await page.goto(`${srv.base}/e/sample_cases/${caseId}`);
  const panel = page.getByTestId('attachments-panel');
  await panel.getByText('每个不超过 64 KB').waitFor();

  // No kind chosen: the form says so before sending anything.
  await page.getByTestId('att-file').setInputFiles({ name: '授权书.pdf', mimeType: 'application/pdf', buffer: PDF });
  await page.getByTestId('att-upload').click();
  await panel.getByText('请选择附件类型').waitFor();
  await page.getByTestId('att-kind').click();
  await page.locator('.el-select-dropdown__item', { hasText: '授权书' }).click();
  await page.getByTestId('att-upload').click();
  await page.locator('.el-message', { hasText: '附件已上传' }).waitFor();
  await page.getByTestId('att-table').getByText('授权书.pdf').waitFor();

  // A file that is not a PDF/JPEG/PNG whatever its name: the server's 415 message under the field.
  await page.getByTestId('att-file').setInputFiles({ name: '扫描件.pdf', mimeType: 'application/pdf', buffer: Buffer.from('MZ\x90\x00 this is a program') });
  await page.getByTestId('att-upload').click();
  await panel.getByText('只接受 PDF、JPEG、PNG 格式的扫描件（按文件内容判断）').waitFor();
  await page.screenshot({ path: shotPath('51-detail-attachment-error'), fullPage: true });

  // Over the cap: refused before upload, with the limit named.
  await page.getByTestId('att-file').setInputFiles({ name: '大文件.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([PDF, Buffer.alloc(MAX)]) });
  await panel.getByText('文件超过 64 KB 的上限').waitFor();
  assert.equal(await page.getByTestId('att-upload').isDisabled(), false);
  await page.getByTestId('att-upload').click();
  const list = await srv.api('GET', `/api/v1/sample_cases/${caseId}/attachments`);
  assert.deepEqual(list.json.items.map((a) => a.filename), ['授权书.pdf'], 'only the good file is stored');

  // Download: the same bytes under the Chinese name.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('att-download').first().click()]);
  assert.equal(dl.suggestedFilename(), '授权书.pdf');
  assert.ok(fs.readFileSync(await dl.path()).equals(PDF));

  // In the change history.
  await page.getByRole('tab', { name: '变更记录' }).click();
  await page.getByTestId('history').getByText('上传附件').waitFor();
  assert.equal(await page.getByRole('tab', { name: '审计记录' }).count(), 0, 'no audit tab for an officer');
  await page.getByRole('tab', { name: '基本信息' }).click();
  const axeDetail = await axeAudit(page, 'detail with attachments');

  // Delete: a reason is required, then it is gone.
  await page.getByTestId('att-delete').first().click();
  const box = page.locator('.el-message-box');
  await box.getByText('确定删除附件“授权书.pdf”吗？').waitFor();
  await box.getByRole('button', { name: '删除' }).click();
  await box.getByText('请填写删除原因', { exact: true }).waitFor();
  await box.locator('input').fill('扫描不清晰，重新上传');
  await box.getByRole('button', { name: '删除' }).click();
  await page.locator('.el-message', { hasText: '附件已删除' }).waitFor();
  await page.getByTestId('att-table').getByText('暂无附件').waitFor();
  const h = await srv.api('GET', `/api/v1/sample_cases/${caseId}/history`);
  assert.equal(h.json.items.find((x) => x.action === 'attachment_delete')?.comment, '扫描不清晰，重新上传');
  assert.deepEqual(axeDetail, []);
  await page.close();
});

test('audit tab: the audit administrator sees who did what to the record', { skip }, async () => {
  assert.ok(caseId, 'the attachment test ran first');
  srv.addUser('auditor_e2e', { roles: 'auditadmin', name: '审计员' });
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await uiLogin(page, srv.base, 'auditor_e2e', TEST_PASSWORD);
  await page.waitForURL((u) => !/\/login/.test(u.pathname));
  await page.goto(`${srv.base}/e/sample_cases/${caseId}`);
  await page.getByRole('tab', { name: '审计记录' }).waitFor();
  const trail = page.getByTestId('audit-trail');
  for (const a of ['新增', '上传附件', '下载附件', '删除附件']) await trail.getByText(a, { exact: true }).first().waitFor();
  await trail.getByText('tester').first().waitFor();
  await trail.getByText('127.0.0.1').first().waitFor();
  await settle(page);
  await page.screenshot({ path: shotPath('52-detail-audit'), fullPage: true });
  assert.deepEqual(await axeAudit(page, 'audit tab'), []);
  await page.close();
});

test('treemap of divisions with its table; screenshots of the dashboard and the hall', { skip }, async () => {
  const page = await officerPage();
  await page.goto(`${srv.base}/stats?entity=sample_cases`);
  await page.getByTestId('stats-tree-chart').waitFor();
  await page.getByTestId('stats-tree-table-toggle').click();
  await page.getByTestId('stats-tree-table').locator('tr', { hasText: '和平区' }).waitFor();
  await settle(page);
  await page.screenshot({ path: shotPath('53-dashboard-treemap'), fullPage: true });
  await browser.context.clearCookies();
  await page.goto(srv.base + '/hall');
  await page.locator('main, [role=main]').first().waitFor();
  await settle(page);
  await page.screenshot({ path: shotPath('54-hall'), fullPage: true });
  await page.close();
});

test('a full load of the 工作台: /auth/me and /meta once each, figures and to-do steps in two counts, figures equal to the lists', { skip }, async () => {
  const r = await srv.api('POST', '/api/v1/sample_cases', { title: '首屏案件', apply_date: '2024-03-01', division: '120101001001' });
  assert.equal(r.status, 201);
  await (await officerPage()).close(); // logged in: the session cookie is in the context
  const page = await browser.context.newPage();
  const asked = [];
  page.on('request', (q) => asked.push(new URL(q.url()).pathname));
  await page.goto(srv.base + '/');
  await page.locator('.home-figure').first().waitFor();
  await page.locator('[data-testid="todo-list"], .el-empty').first().waitFor();
  const n = (p) => asked.filter((x) => x === p).length;
  assert.equal(n('/api/v1/auth/me'), 1);
  assert.equal(n('/api/v1/meta'), 1);
  assert.equal(n('/api/v1/counts'), 2, 'figures and to-do steps counted in two requests');
  const figures = await page.evaluate(() =>
    [...document.querySelectorAll('.home-figure')].map((a) => ({ href: new URL(a.href).pathname, n: a.querySelector('.home-figure-n').textContent.trim() })),
  );
  assert.ok(figures.length >= 1);
  for (const f of figures) {
    const list = await srv.api('GET', `/api/v1/${f.href.replace('/e/', '')}?size=1`);
    assert.equal(list.status, 200);
    const shown = list.json.total_capped ? `${list.json.total - 1}+` : String(list.json.total);
    assert.equal(f.n, shown, `${f.href}: the figure equals the list's total`);
  }
  await page.close();
});
