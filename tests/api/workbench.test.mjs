// workbench.test.mjs - the staff workbench's server parts (src/modules/workbench):
// saved list filters per user (/api/v1/me/filters) and attachments of records
// (/api/v1/{entity}/{id}/attachments), and the audit log's object_id filter the
// detail page's 审计记录 tab uses.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { startServer, createCase, assertError, show, TEST_PASSWORD, sleep, SQLITE_ONLY, rawRequest, parseRawResponse } from './lib.mjs';

let srv;
before(async () => {
  srv = await startServer({ env: { MZ_ATTACHMENT_MAX_BYTES: String(64 * 1024) } });
});
after(async () => {
  await srv?.stop();
});

const FILTERS = '/api/v1/me/filters';

describe('saved filters', () => {
  it('saves, lists, renames and deletes a filter of the caller only', async () => {
    const body = { entity: 'sample_cases', name: ' 和平区待办 ', query: { 'division': '120101', sort: '-id', state: 'draft' }, columns: ['title', 'division'] };
    const r = await srv.api('POST', FILTERS, body);
    assert.equal(r.status, 201, show(r));
    assert.equal(r.json.name, '和平区待办', 'name trimmed');
    assert.deepEqual(r.json.query, body.query);
    assert.deepEqual(r.json.columns, ['title', 'division']);
    const id = r.json.id;

    const dup = await srv.api('POST', FILTERS, { ...body, name: '和平区待办' });
    assertError(dup, 409, 'duplicate', { field: 'name' });

    const list = await srv.api('GET', `${FILTERS}?entity=sample_cases`);
    assert.equal(list.status, 200, show(list));
    assert.deepEqual(list.json.items.map((f) => f.name), ['和平区待办']);
    assert.equal(list.json.max, 30);

    // Another user neither sees nor changes it.
    srv.addUser('officer2', { roles: 'city_officer' });
    const other = await srv.login('officer2', TEST_PASSWORD, { mode: 'bearer' });
    const theirs = await other.api('GET', `${FILTERS}?entity=sample_cases`);
    assert.deepEqual(theirs.json.items, []);
    assertError(await other.api('PATCH', `${FILTERS}/${id}`, { name: '抢走' }), 404, 'not_found');
    assertError(await other.api('DELETE', `${FILTERS}/${id}`), 404, 'not_found');

    const ren = await srv.api('PATCH', `${FILTERS}/${id}`, { name: '和平区草稿' });
    assert.equal(ren.status, 200, show(ren));
    assert.equal(ren.json.name, '和平区草稿');
    assert.deepEqual(ren.json.query, body.query, 'query kept on rename');

    const del = await srv.api('DELETE', `${FILTERS}/${id}`);
    assert.equal(del.status, 204);
    const after = await srv.api('GET', `${FILTERS}?entity=sample_cases`);
    assert.deepEqual(after.json.items, []);
    assertError(await srv.api('DELETE', `${FILTERS}/${id}`), 404, 'not_found');
  });

  it('a shared filter is listed read-only to colleagues who may read the entity, with its owner', async () => {
    const mine = await srv.api('POST', FILTERS, { entity: 'sample_cases', name: '全市草稿', query: { state: 'draft' }, shared: true });
    assert.equal(mine.status, 201, show(mine));
    assert.equal(mine.json.shared, true);
    assert.equal(mine.json.mine, true);
    const priv = await srv.api('POST', FILTERS, { entity: 'sample_cases', name: '我自己的', query: { state: 'submitted' } });
    assert.equal(priv.json.shared, false);
    srv.addUser('colleague', { roles: 'street_officer', scope: '120101001' });
    const col = await srv.login('colleague', TEST_PASSWORD, { mode: 'bearer' });
    const own = await col.api('POST', FILTERS, { entity: 'sample_cases', name: '街道的', query: { q: '街' } });
    assert.equal(own.status, 201, show(own));
    const seen = await col.api('GET', `${FILTERS}?entity=sample_cases`);
    // the colleague's own first, then shared ones; never the private one
    assert.deepEqual(seen.json.items.map((f) => [f.name, f.mine, f.shared]), [['街道的', true, false], ['全市草稿', false, true]]);
    assert.equal(seen.json.items[1].owner, 'tester');
    assert.deepEqual(seen.json.items[1].query, { state: 'draft' });
    // read-only for them
    assertError(await col.api('PATCH', `${FILTERS}/${mine.json.id}`, { name: '改名' }), 404, 'not_found');
    assertError(await col.api('DELETE', `${FILTERS}/${mine.json.id}`), 404, 'not_found');
    // not to users who cannot read the entity
    srv.addUser('auditor2', { roles: 'auditadmin' });
    const aud = await srv.login('auditor2', TEST_PASSWORD, { mode: 'bearer' });
    assertError(await aud.api('GET', `${FILTERS}?entity=sample_cases`), 422, 'validation_failed', { field: 'entity' });
    // the owner stops sharing: it leaves the colleague's list
    assertError(await srv.api('PATCH', `${FILTERS}/${mine.json.id}`, { shared: 'yes' }), 422, 'validation_failed', { field: 'shared' });
    const off = await srv.api('PATCH', `${FILTERS}/${mine.json.id}`, { shared: false });
    assert.equal(off.json.shared, false);
    assert.deepEqual(off.json.query, { state: 'draft' }, 'query kept');
    assert.deepEqual((await col.api('GET', `${FILTERS}?entity=sample_cases`)).json.items.map((f) => f.name), ['街道的']);
    for (const id of [mine.json.id, priv.json.id]) assert.equal((await srv.api('DELETE', `${FILTERS}/${id}`)).status, 204);
  });

  it('refuses bad input with a field and changes nothing', async () => {
    const cases = [
      [{ entity: 'nope', name: 'x', query: {} }, 'entity'],
      [{ entity: 'sample_cases', name: '   ', query: {} }, 'name'],
      [{ entity: 'sample_cases', name: 'x'.repeat(41), query: {} }, 'name'],
      [{ entity: 'sample_cases', name: 'x', query: [] }, 'query'],
      [{ entity: 'sample_cases', name: 'x', query: { 'Bad Key': 'v' } }, 'query'],
      [{ entity: 'sample_cases', name: 'x', query: { a: 1 } }, 'query'],
      [{ entity: 'sample_cases', name: 'x', query: { q: '长'.repeat(501) } }, 'query'],
      [{ entity: 'sample_cases', name: 'x', query: {}, columns: 'title' }, 'columns'],
    ];
    for (const [b, field] of cases) assertError(await srv.api('POST', FILTERS, b), 422, 'validation_failed', { field });
    // Over 4096 bytes in all.
    const big = {};
    for (let i = 0; i < 12; i++) big[`f${i}`] = '区'.repeat(200);
    assertError(await srv.api('POST', FILTERS, { entity: 'sample_cases', name: '大', query: big }), 422, 'validation_failed', { field: 'query' });
    assertError(await srv.api('GET', FILTERS), 400, 'bad_request', { field: 'entity' });
    const list = await srv.api('GET', `${FILTERS}?entity=sample_cases`);
    assert.deepEqual(list.json.items, [], 'nothing saved');
  });

  it('caps the number per user and entity', async () => {
    for (let i = 0; i < 30; i++) {
      const r = await srv.api('POST', FILTERS, { entity: 'sample_notes', name: `方案${i}`, query: { q: String(i) } });
      assert.equal(r.status, 201, show(r));
    }
    assertError(await srv.api('POST', FILTERS, { entity: 'sample_notes', name: '第31个', query: {} }), 409, 'too_many');
    const list = await srv.api('GET', `${FILTERS}?entity=sample_notes`);
    assert.equal(list.json.items.length, 30);
  });
});

