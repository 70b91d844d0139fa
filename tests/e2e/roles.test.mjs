// Roles in the browser: the lockout message, the menu each role gets, the
// division picker limited to the user's scope, and editing a record through
// a validation error to a saved change with its history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { TEST_PASSWORD } from '../api/lib.mjs';
import { browserSuite, shotPath, uiLogin } from './browser.mjs';

let srv;
let browser;

const skip = browserSuite(undefined, (s) => {
  ({ srv, browser } = s);
  srv.addUser('e2e_locked', { roles: 'leader', scope: '120101' });
  srv.addUser('e2e_audit', { roles: 'auditadmin', name: '审计员甲' });
  srv.addUser('e2e_sys', { roles: 'sysadmin', name: '系统管理员甲' });
  srv.addUser('e2e_leader', { roles: 'leader', scope: '120101', name: '和平区领导' });
  srv.addUser('e2e_street', { roles: 'street_officer', scope: '120101001', name: '劝业场街道业务员' });
});

async function freshPage() {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, errors };
}

/** The labels of the side menu's entries. */
async function menuLabels(page) {
  await page.locator('.mz-menu').waitFor();
  // Open every submenu so nested entries are listed too.
  const subs = page.locator('.mz-menu .el-sub-menu:not(.is-opened) > .el-sub-menu__title');
  for (let i = await subs.count(); i > 0; i = await subs.count()) await subs.first().click();
  const items = await page.locator('.mz-menu .el-menu-item').allInnerTexts();
  return items.map((t) => t.trim()).filter(Boolean);
}

