// TOTP enrolment in the browser and the 统计分析 page.
// An account whose roles need a second factor and that has none enrolled lands on
// /totp (not on "无法读取系统元数据"), sees the QR code and the secret, verifies a code
// and reaches the 工作台; its next login asks for the 动态口令. The 统计分析 page shows
// the figures by district and by month as charts and as tables, and exports a PNG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TEST_PASSWORD, totpCode } from '../api/lib.mjs';
import { browserSuite, shotPath, uiLogin } from './browser.mjs';

let srv;
let browser;

const skip = browserSuite(undefined, (s) => ({ srv, browser } = s));

test('统计分析: by district, by month, treemap; tables and image export', { skip }, async () => {
  for (const [i, division] of ['120101001001', '120101001001', '120103000000'].entries()) {
    const r = await srv.api('POST', '/api/v1/sample_cases', { title: '统计测试案件' + i, code: 'ST000' + i, apply_date: '2024-03-0' + (i + 1), division });
    assert.equal(r.status, 201);
  }
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await uiLogin(page, srv.base, 'tester', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  await page.getByRole('menuitem', { name: '统计分析' }).click();
  await page.getByRole('heading', { name: '统计分析' }).waitFor();
  await page.locator('.el-select', { has: page.locator('#stats-entity') }).click();
  await page.getByRole('option', { name: '测试案件' }).click();
  await page.waitForURL(/entity=sample_cases/);
  await page.getByTestId('stats-district-chart').waitFor();
  await page.getByTestId('stats-month-chart').waitFor();
  await page.getByTestId('stats-tree-chart').waitFor();
  const label = await page.getByTestId('stats-district-chart').getAttribute('aria-label');
  assert.match(label, /和平区 2/);
  assert.match(label, /河西区 1/);
  await page.screenshot({ path: shotPath('30-stats'), fullPage: true });

  // By district as a table.
  await page.getByTestId('stats-district-table-toggle').click();
  const table = page.getByTestId('stats-district-table');
  await table.waitFor();
  const row = table.locator('tr', { hasText: '和平区' });
  await row.waitFor();
  assert.match(await row.innerText(), /和平区\s+2\s+66\.7%/);

  // By month on the date field 申请日期: March 2024 is outside the last 12 months, the
  // registration time (default) counts all three in this month.
  const month = new Date().toISOString().slice(0, 7);
  assert.match(await page.getByTestId('stats-month-chart').getAttribute('aria-label'), new RegExp(`${month} 3`));

  // The treemap drills into 和平区 (its streets) from the table.
  await page.getByTestId('stats-tree-table-toggle').click();
  await page.getByTestId('stats-tree-table').locator('tr', { hasText: '和平区' }).click();
  await page.getByRole('heading', { name: /和平区区划分布/ }).waitFor();
  await page.getByTestId('stats-tree-table').locator('tr', { hasText: '劝业场街道' }).waitFor();
  await page.getByTestId('stats-tree-up').click();
  await page.getByTestId('stats-tree-table').locator('tr', { hasText: '河西区' }).waitFor();

  // Export the month chart as an image.
  const dl = page.waitForEvent('download');
  await page.getByTestId('stats-month-export').click();
  const file = await (await dl).path();
  const head = fs.readFileSync(file).subarray(0, 8);
  assert.deepEqual([...head.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG');
  assert.deepEqual(errors, []);
  await page.close();
});

// Last: it turns the TOTP policy on for the whole server.
test('TOTP: an account that must enrol binds an authenticator, then logs in with it', { skip }, async () => {
  srv.addUser('approver', { roles: 'sysadmin', name: '审批管理员' });
  const admin = await srv.login('approver', TEST_PASSWORD);
  assert.equal((await admin.api('PATCH', '/api/v1/auth/config', { totp_required: 1 })).status, 200);
  await admin.api('POST', '/api/v1/auth/logout', {});

  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await uiLogin(page, srv.base, 'approver', TEST_PASSWORD);
  await page.waitForURL(/\/totp/);
  await page.getByRole('heading', { name: '绑定动态口令' }).waitFor();
  await page.getByTestId('totp-qr').waitFor();
  assert.match(await page.getByTestId('totp-qr').getAttribute('src'), /^data:image\/svg\+xml/);
  const secret = await page.getByTestId('totp-secret').getAttribute('data-secret');
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  assert.equal(await page.getByText('无法读取系统元数据').count(), 0);
  await page.screenshot({ path: shotPath('31-totp-enrol'), fullPage: true });

  // A reload (or any other address) stays on the enrolment page.
  await page.goto(srv.base + '/e/users');
  await page.waitForURL(/\/totp\?redirect=/);
  await page.getByTestId('totp-qr').waitFor();
  const secret2 = await page.getByTestId('totp-secret').getAttribute('data-secret');

  // A wrong code is shown under the field; the right one continues to the page asked for.
  await page.locator('#totp-code').fill('000000' === totpCode(secret2) ? '111111' : '000000');
  await page.getByTestId('totp-verify').click();
  await page.locator('.el-form-item__error', { hasText: '动态口令不正确' }).waitFor();
  await page.locator('#totp-code').fill(totpCode(secret2));
  await page.locator('#totp-code').press('Enter');
  await page.waitForURL(/\/e\/users$/);
  await page.getByTestId('header-user').filter({ hasText: '审批管理员' }).waitFor();

  // The next login asks for the 动态口令 (the next time step: the last one is used).
  await page.getByTestId('logout').click();
  await page.waitForURL(/\/login/);
  await uiLogin(page, srv.base, 'approver', TEST_PASSWORD);
  await page.locator('#login-totp').waitFor();
  await page.locator('#login-totp').fill(totpCode(secret2, Date.now() / 1000 + 30));
  await page.locator('#login-totp').press('Enter');
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});
