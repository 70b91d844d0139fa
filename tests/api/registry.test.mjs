// registry.test.mjs - the registry through the real binary: divisions with
// history, person validation against the ID number, household moves with
// history, duplicates and merge, import (both modes) and export round trip.
// Reference: docs/registry.md, docs/api.md, the contract.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, makeIdNumber, toCsv, parseCsv, show, runCli, TEST_PASSWORD, PG_BASE } from './lib.mjs';

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

/** Create a person (201 required). */
async function person(over = {}) {
  const body = { id_number: makeIdNumber(), name: '测试人员', hukou_division: '120101001001', ...over };
  const r = await srv.api('POST', '/api/v1/persons', body);
  assert.equal(r.status, 201, show(r));
  return r.json;
}

describe('divisions', () => {
  it('resolves history with at=', async () => {
    const old = await srv.api('GET', '/api/v1/divisions?parent=120000&at=2012-06-01');
    assert.equal(old.status, 200, show(old));
    const oldCodes = old.json.items.map((x) => x.code);
    assert.ok(oldCodes.includes('120225'), 'at 2012 蓟县 is listed');
    assert.ok(!oldCodes.includes('120119'));
    assert.ok(oldCodes.includes('120116') && !oldCodes.includes('120107'));
    const now = await srv.api('GET', '/api/v1/divisions?parent=120000');
    const codes = now.json.items.map((x) => x.code);
    assert.ok(codes.includes('120119') && !codes.includes('120225'));
    assert.equal(codes.length, 16);
    const item = now.json.items.find((x) => x.code === '120119');
    assert.equal(item.name, '蓟州区');
    assert.equal(item.level, 3);
    assert.ok('valid_from' in item && 'valid_to' in item);
    const streets = await srv.api('GET', '/api/v1/divisions?parent=120101');
    assert.equal(streets.json.items.length, 6);
    const bad = await srv.api('GET', '/api/v1/divisions?parent=120000&at=2012-13-01');
    assertError(bad, 400, 'bad_filter', { field: 'at' });
  });

  it('gives a retired code with its successor chain', async () => {
    const r = await srv.api('GET', '/api/v1/divisions/120225');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.name, '蓟县');
    assert.equal(r.json.in_force, false);
    assert.deepEqual(r.json.successors.map((x) => x.code), ['120119']);
    assert.equal(r.json.current.code, '120119');
    assert.equal(r.json.changes[0].document, '国函〔2016〕98号');
    assertError(await srv.api('GET', '/api/v1/divisions/120199'), 404, 'not_found');
  });
});

