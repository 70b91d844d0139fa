// Automated accessibility check (axe-core, a devDependency of web/) of the main pages,
// in normal and 长者模式: no "serious" or "critical" violation (WCAG 2.0/2.1 A and AA
// rules, colour contrast included). The login page, the 工作台, a list, a form, the
// 统计分析 page, the TOTP enrolment page and the citizen portal when the build has one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_PASSWORD } from '../api/lib.mjs';
import { browserSuite, uiLogin, WEB_DIST, axeAudit as audit, settle, WCAG, CONTRAST } from './browser.mjs';

let srv;
let browser;

const skip = browserSuite(undefined, (s) => ({ srv, browser } = s));

async function checkPages(page, mode, runOnly = WCAG) {
  const problems = [];
  await browser.context.clearCookies();
  await page.goto(srv.base + '/login');
  await page.locator('#login-username').waitFor();
  await settle(page);
  problems.push(...(await audit(page, `${mode} login`, runOnly)));

  await uiLogin(page, srv.base, 'tester', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  await page.locator('.home-figure').first().waitFor();
  await settle(page);
  problems.push(...(await audit(page, `${mode} 工作台`, runOnly)));

  await page.goto(srv.base + '/e/sample_cases');
  await page.getByTestId('list-total').waitFor();
  await settle(page);
  problems.push(...(await audit(page, `${mode} list`, runOnly)));

  await page.goto(srv.base + '/e/sample_cases/new');
  await page.getByTestId('save').waitFor();
  await settle(page);
  problems.push(...(await audit(page, `${mode} form`, runOnly)));

  // A detail page with its attachments panel (the case made by the first test).
  const found = await srv.api('GET', '/api/v1/sample_cases?code=AX0001');
  await page.goto(`${srv.base}/e/sample_cases/${found.json.items[0].id}`);
  await page.getByTestId('attachments-panel').waitFor();
  await settle(page);
  problems.push(...(await audit(page, `${mode} detail`, runOnly)));

  await page.goto(srv.base + '/stats?entity=sample_cases');
  await page.getByTestId('stats-district-chart').waitFor();
  await settle(page);
  problems.push(...(await audit(page, `${mode} 统计分析`, runOnly)));
  return problems;
}

test('axe: no serious or critical violations on the main pages', { skip }, async () => {
  await srv.api('POST', '/api/v1/sample_cases', { title: '无障碍检查案件', code: 'AX0001', apply_date: '2024-03-01', division: '120101001001' });
  const page = await browser.context.newPage();
  const problems = await checkPages(page, 'normal');
  assert.deepEqual(problems, []);
  await page.close();
});

test('axe: 长者模式 (high contrast) has none either', { skip }, async () => {
  const page = await browser.context.newPage();
  await page.goto(srv.base + '/login');
  await page.evaluate(() => localStorage.setItem('mz.prefs', JSON.stringify({ elder: true, script: 'hans' })));
  const problems = await checkPages(page, 'elder', CONTRAST);
  assert.deepEqual(problems, []);
  await page.evaluate(() => localStorage.removeItem('mz.prefs'));
  await page.close();
});

const portal = (() => {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(WEB_DIST, '.vite', 'manifest.json'), 'utf8'));
    return Object.keys(m).some((k) => /views\/portal\//.test(k));
  } catch {
    return false;
  }
})();

test('axe: the citizen portal', { skip: skip || (!portal && 'no portal pages in this build') }, async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await page.goto(srv.base + '/portal');
  await page.locator('main, [role=main]').first().waitFor();
  await settle(page);
  assert.deepEqual(await audit(page, 'portal'), []);
  await page.close();
});

// Last: it turns the TOTP policy on for the whole server.
test('axe: TOTP enrolment page', { skip }, async () => {
  srv.addUser('a11y_admin', { roles: 'sysadmin', name: '无障碍管理员' });
  const admin = await srv.login('a11y_admin', TEST_PASSWORD);
  assert.equal((await admin.api('PATCH', '/api/v1/auth/config', { totp_required: 1 })).status, 200);
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await uiLogin(page, srv.base, 'a11y_admin', TEST_PASSWORD);
  await page.waitForURL(/\/totp/);
  await page.getByTestId('totp-qr').waitFor();
  await settle(page);
  assert.deepEqual(await audit(page, 'totp'), []);
  await page.close();
});
