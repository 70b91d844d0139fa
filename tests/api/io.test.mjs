// io.test.mjs - export (CSV, XLSX) and import of an engine entity.
// Reference: docs/api.md ("Entity endpoints": export and import).
//
// Three servers: A holds the data and exports it; B and C start empty and
// import A's CSV and XLSX exports, after which every field must match A's.
// B then takes the import error cases (all-or-nothing, valid-only, unknown
// column, Chinese labels, broken files).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, assertError, assertErrorShape, snapshot, assertUnchanged, fullCase, validCase,
  createCase, parseCsv, toCsv, makeCode, show,
} from './lib.mjs';

const CASES = '/api/v1/sample_cases';
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const FIELDS = ['title', 'code', 'applicant_id', 'phone', 'amount_fen', 'apply_date', 'division', 'kind', 'members', 'urgent', 'org_uscc', 'bank_card', 'visited_at', 'extra', 'decided_by'];
// Columns of an export: id, every field in declaration order, state, created_at, updated_at (ASSUMPTION: declaration order).
const EXPORT_COLUMNS = ['id', ...FIELDS, 'state', 'created_at', 'updated_at'];
// What a round trip must preserve: every field (not id, timestamps, state, version).
const COMPARED = FIELDS;

let A, B, C;
/** Rows created on A (the reply rows), and the bodies sent. */
const seeded = [];

before(async () => {
  [A, B, C] = await Promise.all([startServer(), startServer(), startServer()]);
  const bodies = [
    fullCase({ title: '救助，"特殊"案件, 甲', extra: { 说明: '含逗号,和"引号"', n: [1, 2] } }),
    fullCase({ title: '医疗救助', kind: 'a', urgent: false, members: 1, amount_fen: 0, visited_at: '2024-05-06T01:02:03Z' }),
    fullCase({ title: '临时救助 空格  保留', division: '120103001002', amount_fen: 100000000, extra: [1, '二', null] }),
    fullCase({ title: "单引号's 与 反斜杠\\", extra: 'just a string', division: '120101002003' }),
    validCase({ title: '最少字段', code: makeCode() }),
    validCase({ title: '只有金额', code: makeCode(), amount_fen: 7, apply_date: '2020-02-29' }),
    fullCase({ title: 'English title', kind: 'b', extra: { deep: { deeper: { deepest: true } } } }),
    fullCase({ title: '已提交的案件' }),
  ];
  for (const body of bodies) {
    const r = await A.api('POST', CASES, body);
    assert.equal(r.status, 201, `seed A; ${show(r)}`);
    seeded.push({ body, row: r.json });
  }
  // One submitted (state must not travel), one deleted (must not be exported).
  const last = seeded.at(-1).row;
  const s = await A.api('POST', `${CASES}/${last.id}/actions/submit`, {});
  assert.equal(s.status, 200, show(s));
  const gone = await createCase(A, { title: '已删除的案件', code: makeCode() });
  assert.equal((await A.api('DELETE', `${CASES}/${gone.id}`)).status, 204);
});
after(async () => {
  await Promise.all([A?.stop(), B?.stop(), C?.stop()]);
});

/** All rows of a server (size 500), keyed by code. */
async function rowsByCode(srv) {
  const r = await srv.api('GET', `${CASES}?size=500&sort=id`);
  assert.equal(r.status, 200, show(r));
  return new Map(r.json.items.map((x) => [x.code, x]));
}

/** Every compared field of A's rows equals the imported rows of target. */
async function assertSameRows(target) {
  const a = await rowsByCode(A);
  const t = await rowsByCode(target);
  assert.equal(t.size, a.size, 'same number of rows');
  assert.equal(a.size, seeded.length, 'A has the seeded rows (not the deleted one)');
  for (const [code, ra] of a) {
    const rt = t.get(code);
    assert.ok(rt, `row ${code} imported`);
    for (const f of COMPARED) assert.deepEqual(rt[f], ra[f], `row ${code} field ${f}`);
    assert.equal(rt.state, 'draft', 'state column ignored on import: new rows start in draft');
    assert.equal(rt.version, 1);
  }
}