describe('persons', () => {
  it('derives sex and birth date from the ID number', async () => {
    const p = await person({ id_number: makeIdNumber({ birth: '1975-06-01', seq: 123 }) });
    assert.equal(p.sex, '1');
    assert.equal(p.birth_date, '1975-06-01');
    assert.equal(p.alive, true);
  });

  it('rejects a sex or birth date that contradicts the ID number, naming the field', async () => {
    const id = makeIdNumber({ birth: '1980-02-03', seq: 124 });
    assertError(await srv.api('POST', '/api/v1/persons', { id_number: id, name: '甲', hukou_division: '120101', sex: '1' }), 422, 'validation_failed', { field: 'sex' });
    assertError(await srv.api('POST', '/api/v1/persons', { id_number: id, name: '甲', hukou_division: '120101', birth_date: '1980-02-04' }), 422, 'validation_failed', { field: 'birth_date' });
    assertError(await srv.api('POST', '/api/v1/persons', { id_number: id, name: '甲', hukou_division: '120199' }), 422, 'validation_failed', { field: 'hukou_division' });
  });

  it('accepts a 2012 record in 蓟县 and shows today\'s successor', async () => {
    const p = await person({ id_number: makeIdNumber({ area: '120225', birth: '1960-01-01' }), hukou_division: '120225' });
    assert.equal(p.hukou_division_name, '蓟县');
    assert.equal(p.hukou_division_current, '120119000000');
    assert.equal(p.hukou_division_current_name, '蓟州区');
    // The GET (written from the statement) and the list (jansson) agree, derived members included.
    const one = await srv.api('GET', `/api/v1/persons/${p.id}`);
    assert.equal(one.status, 200, show(one));
    const list = await srv.api('GET', `/api/v1/persons?id=${p.id}`);
    assert.equal(list.json.items.length, 1, show(list));
    assert.deepEqual(one.json, list.json.items[0]);
    assert.deepEqual(Object.keys(one.json), Object.keys(list.json.items[0]));
    assert.equal(one.json.hukou_division_current, '120119000000');
    assert.equal(one.json.alive, true);
  });

  it('shows a division change on the next read (the names cache is dropped on every registry write)', async () => {
    const p = await person({ hukou_division: '120105001001' });
    const before = await srv.api('GET', `/api/v1/persons/${p.id}`);
    assert.equal(before.status, 200, show(before));
    assert.equal(before.json.hukou_division_name, p.hukou_division_name);
    assert.ok(!('hukou_division_current' in before.json), 'no successor before the change');
    const ch = await srv.api('POST', '/api/v1/division_changes', {
      kind: 'rename', old_code: '120105001001', new_code: '120105001002', effective_on: '2026-01-01', document: '测试文号',
    });
    assert.equal(ch.status, 201, show(ch));
    const after = await srv.api('GET', `/api/v1/persons/${p.id}`);
    assert.equal(after.json.hukou_division_current, '120105001002');
    const target = await srv.api('GET', '/api/v1/divisions/120105001002');
    assert.equal(after.json.hukou_division_current_name, target.json.name);
    const del = await srv.api('DELETE', `/api/v1/division_changes/${ch.json.id}`);
    assert.ok(del.status === 200 || del.status === 204, show(del));
    const again = await srv.api('GET', `/api/v1/persons/${p.id}`);
    assert.ok(!('hukou_division_current' in again.json), 'the deleted change no longer applies');
  });

  it('refuses a second person with the same ID number', async () => {
    const id = makeIdNumber();
    await person({ id_number: id });
    const r = await srv.api('POST', '/api/v1/persons', { id_number: id, name: '重复', hukou_division: '120101' });
    assert.equal(r.status, 409, show(r));
  });
});

describe('person search', () => {
  // A list filtered by scope only takes its matches from the search index
  // (person_key carries the scope division, and only persons not deleted);
  // with another filter the walk joins persons. Both must give the same
  // persons, order and total, and respect scope and deletion.
  it('finds by piece, pinyin and initials within scope, never a deleted person, the same with and without a field filter', async () => {
    const given = ['一', '二', '三', '四', '五', '六', '七', '八', '九', '十', '百', '千'];
    const made = [];
    for (let i = 0; i < given.length; i++) {
      const street = i % 3 === 0 ? '120106001001' : '120101001001';
      made.push(await person({ id_number: makeIdNumber({ birth: '1971-03-04', seq: 601 + 2 * i }), name: `籍檩${given[i]}`, hukou_division: street }));
    }
    const mine = new Set(made.map((p) => p.id));
    srv.addUser('search_street', { roles: 'street_officer', scope: '120101001' });
    const street = await srv.login('search_street', TEST_PASSWORD, { mode: 'bearer' });
    const list = async (client, query) => {
      const r = await client('GET', `/api/v1/persons?${new URLSearchParams(query)}`);
      assert.equal(r.status, 200, show(r));
      return r.json;
    };
    // The walked answer equals the filtered one (sex=1 holds for all of them).
    const same = async (client, q, size, page) => {
      const a = await list(client, { q, size, page });
      const b = await list(client, { q, size, page, sex: '1' });
      assert.equal(a.total, b.total, q);
      assert.deepEqual(a.items.map((x) => x.id), b.items.map((x) => x.id), q);
      const ids = a.items.map((x) => x.id);
      assert.deepEqual(ids, [...ids].sort((x, y) => y - x), 'id order descending');
      return a;
    };
    const all = await same(srv.api, '檩', 5, 1);
    assert.equal(all.total, 12);
    assert.deepEqual(all.items.map((x) => x.id), made.slice(-5).map((p) => p.id).reverse());
    const page3 = await same(srv.api, '檩', 5, 3);
    assert.deepEqual(page3.items.map((x) => x.id), made.slice(0, 2).map((p) => p.id).reverse());
    const byPinyin = await same(srv.api, 'jilin', 20, 1);
    assert.equal(byPinyin.items.filter((x) => mine.has(x.id)).length, 12);
    assert.equal((await same(srv.api, '籍檩七', 20, 1)).total, 1);
    // The street officer sees her street's 8 only.
    const own = await same(street.api, '檩', 20, 1);
    assert.equal(own.total, 8);
    assert.ok(own.items.every((x) => x.hukou_division.startsWith('120101001')));
    assert.equal((await same(street.api, '籍檩一', 20, 1)).total, 0);
    const initials = await same(street.api, 'jl', 20, 1);
    assert.ok(initials.items.every((x) => x.hukou_division.startsWith('120101001')));
    assert.equal(initials.items.filter((x) => mine.has(x.id)).length, 8);
    // Deleted: gone from every kind of search.
    const gone = made[11];
    assert.equal((await srv.api('DELETE', `/api/v1/persons/${gone.id}`)).status, 204);
    assert.equal((await same(srv.api, '檩', 20, 1)).total, 11);
    assert.equal((await same(srv.api, '籍檩千', 20, 1)).total, 0);
    assert.ok(!(await same(srv.api, 'jilinqian', 20, 1)).items.some((x) => x.id === gone.id));
    // Moved to another street: out of her list, in the other's.
    const moved = made[1];
    const upd = await srv.api('PATCH', `/api/v1/persons/${moved.id}`, { version: moved.version, hukou_division: '120106001001' });
    assert.equal(upd.status, 200, show(upd));
    const after = await same(street.api, '檩', 20, 1);
    assert.equal(after.total, 6);
    assert.ok(!after.items.some((x) => x.id === moved.id));
    assert.ok((await same(srv.api, '檩', 20, 1)).items.some((x) => x.id === moved.id));
  });
});

