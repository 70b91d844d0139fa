// The public side in a real browser (docs/portal.md): the policy library
// without login (search, the 2012 work plan with its 发文字号, print view),
// then a citizen registers in the service hall, logs in and sees 我的办件.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeIdNumber, makePhone } from '../api/lib.mjs';
import { browserSuite, shotPath } from './browser.mjs';

let srv;
let browser;

const skip = browserSuite(undefined, (s) => ({ srv, browser } = s));

test('portal: search 民政 without login, open the work plan, print view', { skip }, async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // From the staff login page to the public library.
  await page.goto(srv.base + '/login');
  await page.getByRole('link', { name: '政策文件' }).click();
  await page.waitForURL(/\/portal$/);
  await page.getByRole('heading', { name: '政策文件', level: 1 }).waitFor();
  await page.locator('#policy-q').fill('民政');
  await page.getByTestId('policy-search').click();
  await page.waitForURL(/q=%E6%B0%91%E6%94%BF/);
  const link = page.getByRole('link', { name: '关于印发《2012年民政工作要点》的通知' });
  await link.waitFor();
  await page.screenshot({ path: shotPath('portal-01-list'), fullPage: true });
  await link.click();
  await page.waitForURL(/\/portal\/policies\/\d+$/);
  await page.getByTestId('doc-no').filter({ hasText: '津民发〔2012〕1号' }).waitFor();
  await page.getByTestId('index-no').filter({ hasText: '11120000000125735B/2020-02311' }).waitFor();
  await page.getByText('加强廉政行风建设', { exact: false }).first().waitFor();
  for (const h of ['政策解读', '相关政策', '相关报道']) await page.getByRole('heading', { name: h }).waitFor();
  await page.screenshot({ path: shotPath('portal-02-document'), fullPage: true });
  // The print stylesheet hides the site's header.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('.portal-header').isVisible(), false);
  assert.equal(await page.getByTestId('print').isVisible(), false);
  await page.emulateMedia({ media: 'screen' });
  assert.deepEqual(errors, []);
  await page.close();
});

test('hall: register a citizen, log in, 我的办件', { skip }, async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await page.goto(srv.base + '/hall');
  await page.getByTestId('matter-tekun').filter({ hasText: '即将开通' }).waitFor();
  await page.getByTestId('matter-dibao').filter({ hasText: '进入办理' }).waitFor();
  await page.getByTestId('matter-register').getByRole('link', { name: '进入办理' }).click();
  await page.waitForURL(/\/hall\/register$/);
  const phone = makePhone();
  await page.locator('#reg-name').fill('网上申请人');
  await page.locator('#reg-id').fill(makeIdNumber({ birth: '19850315', seq: 77 }));
  await page.locator('#reg-phone').fill(phone);
  await page.locator('#reg-password').fill('123');
  await page.locator('#reg-password2').fill('123');
  await page.getByTestId('reg-submit').click();
  await page.getByText('密码至少 8 位').waitFor();
  await page.locator('#reg-password').fill('Portal-Pa55-津门');
  await page.locator('#reg-password2').fill('Portal-Pa55-津门');
  await page.getByTestId('reg-submit').click();
  await page.getByText(`注册成功，请使用手机号 ${phone} 和密码登录`).waitFor();
  await page.getByRole('link', { name: '去登录' }).click();
  await page.waitForURL(/\/hall\/login/);
  await page.locator('#hall-login-password').fill('Portal-Pa55-津门');
  await page.locator('#hall-login-password').press('Enter');
  await page.waitForURL(/\/hall\/mine$/);
  await page.getByTestId('portal-user').filter({ hasText: '网上申请人' }).waitFor();
  await page.getByTestId('mine-who').waitFor();
  await page.getByText('暂无申请').waitFor();
  await page.screenshot({ path: shotPath('portal-03-mine'), fullPage: true });
  await page.close();
});
