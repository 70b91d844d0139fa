// The policy library (政策文件) and the citizen hall's accounts (docs/portal.md):
// public list/search/get without login, drafts and withdrawn documents invisible,
// the seed document, the publish workflow, links, citizen registration and
// citizens' own rows.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, show, assertError, makeIdNumber, withBadIdCheck, makePhone, validCase } from './lib.mjs';

const SEED_INDEX = '11120000000125735B/2020-02311';
const SEED_DOC_NO = '津民发〔2012〕1号';
const CITIZEN_PASSWORD = 'Gongzhong-2024-津';

let srv;
let seq = 0;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

/** A fresh valid index number. */
function indexNo() {
  seq += 1;
  return `11120000000125735B/2024-${String(10000 + seq).slice(-5)}`;
}

/** Create a draft document as the city officer (tester). */
async function draft(overrides = {}) {
  const r = await srv.api('POST', '/api/v1/policy_documents', {
    title: '关于做好养老服务补贴发放工作的通知',
    index_no: indexNo(),
    doc_no: '津民发〔2024〕7号',
    topic: 'civil_elderly',
    written_on: '2024-03-01',
    body: '各区民政局：\n\n为做好养老服务补贴发放工作，现将有关事项通知如下。',
    attachments: [{ name: '申请表.docx', url: '/files/apply.docx' }],
    ...overrides,
  });
  assert.equal(r.status, 201, show(r));
  return r.json;
}

/** Run a workflow action. */
async function act(doc, action, comment) {
  const cur = await srv.api('GET', `/api/v1/policy_documents/${doc.id}`);
  const r = await srv.api('POST', `/api/v1/policy_documents/${doc.id}/actions/${action}`, { version: cur.json.version, comment });
  return r;
}

