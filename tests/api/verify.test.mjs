// verify.test.mjs - the 核对 platform (src/modules/verify/): source batches
// imported from department files (CSV, all-or-nothing or valid rows only) and
// pushed by a partner (JSON); hand-built households whose expected flags are
// known (deposits just below and above the limit, two cars, a second flat, a
// company shareholder, a relative of staff, a dead beneficiary, taxed income
// in and out of the 12-month window); a missing authorisation refused; rules
// changing by date; reports listing their evidence; a bulk re-check of the
// paying cases agreeing with single runs. Reference: docs/verify.md.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, assertFieldErrors, show, makeIdNumber, makeBankCard, toCsv, withBadIdCheck, runCli, makeApi, SQLITE_ONLY, TEST_PASSWORD } from './lib.mjs';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

let srv;
const D = {};
const TODAY = '2025-10-02';
const LATER = '2025-10-10';
const STD = 104500; // 低保 from 2025-09-01 (seed)

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}

let seq = 100;
/** A registry person (as the city tester). */
async function person(name, birth) {
  const id_number = makeIdNumber({ birth, seq: seq++, area: '120101' });
  const p = await ok(await srv.api('POST', '/api/v1/persons', { id_number, name, hukou_division: D.a1 }), 201);
  return { ...p, id_number };
}

/** A signed authorisation for a person. */
async function authorise(p, { signed_on = '2025-09-01', valid_until = '2026-08-31' } = {}) {
  return ok(await srv.api('POST', '/api/v1/verify_authorisations', {
    id_number: p.id_number, name: p.name, signed_on, valid_until, scan: `scan-${p.id}.pdf`, division: D.a1,
  }), 201);
}

/** Import a CSV batch of a source. */
function importCsv(source, rows, { as_of = '2025-09-30', mode, api = srv.api } = {}) {
  const q = new URLSearchParams({ as_of, department: '测试部门' });
  if (mode) q.set('mode', mode);
  return api('POST', `/api/v1/verify/sources/${source}/batches?${q}`, Buffer.from(toCsv(rows), 'utf8'), {
    raw: true, headers: { 'Content-Type': 'text/csv' },
  });
}

const verify = (body, api = srv.api) => api('POST', '/api/v1/verify/requests', body);
const U = {}; // logged-in users by name
async function loginAll() {
  for (const name of Object.keys(U)) U[name] = (await srv.login(name, TEST_PASSWORD, { mode: 'bearer' })).api;
}
const H = {}; // households: name -> { members: [person], case }

before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: TODAY } });
  const streets = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items;
  D.s1 = streets[0].code;
  D.a1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${D.s1}`))).items[0].code;
  D.s2 = streets[1].code;
  D.b1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${D.s2}`))).items[0].code;
  srv.addUser('comm', { roles: 'community_worker', scope: D.a1 });
  srv.addUser('other', { roles: 'community_worker', scope: D.b1 });
  srv.addUser('leader', { roles: 'leader', scope: '120000' });
  Object.assign(U, { comm: null, other: null, leader: null });
  await loginAll();

  const spec = {
    clean: [['甲一', '1980-01-01'], ['甲二', '2012-05-05']],
    below: [['乙一', '1975-02-02'], ['乙二', '1978-03-03']],
    above: [['丙一', '1960-04-04']],
    cars: [['丁一', '1970-06-06']],
    flat: [['戊一', '1966-07-07']],
    shareholder: [['己一', '1985-08-08']],
    staff: [['庚一', '1990-09-09']],
    dead: [['辛一', '1940-10-10'], ['辛二', '1945-11-11']],
    income: [['壬一', '1988-12-12']],
  };
  for (const [key, list] of Object.entries(spec)) {
    H[key] = { members: [] };
    for (const [name, birth] of list) H[key].members.push(await person(name, birth));
  }
  for (const h of Object.values(H)) for (const p of h.members) await authorise(p);
});
after(async () => {
  await srv?.stop();
});

const id = (key, i = 0) => H[key].members[i].id_number;