describe('households', () => {
  it('moves a person and keeps the history', async () => {
    const a = await person({ name: '户主甲' });
    const b = await person({ name: '户主乙' });
    const m = await person({ name: '迁移者' });
    const h1 = await srv.api('POST', '/api/v1/households', { kind: 'hukou', division: '120101001001', address: '一号', head_person_id: a.id });
    assert.equal(h1.status, 201, show(h1));
    const h2 = await srv.api('POST', '/api/v1/households', { kind: 'hukou', division: '120103001001', address: '二号', head_person_id: b.id });
    assert.equal(h2.status, 201, show(h2));
    const join = await srv.api('POST', '/api/v1/household_members', { household_id: h1.json.id, person_id: m.id, relation: '20', from_date: '2010-01-01' });
    assert.equal(join.status, 201, show(join));
    const twice = await srv.api('POST', '/api/v1/household_members', { household_id: h2.json.id, person_id: m.id, relation: '20' });
    assertError(twice, 409, 'duplicate', { field: 'person_id' });
    const mv = await srv.api('POST', `/api/v1/persons/${m.id}/move`, { to_household: h2.json.id, relation: '20', date: '2020-05-01' });
    assert.equal(mv.status, 200, show(mv));
    assert.equal(mv.json.ended, join.json.id);
    const old = await srv.api('GET', `/api/v1/households/${h1.json.id}`);
    const ended = old.json.members.find((x) => x.person_id === m.id);
    assert.equal(ended.to, '2020-05-01');
    assert.equal(ended.from, '2010-01-01');
    const now = await srv.api('GET', `/api/v1/households/${h2.json.id}`);
    assert.ok(now.json.members.some((x) => x.person_id === m.id && x.from === '2020-05-01' && x.to === null));
    const hist = await srv.api('GET', `/api/v1/household_members/${join.json.id}/history`);
    assert.deepEqual(hist.json.items.map((x) => x.action), ['create', 'update']);
    const again = await srv.api('POST', `/api/v1/persons/${m.id}/move`, { to_household: h2.json.id, relation: '20' });
    assertError(again, 409, 'duplicate');
  });
});