describe('public policy library', () => {
  it('lists the seed document without login, with its 索引号 and 发文字号', async () => {
    const r = await srv.anon('GET', '/api/v1/public/policies', undefined, { anonymous: true });
    assert.equal(r.status, 200, show(r));
    assert.ok(r.json.total >= 1);
    const seed = r.json.items.find((x) => x.index_no === SEED_INDEX);
    assert.ok(seed, show(r));
    assert.equal(seed.doc_no, SEED_DOC_NO);
    assert.equal(seed.title, '关于印发《2012年民政工作要点》的通知');
    assert.equal(seed.publisher, '天津市民政局');
    assert.equal(seed.topic_zh, '综合政务\\其他');
    assert.equal(seed.written_on, '2012-01-04');

    const one = await srv.anon('GET', `/api/v1/public/policies/${seed.id}`, undefined, { anonymous: true });
    assert.equal(one.status, 200, show(one));
    assert.match(one.json.body, /^各区\(县\)民政局/);
    assert.match(one.json.body, /2012年民政工作要点/);
    assert.match(one.json.body, /加强廉政行风建设/);
    assert.doesNotMatch(one.json.body, /附件:/);
    assert.deepEqual(one.json.attachments, []);
    assert.deepEqual(one.json.links, []);
  });

  it('searches: full text for three characters or more, title for one or two', async () => {
    const q = async (text) => {
      const r = await srv.anon('GET', `/api/v1/public/policies?q=${encodeURIComponent(text)}`, undefined, { anonymous: true });
      assert.equal(r.status, 200, show(r));
      return r.json.items.map((x) => x.index_no);
    };
    assert.ok((await q('民政')).includes(SEED_INDEX));
    assert.ok((await q('婚姻登记服务中心')).includes(SEED_INDEX), 'a phrase of the body');
    assert.ok(!(await q('婚姻')).includes(SEED_INDEX), 'two characters match the title only');
    assert.deepEqual(await q('没有这样的文字内容'), []);
    assert.deepEqual(await q('"%_\\'), []);
    const topic = await srv.anon('GET', '/api/v1/public/policies?topic=general_other', undefined, { anonymous: true });
    assert.ok(topic.json.items.some((x) => x.index_no === SEED_INDEX));
    const other = await srv.anon('GET', '/api/v1/public/policies?topic=civil_welfare', undefined, { anonymous: true });
    assert.ok(!other.json.items.some((x) => x.index_no === SEED_INDEX));
    assertError(await srv.anon('GET', '/api/v1/public/policies?topic=nope'), 400, 'bad_filter');
    assertError(await srv.anon('GET', '/api/v1/public/policies?page=0'), 400, 'bad_page');
    assertError(await srv.anon('GET', '/api/v1/public/policies?size=51'), 400, 'bad_size');
    assertError(await srv.anon('GET', `/api/v1/public/policies?q=${'字'.repeat(101)}`), 400, 'bad_filter');
  });

  it('drafts are invisible; publish, links, withdraw', async () => {
    const doc = await draft({ body: '这是一份关于独特检索词紫藤花开的测试文件。' });
    const hidden = await srv.anon('GET', `/api/v1/public/policies/${doc.id}`);
    assertError(hidden, 404, 'not_found');
    const search = await srv.anon('GET', `/api/v1/public/policies?q=${encodeURIComponent('紫藤花开')}`);
    assert.equal(search.json.total, 0);
    // Staff search uses the same index.
    const staff = await srv.api('GET', `/api/v1/policy_documents?q=${encodeURIComponent('紫藤花开')}`);
    assert.deepEqual(staff.json.items.map((x) => x.id), [doc.id]);

    assertError(await act(doc, 'publish'), 409, 'illegal_transition');
    assert.equal((await act(doc, 'submit')).status, 200);
    assertError(await act(doc, 'return'), 422, 'validation_failed');
    const back = await act(doc, 'return', '请补充附件');
    assert.equal(back.json.state, 'draft', show(back));
    assert.equal((await act(doc, 'submit')).status, 200);
    const pub = await act(doc, 'publish', '同意发布');
    assert.equal(pub.status, 200, show(pub));
    assert.equal(pub.json.state, 'published');
    assert.match(pub.json.published_on, /^\d{4}-\d{2}-\d{2}$/);

    // Links: to the seed document (published) and to a URL; a draft target is hidden.
    const list = await srv.anon('GET', '/api/v1/public/policies?q=' + encodeURIComponent('民政工作要点'));
    const seedId = list.json.items.find((x) => x.index_no === SEED_INDEX).id;
    const other = await draft({ title: '未发布的相关文件' });
    for (const body of [
      { document_id: doc.id, kind: 'related', title: '2012年民政工作要点', target_document_id: seedId },
      { document_id: doc.id, kind: 'interpretation', title: '图解：养老服务补贴', url: 'https://mz.tj.gov.cn/jd/1.html' },
      { document_id: doc.id, kind: 'related', title: '未发布的相关文件', target_document_id: other.id },
    ]) {
      const r = await srv.api('POST', '/api/v1/policy_links', body);
      assert.equal(r.status, 201, show(r));
    }
    const bad = await srv.api('POST', '/api/v1/policy_links', { document_id: doc.id, kind: 'report', title: '两者皆无' });
    assertError(bad, 422, 'validation_failed');

    const got = await srv.anon('GET', `/api/v1/public/policies/${doc.id}`);
    assert.equal(got.status, 200, show(got));
    assert.equal(got.json.topic_zh, '民政、扶贫、救灾\\养老服务');
    assert.deepEqual(got.json.attachments, [{ name: '申请表.docx', url: '/files/apply.docx' }]);
    assert.deepEqual(got.json.links.map((l) => [l.kind, l.title]).sort(), [
      ['interpretation', '图解：养老服务补贴'],
      ['related', '2012年民政工作要点'],
    ]);
    assert.equal(got.json.links.find((l) => l.kind === 'related').document_id, seedId);
    const found = await srv.anon('GET', `/api/v1/public/policies?q=${encodeURIComponent('紫藤花开')}`);
    assert.deepEqual(found.json.items.map((x) => x.id), [doc.id]);

    assertError(await act(doc, 'withdraw'), 422, 'validation_failed');
    const wd = await act(doc, 'withdraw', '政策已废止');
    assert.equal(wd.json.state, 'withdrawn', show(wd));
    assertError(await srv.anon('GET', `/api/v1/public/policies/${doc.id}`), 404, 'not_found');
    const gone = await srv.anon('GET', `/api/v1/public/policies?q=${encodeURIComponent('紫藤花开')}`);
    assert.equal(gone.json.total, 0);
  });

  it('validates attachments and the index number; a deleted document leaves the index', async () => {
    const r = await srv.api('POST', '/api/v1/policy_documents', {
      title: '附件有误的文件', index_no: 'bad', body: '正文', attachments: [{ name: 'x', url: 'javascript:alert(1)' }],
    });
    assertError(r, 422, 'validation_failed');
    const fields = r.json.error.errors.map((e) => e.field).sort();
    assert.ok(fields.includes('index_no'), show(r));
    const dup = await srv.api('POST', '/api/v1/policy_documents', { title: '重复索引号', index_no: SEED_INDEX, body: '正文' });
    assertError(dup, 409, 'duplicate', { field: 'index_no' });
    const doc = await draft({ body: '即将删除的文件含有词语青花瓷器。' });
    assert.equal((await srv.api('GET', `/api/v1/policy_documents?q=${encodeURIComponent('青花瓷器')}`)).json.total, 1);
    assert.equal((await srv.api('DELETE', `/api/v1/policy_documents/${doc.id}`)).status, 204);
    assert.equal((await srv.api('GET', `/api/v1/policy_documents?q=${encodeURIComponent('青花瓷器')}`)).json.total, 0);
  });
});