describe('source batches', () => {
  it('lists the twelve declared sources with their columns', async () => {
    const r = await ok(await srv.api('GET', '/api/v1/verify/sources'));
    assert.equal(r.items.length, 12);
    const vehicle = r.items.find((s) => s.source === 'vehicle');
    assert.equal(vehicle.zh, '车辆');
    assert.ok(vehicle.columns.some((c) => c.name === 'plate' && c.required));
    assert.equal(vehicle.batch_id, null);
  });

  it('a file with a bad row is refused whole, naming the row; nothing is stored', async () => {
    const r = await importCsv('deposit', [
      ['身份证号码', '姓名', '开户银行', '存款余额（元）'],
      [id('clean'), '甲一', '测试银行', '10000.00'],
      [id('clean').slice(0, 17) + (id('clean')[17] === '0' ? '1' : '0'), '甲一', '测试银行', '5'],
      [id('below'), '乙一', '测试银行', '12.345'],
    ]);
    const e = assertError(r, 422, 'import_rejected');
    assert.equal(r.json.error.total, 3);
    assert.equal(r.json.error.rejected, 2);
    const fields = r.json.error.errors.map((x) => `${x.row}:${x.field}:${x.code}`);
    assert.deepEqual(fields, ['3:id_number:invalid_id_number', '4:balance:invalid_number']);
    assert.ok(e.message);
    const list = await ok(await srv.api('GET', '/api/v1/verify_batches'));
    assert.equal(list.items.length, 0);
  });

  it('a header that does not fit the source is refused', async () => {
    const r = await importCsv('vehicle', [['身份证号码', '颜色'], [id('cars'), '红']]);
    assertError(r, 422, 'import_rejected');
    const codes = r.json.error.errors.map((x) => `${x.code}:${x.column}`).sort();
    assert.deepEqual(codes, ['missing_column:号牌号码', 'missing_column:车辆类型', 'unknown_column:颜色']);
  });

  it('only the city level (or a partner token) receives batches', async () => {
    const r = await importCsv('deposit', [['身份证号码', '开户银行', '存款余额（元）'], [id('clean'), '银行', '1']], { api: U.comm });
    assert.equal(r.status, 403, show(r));
  });

  it('imports every source of the test city', async () => {
    const dep = await ok(await importCsv('deposit', [
      ['身份证号码', '姓名', '开户银行', '存款余额（元）'],
      [id('clean'), '甲一', '测试银行', '10,000.00'],
      [id('below'), '乙一', '测试银行', '30000'],
      [id('below', 1), '乙二', '另一银行', '20160.00'], // 50160.00 = 104500 x 2 x 24 fen: at the limit
      [id('above'), '丙一', '测试银行', '25080.01'], // 104500 x 24 = 2508000 fen: one fen above
      ['110101199003074477', '外人', '测试银行', '999999'], // nobody we check
    ], { mode: 'valid' }), 201);
    assert.equal(dep.accepted, 5);
    await ok(await importCsv('vehicle', [
      ['身份证号码', '号牌号码', '车辆类型', '评估价值（元）'],
      [id('cars'), '津A12345', '小型汽车', '30000'],
      [id('cars'), '津B54321', 'car', '28000'],
      [id('clean'), '津C00001', '残疾人专用车', '8000'],
    ]), 201);
    await ok(await importCsv('realestate', [
      ['身份证号码', '不动产权证号', '坐落', '用途', '建筑面积（平方米）'],
      [id('flat'), '津(2020)和平区不动产权第0000001号', '和平区测试路1号', '住宅', '60.5'],
      [id('flat'), '津(2021)和平区不动产权第0000002号', '和平区测试路2号', '住宅', '45'],
      [id('clean'), '津(2019)和平区不动产权第0000003号', '和平区测试路3号', '住宅', '50'],
    ]), 201);
    await ok(await importCsv('business', [
      ['身份证号码', '企业名称', '身份', '认缴出资额（元）'],
      [id('shareholder'), '天津测试贸易有限公司', '股东', '100000'],
    ]), 201);
    await ok(await importCsv('staff_relatives', [
      ['身份证号码', '与经办人员关系', '经办人员姓名', '工作单位'],
      [id('staff'), '配偶', '王经办', '和平区民政局'],
    ]), 201);
    await ok(await importCsv('cremation', [
      ['身份证号码', '姓名', '火化日期', '殡仪馆'],
      [id('dead', 1), '辛二', '2025-08-20', '天津市第一殡仪馆'],
    ]), 201);
    const months = ['2024-09', '2024-10', '2024-11', '2024-12', '2025-01', '2025-02', '2025-03', '2025-04', '2025-05', '2025-06', '2025-07', '2025-08', '2025-09'];
    await ok(await importCsv('tax', [
      ['身份证号码', '所属期', '应税收入（元）'],
      // 2024-09 lies outside the 12 months before October 2025 and must not count.
      ...months.map((m) => [id('income'), m, m === '2024-09' ? '90000' : '3000']),
      [id('below'), '2025-09', '1000'],
    ]), 201);
  });

  it('a partner pushes JSON rows (social insurance) with the same validation', async () => {
    const bad = await srv.api('POST', '/api/v1/verify/sources/social_insurance/batches', {
      as_of: '2025-09-30', rows: [{ id_number: id('clean'), item: 'pension', amount: 120000, period: '2025-13' }],
    });
    assertError(bad, 422, 'import_rejected');
    assert.equal(bad.json.error.errors[0].field, 'period');
    const r = await ok(await srv.api('POST', '/api/v1/verify/sources/social_insurance/batches', {
      as_of: '2025-09-30', department: '市人社局', rows: [{ id_number: id('clean'), name: '甲一', item: 'pension', amount: 120000, period: '2025-09' }],
    }), 201);
    assert.equal(r.accepted, 1);
    const b = await ok(await srv.api('GET', `/api/v1/verify_batches/${r.batch_id}`));
    assert.equal(b.channel, 'partner');
    assert.equal(b.department, '市人社局');
    assert.equal(b.state, 'active');
  });
});