describe('duplicates', () => {
  it('lists same name + birth date pairs and merges them', async () => {
    const birth = '1955-03-04';
    const p1 = await person({ name: '重名甲', id_number: makeIdNumber({ birth, seq: 311 }), hukou_division: '120104001001' });
    const p2 = await person({ name: '重名甲', id_number: makeIdNumber({ birth, seq: 313 }), hukou_division: '120104002001' });
    const h = await srv.api('POST', '/api/v1/households', { kind: 'assistance', division: '120104002001', head_person_id: p2.id });
    assert.equal(h.status, 201, show(h));
    const d = await srv.api('GET', '/api/v1/persons/duplicates?division=120104');
    assert.equal(d.status, 200, show(d));
    const pair = d.json.items.find((x) => x.a.id === p1.id && x.b.id === p2.id);
    assert.ok(pair, 'pair listed');
    assert.equal(pair.reason, 'same_name_birth');
    const m = await srv.api('POST', '/api/v1/persons/merge', { keep: p1.id, remove: p2.id, comment: '同一人，录入两次' });
    assert.equal(m.status, 200, show(m));
    assert.equal(m.json.moved['households.head_person_id'], 1);
    assertError(await srv.api('GET', `/api/v1/persons/${p2.id}`), 404, 'not_found');
    const hh = await srv.api('GET', `/api/v1/households/${h.json.id}`);
    assert.equal(hh.json.head_person_id, p1.id);
    const hist = await srv.api('GET', `/api/v1/persons/${p1.id}/history`);
    const merge = hist.json.items.find((x) => x.action === 'merge');
    assert.equal(merge.comment, '同一人，录入两次');
    const rec = await srv.api('GET', `/api/v1/persons/${p1.id}/records`);
    assert.equal(rec.status, 200, show(rec));
    assert.ok(rec.json.groups.some((g) => g.entity === 'households'));
    const after = await srv.api('GET', '/api/v1/persons/duplicates?division=120104');
    assert.ok(!after.json.items.some((x) => x.b?.id === p2.id));
  });
});

describe('dictionaries edited by administrators', () => {
  it('a new item validates, shows in /meta and imports by its label; a retired one is refused', async () => {
    const add = await srv.api('POST', '/api/v1/dictionary_items', { dict: 'hukou_type', code: '5', zh: '测试户口', en: 'Test hukou', valid_from: '2020-01-01' });
    assert.equal(add.status, 201, show(add));
    const meta = await srv.api('GET', '/api/v1/meta');
    const items = meta.json.dictionaries.find((d) => d.name === 'hukou_type').items;
    assert.ok(items.some((x) => x.code === '5' && x.zh === '测试户口'), '/meta lists the new item');
    const p = await person({ hukou_type: '5' });
    assert.equal(p.hukou_type, '5');
    const csv = toCsv([['身份证号码', '姓名', '户籍地区划', '户口性质'], [makeIdNumber({ birth: '1969-08-08', seq: 421 }), '字典甲', '120101001001', '测试户口']]);
    const im = await srv.api('POST', '/api/v1/persons/import?mode=all&format=csv', csv, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(im.status, 200, show(im));
    // Retire 集体户口 (4): no longer accepted on new input, gone from /meta.
    const list = await srv.api('GET', '/api/v1/dictionary_items?dict=hukou_type&code=4');
    const item = list.json.items.find((x) => x.code === '4');
    const upd = await srv.api('PATCH', `/api/v1/dictionary_items/${item.id}`, { version: item.version, valid_to: '2021-01-01' });
    assert.equal(upd.status, 200, show(upd));
    assertError(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber(), name: '字典乙', hukou_division: '120101001001', hukou_type: '4' }), 422, 'validation_failed', { field: 'hukou_type' });
    const meta2 = await srv.api('GET', '/api/v1/meta');
    assert.ok(!meta2.json.dictionaries.find((d) => d.name === 'hukou_type').items.some((x) => x.code === '4'));
  });
});