describe('citizen registration', () => {
  const register = (body) => srv.anon('POST', '/api/v1/public/register', body, { anonymous: true });

  it('registers a citizen who logs in with the phone-based username', async () => {
    const phone = makePhone();
    const r = await register({ id_number: makeIdNumber({ birth: '19800101', seq: 11 }), name: '张三', phone, password: CITIZEN_PASSWORD });
    assert.equal(r.status, 201, show(r));
    assert.equal(r.json.username, 'c' + phone);
    const me = await srv.login(r.json.username, CITIZEN_PASSWORD, { mode: 'bearer' });
    const who = await me.api('GET', '/api/v1/auth/me');
    assert.deepEqual(who.json.user.roles, ['citizen']);
    // Its profile, with the ID number masked; nobody else's.
    const prof = await me.api('GET', '/api/v1/citizen_profiles');
    assert.equal(prof.json.total, 1, show(prof));
    assert.equal(prof.json.items[0].name, '张三');
    assert.ok(!JSON.stringify(prof.json).includes('19800101'), 'the ID number is masked');
    // Citizens may not write the library.
    const w = await me.api('POST', '/api/v1/policy_documents', { title: '公众起草', index_no: indexNo(), body: '正文' });
    assert.ok([403].includes(w.status), show(w));
  });

  it('rejects a bad ID check digit, a weak password, missing fields and duplicates', async () => {
    const id = makeIdNumber({ birth: '19750505', seq: 21 });
    const phone = makePhone();
    const badId = await register({ id_number: withBadIdCheck(id), name: '李四', phone, password: CITIZEN_PASSWORD });
    assertError(badId, 422, 'validation_failed', { field: 'id_number' });
    assert.equal(badId.json.error.errors[0].code, 'invalid_id_number');
    const weak = await register({ id_number: id, name: '李四', phone, password: '12345678' });
    assertError(weak, 422, 'validation_failed', { field: 'password' });
    const missing = await register({ name: '李', phone: '123' });
    assertError(missing, 422, 'validation_failed');
    const fields = missing.json.error.errors.map((e) => e.field).sort();
    assert.deepEqual(fields, ['id_number', 'name', 'password', 'phone']);
    const unknown = await register({ id_number: id, name: '李四', phone, password: CITIZEN_PASSWORD, roles: ['city_officer'] });
    assertError(unknown, 422, 'validation_failed', { field: 'roles' });

    const ok = await register({ id_number: id, name: '李四', phone, password: CITIZEN_PASSWORD });
    assert.equal(ok.status, 201, show(ok));
    assertError(await register({ id_number: makeIdNumber({ birth: '19750505', seq: 22 }), name: '李四', phone, password: CITIZEN_PASSWORD }), 409, 'duplicate', { field: 'phone' });
    assertError(await register({ id_number: id, name: '李四', phone: makePhone(), password: CITIZEN_PASSWORD }), 409, 'duplicate', { field: 'id_number' });
    // Nothing half-made: the second phone did not get an account.
    const logs = srv.stderr() + srv.stdout();
    assert.ok(!logs.includes(id), 'no ID number in the logs');
  });

  it('a citizen sees only the rows it created', async () => {
    const accounts = [];
    for (const seqNo of [31, 32]) {
      const phone = makePhone();
      const r = await register({ id_number: makeIdNumber({ birth: '19900101', seq: seqNo }), name: '王五', phone, password: CITIZEN_PASSWORD });
      assert.equal(r.status, 201, show(r));
      accounts.push(await srv.login(r.json.username, CITIZEN_PASSWORD, { mode: 'bearer' }));
    }
    const [a, b] = accounts;
    const mine = await a.api('POST', '/api/v1/sample_cases', validCase({ title: '我的低保申请', division: '120101001001' }));
    assert.equal(mine.status, 201, show(mine));
    const la = await a.api('GET', '/api/v1/sample_cases');
    assert.deepEqual(la.json.items.map((x) => x.id), [mine.json.id]);
    const lb = await b.api('GET', '/api/v1/sample_cases');
    assert.equal(lb.json.total, 0);
    assertError(await b.api('GET', `/api/v1/sample_cases/${mine.json.id}`), 404, 'not_found');
    assert.equal((await b.api('GET', '/api/v1/citizen_profiles')).json.total, 1);
  });

  it('is rate-limited per address', async () => {
    const limited = await startServer({ env: { MZ_REGISTER_PER_MINUTE: '2' } });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const r = await limited.anon('POST', '/api/v1/public/register', { name: '赵六' }, { anonymous: true });
        statuses.push(r.status);
        if (r.status === 429) assert.equal(r.headers['retry-after'], '60');
      }
      assert.deepEqual(statuses, [422, 422, 429]);
    } finally {
      await limited.stop();
    }
  });

  it('counts attempts in the database the servers share (a restarted server remembers them)', async () => {
    // Start early in a wall-clock minute so both servers count in the same one.
    const sec = new Date().getUTCSeconds();
    if (sec > 30) await new Promise((r) => setTimeout(r, (61 - sec) * 1000));
    let first = await startServer({ env: { MZ_REGISTER_PER_MINUTE: '2' } });
    const reg = (s) => s.anon('POST', '/api/v1/public/register', { name: '赵六' }, { anonymous: true });
    assert.equal((await reg(first)).status, 422);
    assert.equal((await reg(first)).status, 422);
    await first.stop({ keepDir: true });
    const second = await startServer({ db: first.dbPath, env: { MZ_REGISTER_PER_MINUTE: '2' } });
    try {
      const r = await reg(second);
      assert.equal(r.status, 429, 'the third attempt this minute, on another server process');
      assert.equal(r.headers['retry-after'], '60');
    } finally {
      await second.stop();
    }
    first = null;
  });
});
