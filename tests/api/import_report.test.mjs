// import_report.test.mjs - checking an import without importing (dry_run=1)
// and the per-row error report as Excel (report=xlsx): row, the file's column
// header, the cell as written (ID numbers masked) and the reason in Chinese
// (src/engine/io.c). Reference: docs/api.md.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startServer, assertError, show, makeIdNumber, withBadIdCheck, toCsv } from './lib.mjs';

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

/** The bytes of one entry of a zip archive (stored or deflated). */
function zipEntry(buf, name) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, 'not a zip');
  let p = buf.readUInt32LE(eocd + 16);
  const n = buf.readUInt16LE(eocd + 10);
  for (let i = 0; i < n; i++) {
    const method = buf.readUInt16LE(p + 10), size = buf.readUInt32LE(p + 20);
    const nlen = buf.readUInt16LE(p + 28), xlen = buf.readUInt16LE(p + 30), clen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const entry = buf.subarray(p + 46, p + 46 + nlen).toString();
    if (entry === name) {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + size);
      return method === 0 ? data : zlib.inflateRawSync(data);
    }
    p += 46 + nlen + xlen + clen;
  }
  throw new Error(`${name} not in the archive`);
}

const PERSONS = '/api/v1/persons';
const upload = (query, rows) => srv.api('POST', `${PERSONS}/import?${query}`, Buffer.from(toCsv(rows), 'utf8'), {
  raw: true, headers: { 'Content-Type': 'text/csv' },
});

describe('import check and error report', () => {
  const good = makeIdNumber({ birth: '1981-01-01' });
  const bad = withBadIdCheck(makeIdNumber({ birth: '1982-02-02' }));
  const rows = [
    ['公民身份号码', '姓名', '户籍地区划代码'],
    [good, '报告甲', '120101001001'],
    [bad, '报告乙', '120101001001'],
    [makeIdNumber({ birth: '1983-03-03' }), '报告丙', '999999'],
  ];

  it('dry_run checks every row and imports nothing', async () => {
    const before = (await srv.api('GET', `${PERSONS}?size=1`)).json.total;
    const r = await upload('dry_run=1', rows);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.dry_run, true);
    assert.equal(r.json.total, 3);
    assert.equal(r.json.failed, 2);
    assert.equal(r.json.imported, 0);
    assert.equal(r.json.would_import, 0, 'mode=all would import nothing');
    const e = r.json.errors.find((x) => x.field === 'id_number');
    assert.equal(e.row, 3);
    assert.equal(e.column, '公民身份号码');
    assert.equal(e.code, 'invalid_id_number');
    assert.match(e.value, /^\d{3}\*\*\*[\dX]{2}$/, 'the ID number is masked in the report');
    assert.ok(!JSON.stringify(r.json).includes(bad));
    const d = r.json.errors.find((x) => x.field === 'hukou_division');
    assert.equal(d.column, '户籍地区划代码');
    assert.equal(d.value, '999999');
    const v = await upload('dry_run=1&mode=valid', rows);
    assert.equal(v.json.would_import, 1);
    assert.equal((await srv.api('GET', `${PERSONS}?size=1`)).json.total, before, 'nothing was imported');
  });

  it('report=xlsx gives the errors as an Excel sheet', async () => {
    const r = await upload('dry_run=1&report=xlsx', rows);
    assert.equal(r.status, 200, show(r));
    assert.match(r.headers['content-type'], /spreadsheetml/);
    assert.match(r.headers['content-disposition'] || '', /persons-import-errors\.xlsx/);
    const sheet = zipEntry(r.buf, 'xl/worksheets/sheet1.xml').toString('utf8');
    const strings = (() => {
      try {
        return zipEntry(r.buf, 'xl/sharedStrings.xml').toString('utf8');
      } catch {
        return '';
      }
    })();
    const text = sheet + strings;
    for (const s of ['行号', '错误原因', '公民身份号码', '户籍地区划代码', '999999']) assert.ok(text.includes(s), `${s} in the report`);
    assert.ok(!text.includes(bad), 'the full ID number is not in the report');
  });

  it('report=xlsx needs a dry run or mode=valid; bad parameters are refused', async () => {
    assertError(await upload('report=xlsx', rows), 400, 'bad_request', { field: 'report' });
    assertError(await upload('dry_run=maybe', rows), 400, 'bad_request', { field: 'dry_run' });
    assertError(await upload('dry_run=1&report=pdf', rows), 400, 'bad_request', { field: 'report' });
    const v = await upload('mode=valid&report=xlsx', rows);
    assert.equal(v.status, 200, show(v));
    const list = await srv.api('GET', `${PERSONS}?q=报告甲`);
    assert.equal(list.json.total, 1, 'mode=valid imported the good row');
  });
});