/** Verify a household by its members (direct) as the city tester. */
async function check(key, over = {}) {
  const members = H[key].members.map((p) => ({ id_number: p.id_number, name: p.name }));
  return ok(await verify({ program: 'dibao', division: D.a1, members, ...over }), 201);
}
const flags = (r) => r.rules.filter((x) => x.result === 'flagged').map((x) => x.rule).sort();

describe('single verification', () => {
  it('a clean household passes; its report names the snapshots used', async () => {
    const r = await check('clean');
    assert.equal(r.outcome, 'pass', JSON.stringify(r.rules.filter((x) => x.result !== 'passed')));
    // pension 1200 yuan / month; deposits 10000 yuan; a disabled person's car does not count; one flat is allowed.
    assert.equal(r.figures.income_fen, 120000);
    assert.equal(r.figures.financial_assets_fen, 1000000);
    assert.equal(r.figures.vehicles, 0);
    assert.equal(r.figures.properties, 1);
    assert.equal(r.members.length, 2);
    assert.equal(r.members[1].adult, false);
    assert.ok(r.sources.find((s) => s.source === 'deposit').batch_id > 0);
    assert.equal(r.sources.find((s) => s.source === 'securities').batch_id, null);
    const income = r.rules.find((x) => x.rule === 'income');
    assert.equal(income.standard_fen, STD);
    assert.match(income.sentence, /未超过/);
    assert.ok(r.request_id > 0);
  });

  it('the report prints as PDF with its rules and evidence; a bulk run has none', async () => {
    const r = await check('cars');
    const pdf = await srv.api('GET', `/api/v1/verify/requests/${r.request_id}/report.pdf`);
    assert.equal(pdf.status, 200, show(pdf));
    assert.equal(pdf.headers['content-type'], 'application/pdf');
    assert.equal(pdf.buf.subarray(0, 5).toString(), '%PDF-');
    const t = spawnSync('pdftotext', ['-enc', 'UTF-8', '-', '-'], { input: pdf.buf, encoding: 'utf8' });
    assert.ok(!t.error, 'pdftotext (poppler-utils, make deps)');
    const text = t.stdout.replace(/\s+/g, '');
    for (const s of ['家庭经济状况核对报告', '机动车辆', '津A12345', '不符合']) assert.ok(text.includes(s), `${s} in the report`);
    assert.ok(!text.includes(id('cars')), 'no full ID number in the printed report');
    assert.equal((await U.other('GET', `/api/v1/verify/requests/${r.request_id}/report.pdf`)).status, 404, 'another area sees nothing');
  });

  it('deposits exactly at the limit pass; one fen above is flagged', async () => {
    const below = await check('below');
    assert.equal(below.figures.financial_assets_fen, 5016000);
    assert.deepEqual(flags(below), []);
    const above = await check('above');
    assert.equal(above.figures.financial_assets_fen, 2508001);
    assert.deepEqual(flags(above), ['assets']);
    assert.equal(above.outcome, 'ineligible');
    const rule = above.rules.find((x) => x.rule === 'assets');
    assert.equal(rule.evidence.length, 1);
    assert.equal(rule.evidence[0].balance, 2508001);
    assert.equal(rule.evidence[0].bank, '测试银行');
    assert.match(rule.evidence[0].person, /^\d{6}\*{8}\d{3}[\dX]$/);
  });

  it('two cars, a second flat and a shareholding are flagged with their evidence', async () => {
    const cars = await check('cars');
    assert.deepEqual(flags(cars), ['vehicles']);
    assert.deepEqual(cars.rules.find((x) => x.rule === 'vehicles').evidence.map((e) => e.plate).sort(), ['津A12345', '津B54321']);
    const flat = await check('flat');
    assert.deepEqual(flags(flat), ['property']);
    assert.equal(flat.rules.find((x) => x.rule === 'property').evidence.length, 2);
    const sh = await check('shareholder');
    assert.deepEqual(flags(sh), ['business']);
    assert.equal(sh.rules.find((x) => x.rule === 'business').evidence[0].company, '天津测试贸易有限公司');
  });

  it('a relative of staff and a dead member need review', async () => {
    const st = await check('staff');
    assert.deepEqual(flags(st), ['staff_relative']);
    assert.equal(st.outcome, 'review');
    const dead = await check('dead');
    assert.deepEqual(flags(dead), ['deceased']);
    assert.equal(dead.figures.deceased, 1);
    assert.equal(dead.outcome, 'review');
  });

  it('taxed income counts the 12 months before the check, averaged', async () => {
    const r = await check('income');
    // 12 months of 3000 yuan in the window; the 2024-09 row is outside it.
    assert.equal(r.figures.income_fen, 300000);
    assert.deepEqual(flags(r), ['income']);
    assert.equal(r.rules.find((x) => x.rule === 'income').evidence.length, 13, 'evidence lists the rows found');
    // Checked as of an earlier date the window moves: 2024-09 .. 2025-08 -> (90000 + 11 x 3000) / 12 yuan.
    const earlier = await check('income', { as_of: '2025-09-30' });
    assert.equal(earlier.figures.income_fen, Math.floor((9000000 + 11 * 300000) / 12));
  });

  it('a missing authorisation is refused, naming the member', async () => {
    const stranger = await person('癸一', '1982-01-01');
    const r = await verify({ program: 'dibao', division: D.a1, members: [{ id_number: stranger.id_number, name: '癸一' }] });
    assertError(r, 422, 'authorisation_missing', { field: 'members[0]' });
    assert.match(r.json.error.errors[0].message, /癸一/);
    // With the authorisation submitted alongside (a partner's request), it runs.
    const ok2 = await verify({ program: 'dibao', division: D.a1, members: [{ id_number: stranger.id_number, name: '癸一', authorisation: { signed_on: '2025-10-01', valid_until: '2026-09-30', scan: 'partner-001.pdf' } }] });
    assert.equal(ok2.status, 201, show(ok2));
    // An expired authorisation does not count.
    const old = await person('癸二', '1983-01-01');
    await authorise(old, { signed_on: '2024-01-01', valid_until: '2024-12-31' });
    assertError(await verify({ program: 'dibao', division: D.a1, members: [{ id_number: old.id_number }] }), 422, 'authorisation_missing');
    // A minor needs none.
    const child = await person('癸三', '2015-01-01');
    assert.equal((await verify({ program: 'dibao', division: D.a1, members: [{ id_number: child.id_number }] })).status, 201);
  });

  it('a partner (the housing authority) submits a household with its authorisation through a scoped token; audited', async () => {
    srv.addUser('sec1', { roles: 'secadmin' });
    srv.addUser('aud1', { roles: 'auditadmin' });
    const sec = (await srv.login('sec1', TEST_PASSWORD, { mode: 'bearer' })).api;
    const aud = (await srv.login('aud1', TEST_PASSWORD, { mode: 'bearer' })).api;
    const c = await ok(await sec('POST', '/api/v1/api_tokens', {
      name: '住房保障接口', scopes: ['verify_requests.run'], entities: ['verify_requests', 'verify_authorisations'], scope_division: '120101',
    }), 201);
    const token = (await ok(await sec('POST', `/api/v1/api_tokens/${c.id}/actions/issue`, {}))).token;
    const partner = makeApi(srv.base, { token });
    const p = await person('辰一', '1970-03-03');
    const body = (division) => ({
      program: 'low_income', division, note: '住房保障资格审核',
      members: [{ id_number: p.id_number, name: '辰一', authorisation: { signed_on: '2025-10-01', valid_until: '2026-09-30', scan: 'housing/001.pdf' } }],
    });
    const r = await partner('POST', '/api/v1/verify/requests', body(D.a1));
    assert.equal(r.status, 201, show(r));
    const income = r.json.rules.find((x) => x.rule === 'income');
    assert.equal(income.standard_program, 'dibao', '低收入 is measured against 1.5 x the 低保 standard');
    assert.equal(income.percent, 150);
    assertError(await partner('POST', '/api/v1/verify/requests', body('120103001001')), 403, 'out_of_scope');
    assertError(await partner('GET', '/api/v1/persons'), 403, 'forbidden');
    assertError(await partner('POST', '/api/v1/verify/bulk', { program: 'dibao' }), 403, 'forbidden');
    let found;
    for (let i = 0; i < 50 && !found; i++) {
      const a = await ok(await aud('GET', '/api/v1/audit?object=verify_requests&action=verify&size=100'));
      found = a.items.find((x) => x.object_id === r.json.request_id);
      if (!found) await new Promise((res) => setTimeout(res, 40));
    }
    assert.ok(found, 'the partner\'s verification is in the audit log');
    assert.equal(found.result ?? (found.success ? 'ok' : 'fail'), 'ok');
  });

  it('bad requests are refused with field errors and store nothing', async () => {
    const before = (await ok(await srv.api('GET', '/api/v1/verify_requests'))).total;
    assertFieldErrors(await verify({ program: 'nope', division: D.a1, members: [] }), [['program', 'not_in_dictionary']]);
    assertFieldErrors(await verify({ program: 'dibao', division: D.a1, members: [] }), [['members', 'required']]);
    const before2 = (await ok(await srv.api('GET', '/api/v1/verify_authorisations'))).total;
    // A bad authorisation given with a member is refused and nothing is recorded.
    const bad = await verify({ program: 'dibao', division: D.a1, members: [{ id_number: id('clean'), name: '甲一', authorisation: { signed_on: '2025-10-01', valid_until: '2025-01-01', scan: 'x' } }] });
    assertFieldErrors(bad, [['valid_until', 'too_small']]);
    assert.equal((await ok(await srv.api('GET', '/api/v1/verify_authorisations'))).total, before2);
    assertFieldErrors(await verify({ program: 'dibao' }), [['case_id', 'required']]);
    assertFieldErrors(await verify({ program: 'dibao', as_of: '2030-01-01', division: D.a1, members: [{ id_number: id('clean') }] }), [['as_of', 'invalid_date']]);
    assertFieldErrors(await verify({ program: 'dibao', division: D.a1, members: [{ id_number: withBadIdCheck(id('clean')) }] }), [['members[0].id_number', 'invalid_id_number']]);
    assert.equal((await ok(await srv.api('GET', '/api/v1/verify_requests'))).total, before);
  });

  it('a community worker verifies in their area only; every verification is audited', async () => {
    const r = await verify({ program: 'dibao', division: D.a1, members: [{ id_number: id('clean') }, { id_number: id('clean', 1) }] }, U.comm);
    assert.equal(r.status, 201, show(r));
    assert.equal((await verify({ program: 'dibao', division: D.a1, members: [{ id_number: id('clean') }] }, U.other)).status, 403);
    const mine = await ok(await U.comm('GET', `/api/v1/verify_requests/${r.json.request_id}`));
    assert.equal(mine.outcome, 'pass');
    assert.equal((await U.other('GET', `/api/v1/verify_requests/${r.json.request_id}`)).status, 404);
    assert.equal((await verify({ program: 'dibao', division: D.a1, members: [{ id_number: id('clean') }] }, U.leader)).status, 403);
  });
});

