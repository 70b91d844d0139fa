// 长者模式, 简/繁 and the keyboard in a real browser: keyboard-only login (Tab/Enter),
// the menu driven from the keyboard, 长者模式 growing the text and remembered after a
// reload, and the 繁体 switch converting every page (工作台 -> 工作臺), remembered too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_PASSWORD } from '../api/lib.mjs';
import { browserSuite, shotPath } from './browser.mjs';

let srv;
let browser;

const skip = browserSuite(undefined, (s) => ({ srv, browser } = s));

const activeId = (page) => page.evaluate(() => document.activeElement?.id || '');

/** Press Tab until the element with this id has the focus (at most `max` presses). */
async function tabTo(page, id, max = 12) {
  for (let i = 0; i < max; i++) {
    if ((await activeId(page)) === id) return i;
    await page.keyboard.press('Tab');
  }
  assert.equal(await activeId(page), id, `Tab reaches #${id}`);
}

async function keyboardLogin(page) {
  await page.goto(srv.base + '/login');
  await page.locator('#login-username').waitFor();
  const presses = await tabTo(page, 'login-username');
  assert.ok(presses <= 2, `the user name is the first field (${presses} Tab presses)`);
  await page.keyboard.type('tester');
  await page.keyboard.press('Tab');
  assert.equal(await activeId(page), 'login-password');
  await page.keyboard.type(TEST_PASSWORD);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: '工作台' }).waitFor();
}

test('keyboard only: login with Tab and Enter, skip link, menu by keyboard', { skip }, async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await keyboardLogin(page);
  await page.getByTestId('header-user').filter({ hasText: '测试业务员' }).waitFor();

  // The first Tab on a page shows the skip link; Enter moves the focus to the main content.
  await page.locator('body').focus();
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('Tab');
  const skipText = await page.evaluate(() => document.activeElement?.textContent?.trim());
  assert.equal(skipText, '跳到主要内容');
  const box = await page.locator('.skip-link').boundingBox();
  assert.ok(box && box.x >= 0 && box.y >= 0, 'the focused skip link is on screen');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'mz-main');

  // The menu: focus an item, Enter opens its screen; the focus outline is visible.
  const item = page.getByRole('menuitem', { name: '测试案件' });
  await item.focus();
  const outline = await item.evaluate((el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth);
  assert.match(outline, /solid [3-9]/, `visible focus outline (${outline})`);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/e\/sample_cases$/);
  await page.getByRole('heading', { name: '测试案件' }).waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test('长者模式 grows the text and is remembered after a reload', { skip }, async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await keyboardLogin(page);
  const size = () => page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
  const btnH = () => page.getByTestId('logout').evaluate((el) => el.getBoundingClientRect().height);
  const before = await size();
  await page.getByTestId('elder-switch').click();
  await page.waitForFunction(() => document.documentElement.classList.contains('elder-mode'));
  const after = await size();
  assert.ok(after >= before + 4, `body text grows (${before} -> ${after} px)`);
  assert.ok((await btnH()) >= 44, 'buttons are at least 44 px high');
  await page.screenshot({ path: shotPath('20-elder-home'), fullPage: true });
  await page.reload();
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.classList.contains('elder-mode')), 'remembered after reload');
  assert.equal(await size(), after);
  // Also on the login page (a new visitor's first screen).
  await page.getByTestId('logout').click();
  await page.waitForURL(/\/login/);
  assert.ok(await page.evaluate(() => document.documentElement.classList.contains('elder-mode')));
  await page.getByTestId('elder-switch').click();
  await page.waitForFunction(() => !document.documentElement.classList.contains('elder-mode'));
  await page.close();
});

test('繁体 switch converts the page, follows route changes and is remembered', { skip }, async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await keyboardLogin(page);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-Hans');

  await page.getByTestId('script-switch').getByText('繁').click();
  await page.getByRole('heading', { name: '工作臺' }).waitFor();
  await page.waitForFunction(() => document.documentElement.lang === 'zh-Hant');
  await page.getByRole('menuitem', { name: '測試案件' }).waitFor();
  await page.getByRole('heading', { name: '關鍵數據' }).waitFor();
  assert.equal(await page.getByRole('heading', { name: '工作台', exact: true }).count(), 0);
  await page.screenshot({ path: shotPath('21-hant-home'), fullPage: true });

  // A route change renders new text: the observer converts it.
  await page.getByRole('menuitem', { name: '測試案件' }).click();
  await page.waitForURL(/\/e\/sample_cases$/);
  await page.getByRole('heading', { name: '測試案件' }).waitFor();
  await page.getByTestId('list-total').filter({ hasText: '共 0 條' }).waitFor();
  // Placeholders and aria-labels too; what the user types is never converted.
  const ph = await page.locator('#flt-title').getAttribute('placeholder');
  assert.ok(!ph || !/[们这个为说时发]/.test(ph), `placeholder converted (${ph})`);
  await page.locator('#flt-title').fill('这个');
  assert.equal(await page.locator('#flt-title').inputValue(), '这个');

  // Remembered after a reload.
  await page.reload();
  await page.getByRole('heading', { name: '測試案件' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-Hant');
  assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('mz.prefs')).script), 'hant');

  // Back to 简体: the original text returns.
  await page.getByTestId('script-switch').getByText('简', { exact: true }).or(page.getByTestId('script-switch').getByText('簡')).click();
  await page.getByRole('heading', { name: '测试案件' }).waitFor();
  await page.getByRole('menuitem', { name: '工作台' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-Hans');
  assert.deepEqual(errors, []);
  await page.close();
});