test('lockout: the fifth wrong password says the account is locked; the right one is refused too', { skip }, async () => {
  const { page, errors } = await freshPage();
  const alert = page.getByRole('alert');
  for (let i = 1; i <= 4; i++) {
    await uiLogin(page, srv.base, 'e2e_locked', `wrong-password-${i}`);
    await alert.filter({ hasText: '用户名或密码错误' }).waitFor();
  }
  await uiLogin(page, srv.base, 'e2e_locked', 'wrong-password-5');
  await alert.filter({ hasText: '账号已被锁定 30 分钟' }).waitFor();
  await page.screenshot({ path: shotPath('roles-01-locked') });
  await uiLogin(page, srv.base, 'e2e_locked', TEST_PASSWORD);
  await alert.filter({ hasText: '账号已被锁定' }).waitFor();
  assert.match(page.url(), /\/login/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('menu per role: 三员 see only their own screens; a leader reads but does not create', { skip }, async () => {
  const seen = {};
  for (const [user, heading] of [['tester', '工作台'], ['e2e_audit', '工作台'], ['e2e_sys', '工作台'], ['e2e_leader', '工作台']]) {
    const { page, errors } = await freshPage();
    await uiLogin(page, srv.base, user, TEST_PASSWORD);
    await page.getByRole('heading', { name: heading }).waitFor();
    seen[user] = await menuLabels(page);
    if (user === 'e2e_leader') {
      await page.getByRole('menuitem', { name: '测试案件' }).click();
      await page.waitForURL(/\/e\/sample_cases$/);
      await page.getByTestId('list-total').waitFor();
      assert.equal(await page.getByTestId('create').count(), 0, 'no 新建 for a read-only role');
      assert.equal(await page.getByRole('button', { name: '导入' }).count(), 0, 'no 导入');
      assert.equal(await page.getByTestId('export-csv').count(), 0, 'no export without *.export');
      await page.screenshot({ path: shotPath('roles-02-leader-list'), fullPage: true });
    }
    assert.deepEqual(errors, [], user);
    await page.close();
  }
  const has = (u, label) => seen[u].some((t) => t.includes(label));
  assert.ok(has('tester', '测试案件') && has('tester', '人员信息') && has('tester', '救助案件'), seen.tester.join(','));
  assert.ok(!has('tester', '用户管理') && !has('tester', '审计日志'), 'a business officer administers nothing');
  assert.ok(has('e2e_audit', '审计日志'), seen.e2e_audit.join(','));
  assert.ok(!has('e2e_audit', '测试案件') && !has('e2e_audit', '人员信息') && !has('e2e_audit', '用户管理'));
  assert.ok(has('e2e_sys', '用户管理'), seen.e2e_sys.join(','));
  assert.ok(!has('e2e_sys', '审计日志') && !has('e2e_sys', '人员信息') && !has('e2e_sys', '测试案件'));
  assert.ok(has('e2e_leader', '测试案件') && !has('e2e_leader', '用户管理') && !has('e2e_leader', '审计日志'));
});

test('division picker: a street officer picks only among the street\'s communities', { skip }, async () => {
  const { page, errors } = await freshPage();
  const inStreet = await srv.api('GET', '/api/v1/divisions?parent=120101001');
  assert.equal(inStreet.status, 200);
  const communities = inStreet.json.items.map((d) => d.name);
  assert.ok(communities.length > 1, 'the street has communities');
  const otherStreet = (await srv.api('GET', '/api/v1/divisions?parent=120101')).json.items.map((d) => d.name).filter((n) => n !== '劝业场街道');
  assert.ok(otherStreet.length > 0);

  await uiLogin(page, srv.base, 'e2e_street', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  await page.goto(srv.base + '/e/sample_cases/new');
  await page.getByRole('heading', { name: '新建测试案件' }).waitFor();
  await page.locator('[data-field="division"] .el-cascader').click();
  const nodes = page.locator('.el-cascader__dropdown:visible .el-cascader-menu').first().locator('.el-cascader-node');
  await nodes.first().waitFor();
  const shown = (await nodes.allInnerTexts()).map((t) => t.trim());
  assert.deepEqual([...shown].sort(), [...communities].sort(), 'the first level is the street\'s own communities');
  for (const name of ['和平区', ...otherStreet]) assert.ok(!shown.includes(name), `${name} is out of scope`);
  await page.screenshot({ path: shotPath('roles-03-street-picker') });
  await page.keyboard.press('Escape');
  assert.deepEqual(errors, []);
  await page.close();
});

test('edit: a validation error under its field, then the saved change in the history', { skip }, async () => {
  const created = await srv.api('POST', '/api/v1/sample_cases', { title: '待修改的案件', code: 'ED0001', apply_date: '2024-05-01', division: '120101001001' });
  assert.equal(created.status, 201);
  const id = created.json.id;
  const { page, errors } = await freshPage();
  await uiLogin(page, srv.base, 'tester', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  await page.goto(`${srv.base}/e/sample_cases/${id}`);
  await page.getByTestId('detail-title').filter({ hasText: '待修改的案件' }).waitFor();
  await page.getByTestId('edit').click();
  await page.waitForURL(new RegExp(`/e/sample_cases/${id}/edit$`));
  const title = page.locator('#fld-title');
  await title.waitFor();
  assert.equal(await title.inputValue(), '待修改的案件', 'the form opens with the record');
  await title.fill('改');
  await page.getByTestId('save').click();
  const err = page.locator('[data-field="title"] .el-form-item__error');
  await err.waitFor();
  assert.match(await err.innerText(), /标题至少 2 个字/);
  assert.equal((await srv.api('GET', `/api/v1/sample_cases/${id}`)).json.title, '待修改的案件', 'nothing saved');
  await page.screenshot({ path: shotPath('roles-04-edit-error'), fullPage: true });

  await title.fill('已修改的案件');
  const resp = page.waitForResponse((r) => r.url().endsWith(`/api/v1/sample_cases/${id}`) && ['PATCH', 'PUT'].includes(r.request().method()));
  await page.getByTestId('save').click();
  assert.equal((await resp).status(), 200);
  await page.waitForURL(new RegExp(`/e/sample_cases/${id}$`));
  await page.getByTestId('detail-title').filter({ hasText: '已修改的案件' }).waitFor();
  await page.getByRole('tab', { name: '变更记录' }).click();
  const history = page.getByTestId('history');
  await history.getByText('已修改的案件').waitFor();
  assert.match(await history.innerText(), /待修改的案件/, 'the history shows the old value too');
  const saved = (await srv.api('GET', `/api/v1/sample_cases/${id}`)).json;
  assert.equal(saved.title, '已修改的案件');
  assert.equal(saved.division, '120101001001', 'the division the form opened with is kept');
  assert.deepEqual(errors, []);
  await page.close();
});

test('工作台: the steps a street officer may act on, what is due soon, narrowed by the working area', { skip }, async () => {
  const comms = (await srv.api('GET', '/api/v1/divisions?parent=120101001')).json.items;
  const streets = (await srv.api('GET', '/api/v1/divisions?parent=120101')).json.items.filter((d) => d.code12 !== '120101001000');
  assert.ok(comms.length >= 2 && streets.length >= 1);
  const [c1, c2] = comms;
  const otherStreet = (await srv.api('GET', `/api/v1/divisions?parent=${streets[0].code12}`)).json.items[0];
  let seq = 0;
  const mk = async (title, division) => {
    const r = await srv.api('POST', '/api/v1/sample_cases', { title, code: 'TD' + String(++seq).padStart(4, '0'), apply_date: '2024-06-01', division });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal((await srv.api('POST', `/api/v1/sample_cases/${r.json.id}/actions/submit`, { comment: '提交' })).status, 200);
    return r.json.id;
  };
  const a = await mk('待办甲', c1.code12);
  await mk('待办乙', c2.code12);
  await mk('待办丙', otherStreet.code12);
  // 甲 was submitted four days ago: its five-day deadline is tomorrow.
  const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  const r = spawnSync('sqlite3', [srv.dbPath, `UPDATE sample_cases SET state_due = '${tomorrow}' WHERE id = ${a}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const inStreet = (await srv.api('GET', '/api/v1/sample_cases?state=submitted&division=120101001&size=1')).json.total;

  const { page, errors } = await freshPage();
  await uiLogin(page, srv.base, 'e2e_street', TEST_PASSWORD);
  await page.getByRole('heading', { name: '工作台' }).waitFor();
  const item = page.locator('[data-todo="sample_cases:submitted"]');
  await item.filter({ hasText: `${inStreet} 件` }).waitFor();
  await item.filter({ hasText: '临期 1' }).waitFor();
  assert.equal(await page.locator('[data-todo="sample_cases:draft"]').count(), 0, 'drafts wait for nobody');
  await page.screenshot({ path: shotPath('roles-05-todo'), fullPage: true });

  // The working area: 甲's community only.
  await page.getByTestId('area-picker').locator('.el-cascader').click();
  await page.locator('.el-cascader__dropdown:visible .el-cascader-node', { hasText: c1.name }).click();
  await page.keyboard.press('Escape');
  const inComm = (await srv.api('GET', `/api/v1/sample_cases?state=submitted&division=${c1.code12}&size=1`)).json.total;
  assert.ok(inComm < inStreet);
  await item.filter({ hasText: `${inComm} 件` }).waitFor();
  await page.getByText(`工作区域${c1.name}内各类数据的记录数`).waitFor();
  // Remembered after a reload.
  await page.reload();
  await item.filter({ hasText: `${inComm} 件` }).waitFor();

  // 临期 opens the list of what is due.
  await item.locator('.home-due').click();
  await page.waitForURL(/\/e\/sample_cases\?/);
  await page.getByTestId('list-total').filter({ hasText: '共 1 条' }).waitFor();
  await page.getByTestId('list-table').getByRole('link', { name: '待办甲' }).waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});