describe('export CSV', () => {
  let res;
  let table;
  before(async () => {
    res = await A.api('GET', `${CASES}/export?format=csv`);
    table = parseCsv(res.buf.toString('utf8'));
  });

  it('is a CSV download: 200, text/csv, attachment', () => {
    assert.equal(res.status, 200, show(res));
    assert.match(res.headers['content-type'] ?? '', /^text\/csv/i);
    assert.match(res.headers['content-disposition'] ?? '', /attachment/i, 'a file download');
  });

  it('starts with a UTF-8 BOM', () => {
    assert.deepEqual([...res.buf.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  });

  it('has the header row: id, every field, state, created_at, updated_at', () => {
    assert.deepEqual(table[0], EXPORT_COLUMNS);
  });

  it('has one line per live row (deleted rows left out)', () => {
    const data = table.slice(1).filter((r) => r.length > 1 || r[0] !== '');
    assert.equal(data.length, seeded.length);
  });

  // Values: money in fen, ISO dates, text with commas and quotes intact, state, id.
  it('holds the values', () => {
    const col = (name) => EXPORT_COLUMNS.indexOf(name);
    for (const { body, row } of seeded) {
      const line = table.find((r) => r[col('id')] === String(row.id));
      assert.ok(line, `row ${row.id} exported`);
      assert.equal(line.length, EXPORT_COLUMNS.length, 'one cell per column');
      assert.equal(line[col('title')], body.title);
      assert.equal(line[col('code')], body.code);
      assert.equal(line[col('apply_date')], body.apply_date);
      assert.equal(line[col('division')], row.division);
      assert.equal(line[col('amount_fen')], body.amount_fen === undefined ? '' : String(body.amount_fen));
      assert.equal(line[col('kind')], row.kind);
      assert.equal(line[col('state')], row.id === seeded.at(-1).row.id ? 'submitted' : 'draft');
      if (body.extra !== undefined) assert.deepEqual(JSON.parse(line[col('extra')]), body.extra, 'JSON field as JSON text');
      assert.ok(!Number.isNaN(Date.parse(line[col('created_at')])), 'created_at');
    }
  });

  // The list's filters and sort apply to exports.
  it('applies filters and sort', async () => {
    const r = await A.api('GET', `${CASES}/export?format=csv&division=120103&sort=-id`);
    assert.equal(r.status, 200, show(r));
    const t = parseCsv(r.buf.toString('utf8')).slice(1).filter((x) => x.length > 1);
    const want = seeded.filter((s) => s.row.division.startsWith('120103')).map((s) => String(s.row.id));
    assert.deepEqual(t.map((x) => x[0]), want.reverse());
  });

  it('a bad filter on export is 400 like on the list', async () => {
    assertError(await A.api('GET', `${CASES}/export?format=csv&bogus=1`), 400, 'unknown_filter');
  });

  it('an unknown format is a 4xx error', async () => {
    const r = await A.api('GET', `${CASES}/export?format=pdf`);
    assert.ok(r.status >= 400 && r.status < 500, show(r));
    assertErrorShape(r);
  });
});

describe('export XLSX', () => {
  it('is an xlsx download (a zip: starts with PK)', async () => {
    const r = await A.api('GET', `${CASES}/export?format=xlsx`);
    assert.equal(r.status, 200, show(r));
    assert.equal((r.headers['content-type'] ?? '').split(';')[0].trim(), XLSX_TYPE);
    assert.equal(r.buf.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
    assert.ok(r.buf.length > 500, 'not empty');
  });
});

describe('round trips', () => {
  // CSV exported by A imported into an empty B: every field equal.
  it('CSV: export from A, import into B, same rows', async () => {
    const exp = await A.api('GET', `${CASES}/export?format=csv`);
    assert.equal(exp.status, 200, show(exp));
    const r = await B.api('POST', `${CASES}/import`, exp.buf, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.mode, 'all', 'default mode');
    assert.equal(r.json.total, seeded.length);
    assert.equal(r.json.imported, seeded.length);
    assert.equal(r.json.failed, 0);
    assert.deepEqual(r.json.errors, []);
    await assertSameRows(B);
  });

  // XLSX exported by A imported into an empty C (format sniffed from the bytes).
  it('XLSX: export from A, import into C, same rows', async () => {
    const exp = await A.api('GET', `${CASES}/export?format=xlsx`);
    assert.equal(exp.status, 200, show(exp));
    const r = await C.api('POST', `${CASES}/import?mode=all`, exp.buf, { raw: true, headers: { 'Content-Type': XLSX_TYPE } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.imported, seeded.length);
    assert.equal(r.json.failed, 0);
    await assertSameRows(C);
  });

  // Importing the same file again violates the unique code of every row: all-or-nothing rejects it.
  it('importing A\'s CSV into B again is rejected (duplicate codes), nothing imported', async () => {
    const exp = await A.api('GET', `${CASES}/export?format=csv`);
    const snap = await snapshot(B);
    const r = await B.api('POST', `${CASES}/import?mode=all`, exp.buf, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    const err = assertError(r, 422, 'import_rejected');
    assert.equal(err.failed, seeded.length);
    assert.ok(err.errors.every((e) => e.field === 'code' && e.code === 'duplicate'), JSON.stringify(err.errors));
    await assertUnchanged(B, snap);
  });
});

describe('import errors', () => {
  const csv = (rows) => Buffer.from(toCsv(rows), 'utf8');
  const post = (srv, mode, body, type = 'text/csv') =>
    srv.api('POST', `${CASES}/import${mode ? `?mode=${mode}` : ''}`, body, { raw: true, headers: { 'Content-Type': type } });

  // Rows are numbered as in a spreadsheet: the header is row 1, the first data row is row 2 (ASSUMPTION).
  const mixed = () => csv([
    ['title', 'apply_date', 'division'],
    ['导入正确一', '2024-04-01', '120101001001'],
    ['x', '2024-04-02', '120101001001'],
    ['导入日期错', '2023-02-29', '120101001001'],
    ['导入正确二', '2024-04-03', '120103001002'],
  ]);

  it('mode=all with bad rows: 422 import_rejected listing rows and fields, nothing imported', async () => {
    const snap = await snapshot(B);
    const err = assertError(await post(B, 'all', mixed()), 422, 'import_rejected');
    assert.equal(err.mode, 'all');
    assert.equal(err.total, 4);
    assert.equal(err.imported, 0);
    assert.equal(err.failed, 2);
    assert.deepEqual(
      err.errors.map((e) => [e.row, e.field, e.code]),
      [[3, 'title', 'too_short'], [4, 'apply_date', 'invalid_date']],
    );
    for (const e of err.errors) assert.equal(typeof e.message, 'string');
    await assertUnchanged(B, snap);
  });

  it('mode=valid: 200, the good rows imported, the bad reported', async () => {
    const before = await snapshot(B);
    const r = await post(B, 'valid', mixed());
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.mode, 'valid');
    assert.equal(r.json.total, 4);
    assert.equal(r.json.imported, 2);
    assert.equal(r.json.failed, 2);
    assert.deepEqual(r.json.errors.map((e) => [e.row, e.field, e.code]), [[3, 'title', 'too_short'], [4, 'apply_date', 'invalid_date']]);
    const after = await snapshot(B);
    assert.equal(after.total, before.total + 2);
    const l = await B.api('GET', `${CASES}?title.like=${encodeURIComponent('导入正确')}`);
    assert.equal(l.json.total, 2);
    const two = l.json.items.find((x) => x.title === '导入正确二');
    assert.equal(two.division, '120103001002');
    assert.equal(two.apply_date, '2024-04-03');
    assert.equal(two.kind, 'a', 'defaults applied on import');
    assert.equal(two.state, 'draft');
  });

  it('an unknown column: 422 unknown_column naming it, nothing imported', async () => {
    const snap = await snapshot(B);
    const body = csv([['title', 'apply_date', 'division', 'colour'], ['未知列', '2024-04-01', '120101001001', 'red']]);
    assertError(await post(B, 'all', body), 422, 'unknown_column', { field: 'colour' });
    assertError(await post(B, 'valid', body), 422, 'unknown_column', { field: 'colour' });
    await assertUnchanged(B, snap);
  });

  // Headers may be Chinese labels (标题, 申请日期, 所属区划 ...).
  it('accepts Chinese header labels', async () => {
    const body = csv([['标题', '申请日期', '所属区划', '金额（分）', '类别'], ['中文表头导入', '2024-04-05', '120101002003', '4200', 'b']]);
    const r = await post(B, null, body);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.imported, 1);
    const l = await B.api('GET', `${CASES}?title=${encodeURIComponent('中文表头导入')}`);
    assert.equal(l.json.total, 1);
    const row = l.json.items[0];
    assert.equal(row.apply_date, '2024-04-05');
    assert.equal(row.division, '120101002003');
    assert.equal(row.amount_fen, 4200);
    assert.equal(row.kind, 'b');
  });

  // id, version, state, created_at, updated_at columns are ignored.
  it('ignores id, version, state, created_at, updated_at columns', async () => {
    const body = csv([
      ['id', 'version', 'state', 'created_at', 'updated_at', 'title', 'apply_date', 'division'],
      ['424242', '9', 'approved', '2000-01-01T00:00:00Z', '2000-01-01T00:00:00Z', '忽略系统列', '2024-04-06', '120101001001'],
    ]);
    const r = await post(B, 'all', body);
    assert.equal(r.status, 200, show(r));
    const l = await B.api('GET', `${CASES}?title=${encodeURIComponent('忽略系统列')}`);
    const row = l.json.items[0];
    assert.notEqual(row.id, 424242);
    assert.equal(row.version, 1);
    assert.equal(row.state, 'draft');
    assert.notEqual(row.created_at.slice(0, 4), '2000');
  });

  // Two rows with the same unique code in one file: the second is a duplicate.
  it('a duplicate code within one file fails the later row', async () => {
    const code = makeCode('DU');
    const body = csv([['title', 'code', 'apply_date', 'division'], ['重复一', code, '2024-04-07', '120101001001'], ['重复二', code, '2024-04-07', '120101001001']]);
    const snap = await snapshot(B);
    const err = assertError(await post(B, 'all', body), 422, 'import_rejected');
    assert.deepEqual(err.errors.map((e) => [e.row, e.field, e.code]), [[3, 'code', 'duplicate']]);
    await assertUnchanged(B, snap);
  });

  // A broken XLSX (cut in half) is a clean 4xx, nothing imported.
  it('a truncated xlsx is a 4xx error, nothing imported', async () => {
    const exp = await A.api('GET', `${CASES}/export?format=xlsx`);
    const half = exp.buf.subarray(0, Math.floor(exp.buf.length / 2));
    const snap = await snapshot(B);
    for (const q of ['?format=xlsx', '']) {
      const r = await B.api('POST', `${CASES}/import${q}`, half, { raw: true, headers: { 'Content-Type': XLSX_TYPE } });
      assert.ok(r.status >= 400 && r.status < 500, show(r));
      assertErrorShape(r);
    }
    await assertUnchanged(B, snap);
    assert.ok(B.alive(), 'server alive');
  });

  // CSV in GBK (not UTF-8): a 4xx with a message, nothing imported.
  it('a GBK-encoded CSV is a 4xx error, nothing imported', async () => {
    // "标题,申请日期,所属区划\r\n测试,2024-04-08,120101001001\r\n" in GBK.
    const gbk = Buffer.concat([
      Buffer.from('b1eacce22cc9eac7ebc8d5c6da2ccbf9caf4c7f8bbae0d0a', 'hex'),
      Buffer.from('b2e2cad42c', 'hex'),
      Buffer.from('2024-04-08,120101001001\r\n', 'latin1'),
    ]);
    assert.equal(new TextDecoder('gbk').decode(gbk).slice(0, 4), '标题,申', 'fixture is GBK');
    const snap = await snapshot(B);
    const r = await post(B, 'valid', gbk);
    assert.ok(r.status >= 400 && r.status < 500, show(r));
    assertErrorShape(r);
    await assertUnchanged(B, snap);
  });

  // Garbage that is neither CSV nor XLSX in a sensible way.
  it('binary garbage is a 4xx error, nothing imported', async () => {
    const snap = await snapshot(B);
    const r = await post(B, 'all', Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 0, 0, 0x50, 0x4b, 0x03, 0x04, 9, 9]), 'application/octet-stream');
    assert.ok(r.status >= 400 && r.status < 500, show(r));
    assertErrorShape(r);
    await assertUnchanged(B, snap);
  });

  it('an unknown mode is 400', async () => {
    const snap = await snapshot(B);
    const r = await post(B, 'some', mixed());
    assertError(r, 400);
    await assertUnchanged(B, snap);
  });
});

// A file larger than the in-memory prefix and than several savepoint batches
// (src/engine/io.c): the server writes the upload to a temporary file as it
// arrives (MZ_ROUTE_SPOOL) and removes it when the request ends; a bad row in
// the middle of a batch leaves nothing, the rows around it are all there.
describe('large import (spooled upload, batched savepoints)', () => {
  let D, tmp;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-spool-'));
    D = await startServer({ env: { TMPDIR: tmp } });
  });
  after(async () => {
    await D?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const rows = (n, bad) => {
    const lines = ['title,apply_date,division,amount_fen'];
    for (let i = 1; i <= n; i++) {
      lines.push(`大批导入${i},2024-0${1 + (i % 9)}-1${i % 10},120101001001,${i === bad ? -1 : i}`);
    }
    return Buffer.from(lines.join('\n') + '\n');
  };
  const count = async () => {
    const r = await D.api('GET', `${CASES}?size=1`); // D holds only these rows
    assert.equal(r.status, 200, show(r));
    return r.json.total;
  };

  it('mode=valid: 3,000 rows with one bad row (row 1,501) import 2,999, the upload file is gone', async () => {
    const body = rows(3000, 1500);
    assert.ok(body.length > 4096 * 10, 'well past the in-memory prefix');
    const r = await D.api('POST', `${CASES}/import?mode=valid`, body, { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.total, 3000);
    assert.equal(r.json.imported, 2999);
    assert.equal(r.json.failed, 1);
    assert.equal(r.json.errors.length, 1);
    assert.equal(r.json.errors[0].row, 1501); // the header is row 1
    assert.equal(r.json.errors[0].field, 'amount_fen');
    assert.equal(await count(), 2999);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('mz-')), [], 'no upload or report file left behind');
  });

  it('mode=all with one bad row imports nothing and leaves no file', async () => {
    const before = await count();
    const r = await D.api('POST', `${CASES}/import?mode=all`, rows(2000, 1999), { raw: true, headers: { 'Content-Type': 'text/csv' } });
    assertError(r, 422, 'import_rejected');
    assert.equal(await count(), before);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('mz-')), []);
  });
});
