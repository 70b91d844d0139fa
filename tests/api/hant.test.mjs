// hant.test.mjs - exports in Traditional Chinese on request (?script=hant,
// OpenCC s2t, src/core/hant.c): names and addresses converted at the phrase
// level (发展 -> 發展, 头发 -> 頭髮), codes and numbers untouched; the default
// stays Simplified; an unknown script is refused. Reference: docs/api.md.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, show, makeIdNumber, parseCsv } from './lib.mjs';

let srv;
let person;
before(async () => {
  srv = await startServer();
  const r = await srv.api('POST', '/api/v1/persons', {
    id_number: makeIdNumber({ birth: '1980-02-02' }), name: '张发展', hukou_division: '120101001001',
    hukou_address: '天津市和平区头发胡同1号',
  });
  assert.equal(r.status, 201, show(r));
  person = r.json;
});
after(async () => {
  await srv?.stop();
});

describe('Traditional Chinese exports', () => {
  it('converts text cells with OpenCC when asked', async () => {
    const r = await srv.api('GET', `/api/v1/persons/export?format=csv&script=hant&id=${person.id}`);
    assert.equal(r.status, 200, show(r));
    const rows = parseCsv(r.text.replace(/^\uFEFF/, ''));
    const head = rows[0];
    const row = rows.find((x) => x[0] === String(person.id));
    assert.ok(row, r.text.slice(0, 300));
    assert.equal(row[head.indexOf('name')], '張發展');
    assert.equal(row[head.indexOf('hukou_address')], '天津市和平區頭髮衚衕1號');
    assert.equal(row[head.indexOf('hukou_division')], '120101001001', 'codes are untouched');
  });

  it('stays Simplified by default and refuses an unknown script', async () => {
    const r = await srv.api('GET', `/api/v1/persons/export?format=csv&id=${person.id}`);
    assert.match(r.text, /张发展/);
    assert.equal((await srv.api('GET', `/api/v1/persons/export?format=csv&script=hans&id=${person.id}`)).status, 200);
    assertError(await srv.api('GET', '/api/v1/persons/export?format=csv&script=latin'), 400, 'bad_request', { field: 'script' });
  });

  it('also converts XLSX exports', async () => {
    const r = await srv.api('GET', `/api/v1/persons/export?format=xlsx&script=hant&id=${person.id}`);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.buf.subarray(0, 2).toString(), 'PK');
  });
});