describe('rules are data', () => {
  it('a district rule from a date changes the result from that date', async () => {
    const rule = await ok(await srv.api('POST', '/api/v1/verify_rules', {
      program: 'dibao', rule: 'property', division: '120101', valid_from: '2025-10-01', count_limit: 2, severity: 'refuse', source: '测试',
    }), 201);
    assert.deepEqual(flags(await check('flat', { as_of: '2025-09-30' })), ['property']);
    const after = await check('flat', { as_of: '2025-10-01' });
    assert.deepEqual(flags(after), []);
    assert.equal(after.rules.find((x) => x.rule === 'property').rule_id, rule.id);
  });

  it('only the city level edits rules', async () => {
    const r = await U.comm('POST', '/api/v1/verify_rules', { program: 'dibao', rule: 'assets', division: D.a1, valid_from: '2025-01-01', months: 99 });
    assert.equal(r.status, 403, show(r));
  });
});

describe('bulk re-check', () => {
  const CASES = '/api/v1/assistance_cases';
  const act = (cid, action, body = {}) => srv.api('POST', `${CASES}/${cid}/actions/${action}`, body);

  it('takes cases to 公示', async () => {
    for (const key of ['clean', 'above', 'cars', 'staff', 'dead', 'income']) {
      const ms = H[key].members;
      const c = await ok(await srv.api('POST', CASES, {
        program: 'dibao', applicant_person_id: ms[0].id, division: D.a1, start_month: '2025-10', bank_account: makeBankCard(),
        members: ms.map((p) => ({ person_id: p.id, monthly_income_fen: 0, authorisation_scan: 'scan' })),
      }), 201);
      for (const a of ['accept', 'investigate', 'verify', 'deliberate', 'review', 'publicise']) await ok(await act(c.id, a, { comment: '测试' }));
      H[key].case = c;
    }
    // For the cross-checks: 子一 paid 低保 in two districts, 丑一 (turning 80) in 低保 and 特困,
    // 寅一 counted as a minor and turning 18.
    const hexiStreet = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120103'))).items[0].code;
    D.hexi = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${hexiStreet}`))).items[0].code;
    const zi = await person('子一', '1979-05-05');
    const chou = await person('丑一', '1945-10-20');
    const yin = await person('寅一', '2007-10-25');
    for (const p of [zi, chou]) await authorise(p);
    H.x = { members: [zi, yin] };
    const extra = [
      ['x1', 'dibao', D.a1, [[zi], [yin, ['minor']]]],
      ['x2', 'dibao', D.hexi, [[zi]]],
      ['x3', 'dibao', D.a1, [[chou]]],
      ['x4', 'tekun', D.a1, [[chou]]],
    ];
    for (const [key, program, division, ms] of extra) {
      const c = await ok(await srv.api('POST', CASES, {
        program, applicant_person_id: ms[0][0].id, division, start_month: '2025-10', bank_account: makeBankCard(),
        members: ms.map(([p, categories]) => ({ person_id: p.id, monthly_income_fen: 0, authorisation_scan: 'scan', ...(categories ? { categories } : {}) })),
      }), 201);
      for (const a of ['accept', 'investigate', 'verify', 'deliberate', 'review', 'publicise']) await ok(await act(c.id, a, { comment: '测试' }));
      H[key] = { case: c };
    }
  });

  it('after 公示 the cases are paid and the re-check flags the known ones', async () => {
    await srv.stop({ keepDir: true });
    srv = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: LATER } });
    await loginAll();
    for (const key of ['clean', 'above', 'cars', 'staff', 'dead', 'income', 'x1', 'x2', 'x3', 'x4']) {
      await ok(await act(H[key].case.id, 'approve'));
      await ok(await act(H[key].case.id, 'pay'));
    }
    const s = await ok(await srv.api('POST', '/api/v1/verify/bulk', { program: 'dibao', as_of: LATER }), 201);
    assert.equal(s.households, 9);
    assert.equal(s.persons, 12);
    assert.deepEqual(s.outcomes, { pass: 4, review: 2, ineligible: 3, unauthorised: 0 });
    assert.equal(s.rules.assets, 1);
    assert.equal(s.rules.vehicles, 1);
    assert.equal(s.rules.income, 1);
    const results = (await ok(await srv.api('GET', `/api/v1/verify_results?request_id=${s.request_id}&size=100`))).items;
    assert.equal(results.length, 9);
    // Each household's bulk result equals a single run of the same case.
    for (const key of ['clean', 'above', 'cars', 'staff', 'dead', 'income', 'x1', 'x2', 'x3']) {
      const bulk = results.find((x) => x.case_id === H[key].case.id);
      const single = await ok(await verify({ program: 'dibao', as_of: LATER, case_id: H[key].case.id }), 201);
      assert.equal(bulk.outcome, single.outcome, key);
      assert.equal(bulk.flags, single.flags, key);
      assert.deepEqual(bulk.figures, single.figures, key);
    }
    // The command line runs the same re-check, with progress on stderr.
    const cli = runCli(['verify-bulk', '--db', srv.dbPath, '--program', 'dibao', '--as-of', LATER], { env: { MZ_TEST_TODAY: LATER } });
    assert.equal(cli.status, 0, cli.stderr);
    const cs = JSON.parse(cli.stdout);
    assert.deepEqual([cs.households, cs.persons, cs.outcomes, cs.rules], [s.households, s.persons, s.outcomes, s.rules]);
    assert.ok(cs.request_id > s.request_id);
    assert.match(cli.stderr, /verify-bulk: sources/);
    assert.equal(runCli(['verify-bulk', '--db', srv.dbPath, '--program', 'nope']).status, 2);
    // The sealed packs give the same per-household results, filtered and paged.
    const packs = await ok(await srv.api('GET', `/api/v1/verify/requests/${s.request_id}/results?size=100`));
    assert.equal(packs.total, 9);
    for (const r of results) {
      const p = packs.items.find((x) => x.case_id === r.case_id);
      assert.deepEqual([p.outcome, p.flags, p.figures], [r.outcome, r.flags, r.figures]);
    }
    assert.equal((await ok(await srv.api('GET', `/api/v1/verify/requests/${s.request_id}/results?outcome=ineligible`))).total, 3);
    assert.equal((await ok(await srv.api('GET', `/api/v1/verify/requests/${s.request_id}/results?rule=assets`))).total, 1);
    assert.equal((await ok(await srv.api('GET', `/api/v1/verify/requests/${s.request_id}/results?size=2&page=5`))).items.length, 1);
    assert.equal((await U.comm('GET', `/api/v1/verify/requests/${s.request_id}/results`)).status, 404, 'a city-wide run is not a community\'s');
    assertError(await srv.api('GET', `/api/v1/verify/requests/${s.request_id}/results?rule=nope`), 400, 'bad_filter');
    const req = await ok(await srv.api('GET', `/api/v1/verify_requests/${s.request_id}`));
    assert.equal(req.kind, 'bulk');
    assert.equal(req.households, 9);
    assert.equal(req.flagged, 5);
  });

  it('a re-check runs in the background with progress when asked', async () => {
    const start = await srv.api('POST', '/api/v1/verify/bulk', { program: 'dibao', as_of: LATER, async: true });
    assert.equal(start.status, 202, show(start));
    assert.match(start.json.job, /^[0-9a-f]{32}$/);
    let st;
    const phases = new Set();
    for (let i = 0; i < 200; i++) {
      st = await ok(await srv.api('GET', `/api/v1/verify/bulk/${start.json.job}`));
      phases.add(st.phase);
      if (st.finished) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(st.finished, true);
    assert.equal(st.status, 201);
    assert.equal(st.phase, 'done');
    assert.deepEqual(st.summary.outcomes, { pass: 4, review: 2, ineligible: 3, unauthorised: 0 });
    const req = await ok(await srv.api('GET', `/api/v1/verify_requests/${st.summary.request_id}`));
    assert.equal(req.households, 9);
    assert.equal((await U.comm('GET', `/api/v1/verify/bulk/${start.json.job}`)).status, 403, 'not for a community worker');
    assertError(await srv.api('GET', '/api/v1/verify/bulk/00000000000000000000000000000000'), 404, 'not_found');
    assertFieldErrors(await srv.api('POST', '/api/v1/verify/bulk', { program: 'dibao', async: 'yes' }), [['async', 'type']]);
  });

  it('a withdrawn batch is no longer used', async () => {
    const batches = (await ok(await srv.api('GET', '/api/v1/verify_batches?source=vehicle'))).items;
    await ok(await srv.api('POST', `/api/v1/verify_batches/${batches[0].id}/actions/withdraw`, { comment: '数据有误' }));
    const r = await ok(await verify({ program: 'dibao', as_of: LATER, case_id: H.cars.case.id }), 201);
    assert.deepEqual(flags(r), []);
    assert.equal(r.sources.find((x) => x.source === 'vehicle').batch_id, null);
  });

  it('bulk runs are for the district and city levels, within their area', async () => {
    srv.addUser('dist2', { roles: 'district_officer', scope: '120103' });
    U.dist2 = (await srv.login('dist2', TEST_PASSWORD, { mode: 'bearer' })).api;
    assert.equal((await U.comm('POST', '/api/v1/verify/bulk', { program: 'dibao' })).status, 403);
    assertError(await U.dist2('POST', '/api/v1/verify/bulk', { program: 'dibao', division: '120101' }), 403, 'out_of_scope');
    const s = await ok(await U.dist2('POST', '/api/v1/verify/bulk', { program: 'dibao' }), 201);
    assert.equal(s.households, 1, 'only the case in 河西区 (子一\'s second one)');
  });
});

describe('cross-checks (预警)', () => {
  const W = '/api/v1/verify_warnings';
  const wact = (api, wid, action, body = {}) => api('POST', `${W}/${wid}/actions/${action}`, body);
  let warnings;

  it('raise the known warnings once', async () => {
    // The daily job also runs shortly after start: whichever runs first raises
    // the warnings, the others find them raised. Two runs at once (on
    // PostgreSQL truly concurrent) must not raise any warning twice: the
    // fingerprint is unique and a second insert is skipped, not an error.
    const both = await Promise.all([1, 2].map(() => srv.api('POST', '/api/v1/verify/crosscheck', {})));
    for (const r of both) await ok(r, 201);
    const again = await ok(await srv.api('POST', '/api/v1/verify/crosscheck', {}), 201);
    assert.equal(again.raised, 0, 'a second run repeats nothing');
    warnings = (await ok(await srv.api('GET', `${W}?size=100`))).items;
    const byKind = {};
    for (const w of warnings) byKind[w.kind] = (byKind[w.kind] || 0) + 1;
    assert.deepEqual(byKind, { deceased_paid: 1, duplicate_program: 1, duplicate_district: 1, staff_relative: 1, minor_adult: 1, elderly_80: 2 });
    assert.equal(warnings.length, 7);
    const dead = warnings.find((w) => w.kind === 'deceased_paid');
    assert.equal(dead.case_id, H.dead.case.id);
    assert.equal(dead.person_name, '辛二');
    assert.match(dead.detail, /2025-08-20/);
    assert.equal(dead.state, 'open');
    const dup = warnings.find((w) => w.kind === 'duplicate_district');
    assert.deepEqual([dup.case_id, dup.other_case_id], [H.x1.case.id, H.x2.case.id]);
    const excl = warnings.find((w) => w.kind === 'duplicate_program');
    assert.deepEqual([excl.case_id, excl.other_case_id], [H.x3.case.id, H.x4.case.id]);
  });

  it('are worked through 核实 -> 处理 -> 销号 in the case\'s area', async () => {
    const dead = warnings.find((w) => w.kind === 'deceased_paid');
    assert.equal((await U.other('GET', `${W}/${dead.id}`)).status, 404, 'another community sees nothing');
    assertError(await wact(U.comm, dead.id, 'check'), 422, 'validation_failed', { field: 'comment' });
    assert.equal((await ok(await wact(U.comm, dead.id, 'check', { comment: '经核实，辛二已于8月死亡' }))).state, 'checked');
    assert.equal((await ok(await wact(U.comm, dead.id, 'handle', { comment: '已申请停发并核减保障人数' }))).state, 'handled');
    assert.equal((await wact(U.comm, dead.id, 'close')).status, 403, '销号 is for the street and above');
    assert.equal((await ok(await wact(srv.api, dead.id, 'close'))).state, 'closed');
    const staff = warnings.find((w) => w.kind === 'staff_relative');
    assert.equal((await ok(await wact(srv.api, staff.id, 'dismiss', { comment: '已备案，经审核符合条件' }))).state, 'closed');
    const s = await ok(await srv.api('POST', '/api/v1/verify/crosscheck', {}), 201);
    assert.equal(s.raised, 0, 'closed warnings are not raised again');
    const cli = runCli(['crosscheck', '--db', srv.dbPath], { env: { MZ_TEST_TODAY: LATER } });
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).raised, 0);
  });

  it('the dashboard counts the warnings in the caller\'s area', async () => {
    const d = await ok(await U.comm('GET', '/api/v1/verify/dashboard'));
    assert.equal(d.by_kind.deceased_paid.closed, 1);
    assert.equal(d.by_kind.elderly_80.open, 2);
    assert.equal(d.warnings_total, 7);
    assert.equal(d.warnings_open, 5);
    const o = await ok(await U.other('GET', '/api/v1/verify/dashboard'));
    assert.equal(o.warnings_total, 0);
    assert.equal((await U.comm('POST', '/api/v1/verify/crosscheck', {})).status, 403);
  });
});

describe('key rotation', () => {
  it('rekey re-keys the snapshots and authorisations: results are unchanged', { skip: SQLITE_ONLY }, async () => {
    const before = await ok(await verify({ program: 'dibao', as_of: LATER, case_id: H.above.case.id }), 201);
    await srv.stop({ keepDir: true });
    const r = runCli(['rekey', '--db', srv.dbPath]);
    assert.equal(r.status, 0, r.stderr);
    srv = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: LATER } });
    await loginAll();
    const after = await ok(await verify({ program: 'dibao', as_of: LATER, case_id: H.above.case.id }), 201);
    assert.deepEqual([after.outcome, after.flags, after.figures], [before.outcome, before.flags, before.figures]);
    assert.equal(after.rules.find((x) => x.rule === 'assets').evidence[0].balance, 2508001);
    // Authorisations still match their persons under the new key.
    const stranger = await person('卯一', '1981-02-02');
    assertError(await verify({ program: 'dibao', division: D.a1, members: [{ id_number: stranger.id_number }] }), 422, 'authorisation_missing');
    await authorise(stranger);
    assert.equal((await verify({ program: 'dibao', division: D.a1, members: [{ id_number: stranger.id_number }] })).status, 201);
  });
});

describe('the demo city', () => {
  it('holds paying cases, authorisations, one batch per source, warnings and a re-check', { skip: SQLITE_ONLY }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-vdemo-'));
    try {
      const r = runCli(['demo', '--db', path.join(dir, 'd.db'), '--persons', '5000', '--seed', '7', '--password', TEST_PASSWORD], { timeout: 120000, env: { MZ_TEST_FAST_HASH: '1' } });
      assert.equal(r.status, 0, r.stderr);
      const v = JSON.parse(r.stdout).verify;
      assert.ok(v.cases > 10, JSON.stringify(v));
      assert.ok(v.authorisations >= v.cases);
      assert.ok(v.source_rows > v.cases);
      const o = v.recheck;
      const checked = o.pass + o.review + o.ineligible + o.unauthorised;
      assert.ok(checked > v.cases / 2 && checked < v.cases, 'the active 低保 cases are re-checked, not the others');
      assert.ok(o.ineligible > 0 && o.pass > o.ineligible, JSON.stringify(o));
      assert.ok(v.warnings.deceased_paid >= 1 && v.warnings.staff_relative >= 1, JSON.stringify(v.warnings));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