// Minimal files of each allowed type (signature + some bytes).
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), crypto.randomBytes(100)]);
const JPG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(100)]);

function upload(api, entity, id, buf, { kind = 'authorization', filename = '授权书.pdf' } = {}) {
  const q = new URLSearchParams({ kind, filename });
  return api('POST', `/api/v1/${entity}/${id}/attachments?${q}`, buf, { raw: true, headers: { 'Content-Type': 'application/octet-stream' } });
}

describe('attachments', () => {
  let rec;
  before(async () => {
    rec = await createCase(srv, { title: '附件测试案件' });
  });

  it('uploads a PDF, lists it, downloads the same bytes with a UTF-8 file name', async () => {
    const r = await upload(srv.api, 'sample_cases', rec.id, PDF);
    assert.equal(r.status, 201, show(r));
    assert.equal(r.json.content_type, 'application/pdf');
    assert.equal(r.json.size, PDF.length);
    assert.equal(r.json.kind_zh, '授权书');
    assert.equal(r.json.sha256, crypto.createHash('sha256').update(PDF).digest('hex'));
    const list = await srv.api('GET', `/api/v1/sample_cases/${rec.id}/attachments`);
    assert.equal(list.status, 200, show(list));
    assert.equal(list.json.items.length, 1);
    assert.equal(list.json.items[0].filename, '授权书.pdf');
    assert.equal(list.json.max_bytes, 64 * 1024);
    const dl = await srv.api('GET', `/api/v1/sample_cases/${rec.id}/attachments/${r.json.id}`);
    assert.equal(dl.status, 200);
    assert.equal(dl.headers['content-type'], 'application/pdf');
    assert.match(dl.headers['content-disposition'], /^attachment; filename="[^"]*\.pdf"; filename\*=UTF-8''%E6%8E%88%E6%9D%83%E4%B9%A6\.pdf$/);
    assert.ok(dl.buf.equals(PDF), 'same bytes');
    // In the record's history.
    const h = await srv.api('GET', `/api/v1/sample_cases/${rec.id}/history`);
    const add = h.json.items.find((x) => x.action === 'attachment_add');
    assert.ok(add, show(h));
    assert.match(add.changes.attachment.to, /授权书\.pdf/);
  });

  it('accepts PNG and JPEG by content and checks the extension against it', async () => {
    assert.equal((await upload(srv.api, 'sample_cases', rec.id, PNG, { kind: 'identity', filename: 'id.png' })).status, 201);
    assert.equal((await upload(srv.api, 'sample_cases', rec.id, JPG, { kind: 'income', filename: '收入.JPEG' })).status, 201);
    // A PNG named .pdf: the content decides, the name must agree.
    assertError(await upload(srv.api, 'sample_cases', rec.id, PNG, { filename: 'scan.pdf' }), 422, 'type_mismatch', { field: 'filename' });
  });

  it('refuses a file over the cap from its Content-Length alone, before reading the body', async () => {
    // 20 MiB declared, below the server's general 64 MiB upload cap but over
    // MZ_ATTACHMENT_MAX_BYTES (64 KiB here); no body byte is ever sent, so
    // only an answer given from the header arrives before the timeout.
    const path = `/api/v1/sample_cases/${rec.id}/attachments?kind=authorization&filename=big.pdf`;
    const text = await rawRequest(srv.port, `POST ${path} HTTP/1.1\r\nHost: x\r\n` +
      'Content-Type: application/octet-stream\r\nContent-Length: 20971520\r\n\r\n', { timeoutMs: 3000 });
    const res = parseRawResponse(text);
    assert.equal(res.status, 413, `want 413 at once, got: ${text.slice(0, 200)}`);
    const err = JSON.parse(res.body).error;
    assert.equal(err.code, 'file_too_large');
    assert.equal(err.field, 'file');
    assert.equal(err.max_bytes, 64 * 1024);
    assert.match(err.message, /上限/);
    const afterN = (await srv.api('GET', `/api/v1/sample_cases/${rec.id}/attachments`)).json.items;
    assert.ok(!afterN.some((a) => a.filename === 'big.pdf'));
  });

  it('refuses wrong types, oversize, empty files, bad kinds and names, and stores nothing', async () => {
    const before = (await srv.api('GET', `/api/v1/sample_cases/${rec.id}/attachments`)).json.items.length;
    const exe = Buffer.from('MZ\x90\x00 not a scan');
    const e1 = assertError(await upload(srv.api, 'sample_cases', rec.id, exe, { filename: 'virus.pdf' }), 415, 'unsupported_type');
    assert.match(e1.message, /PDF、JPEG、PNG/);
    const big = Buffer.concat([PDF, Buffer.alloc(64 * 1024)]);
    const e2 = assertError(await upload(srv.api, 'sample_cases', rec.id, big), 413, 'file_too_large');
    assert.match(e2.message, /上限/);
    assertError(await upload(srv.api, 'sample_cases', rec.id, Buffer.alloc(0)), 422, 'empty_file', { field: 'file' });
    assertError(await upload(srv.api, 'sample_cases', rec.id, PDF, { kind: 'nonsense' }), 422, 'invalid_kind', { field: 'kind' });
    assertError(await upload(srv.api, 'sample_cases', rec.id, PDF, { filename: '../etc/passwd.pdf' }), 422, 'invalid_filename', { field: 'filename' });
    assertError(await upload(srv.api, 'sample_cases', rec.id, PDF, { filename: '' }), 422, 'invalid_filename');
    assertError(await upload(srv.api, 'sample_notes', 1, PDF), 404, 'not_found'); // entity takes none
    assertError(await upload(srv.api, 'sample_cases', 999999, PDF), 404, 'not_found');
    const afterN = (await srv.api('GET', `/api/v1/sample_cases/${rec.id}/attachments`)).json.items.length;
    assert.equal(afterN, before, 'nothing stored');
  });

  it('deletes with a reason, into the history; the file is gone for everyone', async () => {
    const up = await upload(srv.api, 'sample_cases', rec.id, PDF, { kind: 'other', filename: '作废.pdf' });
    assertError(await srv.api('DELETE', `/api/v1/sample_cases/${rec.id}/attachments/${up.json.id}`), 422, 'reason_required', { field: 'reason' });
    const d = await srv.api('DELETE', `/api/v1/sample_cases/${rec.id}/attachments/${up.json.id}?reason=${encodeURIComponent('上传错了文件')}`);
    assert.equal(d.status, 204, show(d));
    assertError(await srv.api('GET', `/api/v1/sample_cases/${rec.id}/attachments/${up.json.id}`), 404, 'not_found');
    const list = await srv.api('GET', `/api/v1/sample_cases/${rec.id}/attachments`);
    assert.ok(!list.json.items.some((a) => a.id === up.json.id));
    const h = await srv.api('GET', `/api/v1/sample_cases/${rec.id}/history`);
    const del = h.json.items.find((x) => x.action === 'attachment_delete');
    assert.equal(del.comment, '上传错了文件');
  });

  it('applies the record scope and permissions', async () => {
    srv.addUser('hexi1', { roles: 'street_officer', scope: '120103' });
    const hexi = await srv.login('hexi1', TEST_PASSWORD, { mode: 'bearer' });
    // rec lies in 120101 (和平区): outside 河西区's scope.
    assertError(await hexi.api('GET', `/api/v1/sample_cases/${rec.id}/attachments`), 404, 'not_found');
    assertError(await upload(hexi.api, 'sample_cases', rec.id, PDF), 404, 'not_found');
    srv.addUser('leader1', { roles: 'leader' });
    const leader = await srv.login('leader1', TEST_PASSWORD, { mode: 'bearer' });
    assert.equal((await leader.api('GET', `/api/v1/sample_cases/${rec.id}/attachments`)).status, 200);
    assertError(await upload(leader.api, 'sample_cases', rec.id, PDF), 403, 'forbidden');
  });

  it('audits upload, download and delete; the auditor reads them by object id', async () => {
    srv.addUser('auditor1', { roles: 'auditadmin' });
    const auditor = await srv.login('auditor1', TEST_PASSWORD, { mode: 'bearer' });
    let items = [];
    for (let i = 0; i < 50; i++) {
      const r = await auditor.api('GET', `/api/v1/audit?object=sample_cases&object_id=${rec.id}&size=100`);
      assert.equal(r.status, 200, show(r));
      items = r.json.items;
      if (items.some((x) => x.action === 'attachment_download')) break;
      await sleep(100);
    }
    const actions = new Set(items.map((x) => x.action));
    for (const a of ['create', 'attachment_add', 'attachment_download', 'attachment_delete']) assert.ok(actions.has(a), `${a} audited: ${[...actions]}`);
    assert.ok(items.every((x) => x.object_id === rec.id));
    assert.ok(items.every((x) => typeof x.ip === 'string' && x.ip.length > 0));
    assertError(await auditor.api('GET', '/api/v1/audit?object_id=abc'), 400, 'bad_filter', { field: 'object_id' });
    // A business user may not read the audit log.
    assertError(await srv.api('GET', `/api/v1/audit?object=sample_cases&object_id=${rec.id}`), 403, 'forbidden');
    // The auditor never reads the attachment itself (三员分立).
    assertError(await auditor.api('GET', `/api/v1/sample_cases/${rec.id}/attachments`), 403, 'forbidden');
  });

  it('stores the file sealed, not in the clear', { skip: SQLITE_ONLY }, async () => {
    const marker = Buffer.from('%PDF-1.4\nUNIQUE-PLAINTEXT-MARKER-7731\n');
    const up = await upload(srv.api, 'sample_cases', rec.id, marker, { filename: 'marker.pdf' });
    assert.equal(up.status, 201);
    const dl = await srv.api('GET', `/api/v1/sample_cases/${rec.id}/attachments/${up.json.id}`);
    assert.ok(dl.buf.equals(marker));
    for (const f of [srv.dbPath, `${srv.dbPath}-wal`]) {
      if (!fs.existsSync(f)) continue;
      assert.ok(!fs.readFileSync(f).includes('UNIQUE-PLAINTEXT-MARKER'), `sealed at rest in ${f}`);
    }
  });
});

describe('OpenAPI and /meta', () => {
  it('describe attachments only for entities that take them', async () => {
    const meta = await srv.api('GET', '/api/v1/meta');
    const byName = Object.fromEntries(meta.json.entities.map((e) => [e.name, e]));
    assert.equal(byName.sample_cases.attachments, true);
    assert.equal(byName.sample_notes.attachments, false);
    assert.ok(meta.json.dictionaries.some((d) => d.name === 'attachment_kind' && d.items.some((i) => i.code === 'authorization' && i.zh === '授权书')));
    const doc = await srv.api('GET', '/api/v1/openapi.json');
    const paths = doc.json.paths;
    assert.ok(paths['/api/v1/sample_cases/{id}/attachments'].post.requestBody.content['application/octet-stream']);
    assert.ok(paths['/api/v1/sample_cases/{id}/attachments/{aid}'].delete);
    assert.equal(paths['/api/v1/sample_notes/{id}/attachments'], undefined);
    assert.ok(paths['/api/v1/me/filters'].post);
  });
});