describe('import and export', () => {
  const header = ['身份证号码', '姓名', '性别', '出生日期', '民族', '户籍地区划', '户籍地址'];
  function rows() {
    const good1 = makeIdNumber({ birth: '1970-01-01', seq: 401 });
    const good2 = makeIdNumber({ birth: '1971-01-01', seq: 402 });
    const bad = makeIdNumber({ birth: '1972-01-01', seq: 403 });
    return [header, [good1, '导入甲', '1', '1970-01-01', '01', '120102001001', '河东区某路1号'], [good2, '导入乙', '', '', '03', '120102001001', ''], [bad, '导入丙', '2', '', '01', '120102001001', '']];
  }
  it('all-or-nothing rejects the file, valid-rows imports the good rows', async () => {
    const csv = toCsv(rows());
    const all = await srv.api('POST', '/api/v1/persons/import?mode=all&format=csv', csv, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assertError(all, 422, 'import_rejected');
    assert.equal(all.json.error.errors[0].row, 4);
    assert.equal(all.json.error.errors[0].field, 'sex');
    const valid = await srv.api('POST', '/api/v1/persons/import?mode=valid&format=csv', csv, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(valid.status, 200, show(valid));
    assert.equal(valid.json.imported, 2);
    assert.equal(valid.json.failed, 1);
  });

  /** `minzheng audit-verify` must pass; the number of entries it checked. */
  const verify = () => {
    const r = runCli(['audit-verify', PG_BASE ? '--pg' : '--db', srv.dbPath]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout).entries;
  };

  it('audits every imported row in one intact chain, which later writes extend', async () => {
    const before = verify();
    const table = [['身份证号码', '姓名', '户籍地区划']];
    for (let i = 0; i < 6; i++) table.push([makeIdNumber({ birth: '1958-03-0' + (i + 1), seq: 431 + i }), '链式' + '甲乙丙丁戊己'[i], '120104001001']);
    const im = await srv.api('POST', '/api/v1/persons/import?mode=all&format=csv', toCsv(table), { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(im.status, 200, show(im));
    assert.equal(im.json.imported, 6);
    const after = verify();
    assert.ok(after >= before + 7, `6 creates and the import audited: ${before} -> ${after}`);
    const p = await person({ name: '链后' }); // an append after the import's own
    assert.ok(p.id > 0);
    assert.ok(verify() > after);
  });

  it('audits a large import row by row in order: every row, consecutive entries, each after the one before', async () => {
    // More rows than the audit module gathers before it writes them (its MACs
    // are made on another thread, 256 rows a batch, 8 batches ahead at most)
    // and not a multiple of a batch.
    const n = 2600;
    const before = verify();
    const table = [['身份证号码', '姓名', '户籍地区划']];
    for (let i = 0; i < n; i++) table.push([makeIdNumber(), `批链${i}`, '120104001001']);
    const im = await srv.api('POST', '/api/v1/persons/import?mode=all&format=csv', toCsv(table), { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(im.status, 200, show(im));
    assert.equal(im.json.imported, n);
    assert.ok(verify() >= before + n + 1, 'every row and the import audited');
    // The log is read by an audit administrator (the role holds audit.read).
    let auditor = srv;
    if (srv.addUser) {
      srv.addUser('auditor_reg', { roles: 'auditadmin' });
      auditor = await srv.login('auditor_reg', TEST_PASSWORD, { mode: 'bearer' });
    }
    const creates = [];
    for (let page = 1; creates.length < n; page++) {
      const r = await auditor.api('GET', `/api/v1/audit?action=create&object=persons&size=500&page=${page}`);
      assert.equal(r.status, 200, show(r));
      assert.ok(r.json.items.length > 0, 'the creates are listed');
      creates.push(...r.json.items);
    }
    const rows = creates.slice(0, n).reverse(); // the import's, oldest first
    for (let i = 0; i < n; i++) {
      const detail = typeof rows[i].detail === 'string' ? JSON.parse(rows[i].detail) : rows[i].detail;
      assert.equal(detail?.name?.to, `批链${i}`, `row ${i}`);
      if (i > 0) {
        assert.equal(rows[i].seq, rows[i - 1].seq + 1, `row ${i} right after row ${i - 1}`);
        assert.equal(rows[i].object_id, rows[i - 1].object_id + 1);
      }
    }
    const last = await auditor.api('GET', '/api/v1/audit?action=import&object=persons&size=1');
    assert.equal(last.status, 200, show(last));
    assert.equal(last.json.items[0].seq, rows[n - 1].seq + 1, "the import's own entry follows its last row");
  });

  it('gives every imported person of a repeated name its own search keys', async () => {
    // An import finds a name's keys once and gives them to each person of
    // that name (and one with former names its own): every one of them must
    // be found by initials, pinyin and characters, none missing.
    const ids = [421, 422, 423, 424].map((seq) => makeIdNumber({ birth: '1969-09-09', seq }));
    const table = [['公民身份号码', '姓名', '曾用名', '户籍地区划代码'],
      [ids[0], '复名丁', '', '120103001001'], [ids[1], '复名丁', '', '120103001001'],
      [ids[2], '复名丁', '旧名戊', '120103001001'], [ids[3], '复名丁', '', '120103001001']];
    const im = await srv.api('POST', '/api/v1/persons/import?mode=all&format=csv', toCsv(table), { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(im.status, 200, show(im));
    assert.equal(im.json.imported, 4);
    const found = async (q) => {
      const s = await srv.api('GET', `/api/v1/persons?q=${encodeURIComponent(q)}&size=100`);
      assert.equal(s.status, 200, show(s));
      return s.json.items.filter((x) => x.name === '复名丁').length;
    };
    for (const q of ['fmd', 'fumingding', '复名', '丁']) assert.equal(await found(q), 4, `search ${q}`);
    assert.equal(await found('旧名戊'), 1, 'the former name is only its person\'s');
    assert.equal(await found('jmw'), 1, 'the former name\'s initials are only its person\'s');
  });

  it('imports the layout staff use: alias headers and dictionary labels', async () => {
    const a = makeIdNumber({ birth: '1966-05-05', seq: 411 });
    const b = makeIdNumber({ birth: '1967-06-06', seq: 412 });
    const table = [
      ['公民身份号码', '姓名', '性别', '民族', '户籍地区划代码', '现住址', '婚姻状况', '联系方式'],
      [a, '标签甲', '男', '汉族', '120103001001', '河西区某路2号', '已婚', ''],
      [b, '标签乙', '女', '回族', '120103001001', '', '10', ''],
    ];
    const csv = toCsv(table);
    const im = await srv.api('POST', '/api/v1/persons/import?mode=all&format=csv', csv, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(im.status, 200, show(im));
    assert.equal(im.json.imported, 2);
    const r = await srv.api('GET', '/api/v1/persons?q=标签甲');
    assert.equal(r.status, 200, show(r));
    const p = r.json.items.find((x) => x.name === '标签甲');
    assert.ok(p, 'imported person found');
    assert.equal(p.sex, '1');
    assert.equal(p.ethnicity, '01');
    assert.equal(p.marital_status, '20');
    assert.equal(p.residence_address, '河西区某路2号');
    // The import wrote every search key (they go in at its end, in key order):
    // initials, full pinyin, one and two characters find the imported person.
    for (const q of ['bqj', 'biaoqianjia', '签甲', '甲']) {
      const s = await srv.api('GET', `/api/v1/persons?q=${encodeURIComponent(q)}&size=100`);
      assert.equal(s.status, 200, show(s));
      assert.ok(s.json.items.some((x) => x.name === '标签甲'), `search ${q}`);
      assert.ok(!s.json.items.some((x) => x.name === '标签乙'), `search ${q} finds only its match`);
    }
    // The imported keys carry the scope division: a street officer of the
    // persons' street finds them through the index walk, another street's not.
    srv.addUser('import_street', { roles: 'street_officer', scope: '120103001' });
    srv.addUser('import_other', { roles: 'street_officer', scope: '120101001' });
    const here = await srv.login('import_street', TEST_PASSWORD, { mode: 'bearer' });
    const there = await srv.login('import_other', TEST_PASSWORD, { mode: 'bearer' });
    for (const q of ['bqj', '标签']) {
      const s = await here.api('GET', `/api/v1/persons?q=${encodeURIComponent(q)}&size=100`);
      assert.equal(s.status, 200, show(s));
      assert.ok(s.json.items.some((x) => x.name === '标签甲'), `street search ${q}`);
      const o = await there.api('GET', `/api/v1/persons?q=${encodeURIComponent(q)}&size=100`);
      assert.equal(o.status, 200, show(o));
      assert.ok(!o.json.items.some((x) => x.name.startsWith('标签')), `other street ${q}`);
    }
    // A label that is no item of the dictionary is reported on its field.
    const bad = toCsv([table[0], [makeIdNumber({ birth: '1968-07-07', seq: 413 }), '标签丙', '男', '火星族', '120103001001', '', '', '']]);
    const rej = await srv.api('POST', '/api/v1/persons/import?mode=all&format=csv', bad, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assertError(rej, 422, 'import_rejected');
    assert.equal(rej.json.error.errors[0].field, 'ethnicity');
  });

  // A taken ID number is reported on its field as an API create reports it
  // (an import on SQLite lets the unique index answer instead of a query
  // first, and must still say which field, and nothing else for that row).
  it('reports ID numbers already taken, in the table or earlier in the file', async () => {
    const taken = makeIdNumber({ birth: '1961-03-03', seq: 431 });
    assert.equal((await srv.api('POST', '/api/v1/persons', { id_number: taken, name: '已有', hukou_division: '120104001001' })).status, 201);
    const a = makeIdNumber({ birth: '1962-04-04', seq: 432 });
    const b = makeIdNumber({ birth: '1963-05-05', seq: 433 });
    const csv = toCsv([
      ['身份证号码', '姓名', '性别', '户籍地区划'],
      [a, '重号甲', '', '120104001001'], // row 2: good
      [taken, '重号乙', '', '120104001001'], // row 3: taken in the table
      [a, '重号丙', '', '120104001001'], // row 4: row 2's number
      [taken, '重号丁', '2', '120104001001'], // row 5: taken, and the sex disagrees: duplicate only
      [b, '重号戊', '2', '120104001001'], // row 6: sex disagrees (a man's number)
    ]);
    const all = await srv.api('POST', '/api/v1/persons/import?mode=all&format=csv', csv, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assertError(all, 422, 'import_rejected');
    const expected = [[3, 'id_number', 'duplicate'], [4, 'id_number', 'duplicate'], [5, 'id_number', 'duplicate'], [6, 'sex', 'id_mismatch']];
    assert.deepEqual(all.json.error.errors.map((e) => [e.row, e.field, e.code]), expected);
    assert.equal(all.json.error.errors[0].message, '该值已被其他记录使用');
    const none = await srv.api('GET', '/api/v1/persons?q=' + encodeURIComponent('重号') + '&size=100');
    assert.equal(none.json.total, 0, 'mode=all imported nothing');
    const valid = await srv.api('POST', '/api/v1/persons/import?mode=valid&format=csv', csv, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(valid.status, 200, show(valid));
    assert.equal(valid.json.imported, 1);
    assert.deepEqual(valid.json.errors.map((e) => [e.row, e.field, e.code]), expected);
    const one = await srv.api('GET', '/api/v1/persons?q=' + encodeURIComponent('重号') + '&size=100');
    assert.deepEqual(one.json.items.map((x) => x.name), ['重号甲']);
  });

  it('exports and imports back the same persons', async () => {
    const ex = await srv.api('GET', '/api/v1/persons/export?format=csv&hukou_division=120102');
    assert.equal(ex.status, 200, show(ex));
    const table = parseCsv(ex.text);
    assert.equal(table.length, 3);
    const srv2 = await startServer();
    try {
      // Columns the system fills (separated, merged_into) are read-only: drop them.
      const cols = table[0];
      const keep = cols.map((c, i) => (['separated', 'merged_into'].includes(c) ? -1 : i)).filter((i) => i >= 0);
      const csv = toCsv(table.map((r) => keep.map((i) => r[i])));
      const im = await srv2.api('POST', '/api/v1/persons/import?mode=all&format=csv', csv, { raw: true, headers: { 'Content-Type': 'text/csv' } });
      assert.equal(im.status, 200, show(im));
      assert.equal(im.json.imported, 2);
      const a = await srv.api('GET', '/api/v1/persons?hukou_division=120102&sort=name');
      const b = await srv2.api('GET', '/api/v1/persons?hukou_division=120102&sort=name');
      for (const k of ['name', 'sex', 'birth_date', 'ethnicity', 'hukou_division', 'hukou_address', 'id_number']) {
        assert.deepEqual(b.json.items.map((x) => x[k]), a.json.items.map((x) => x[k]), k);
      }
    } finally {
      await srv2.stop();
    }
  });
});
