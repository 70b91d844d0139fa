// list.test.mjs - GET /api/v1/<e>: paging, sorting, filters, q search, and
// hostile query values. Reference: docs/api.md ("Entity endpoints", list).
//
// 60 sample cases are created up front with known values, so every count and
// order below is computed from the local copy and compared exactly.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, assertError, snapshot, assertUnchanged, makeIdNumber, makePhone, makeCode, show, TEST_PASSWORD,
} from './lib.mjs';

const CASES = '/api/v1/sample_cases';
const N = 60;
const DIVISIONS = ['120101001001', '120101002003', '120103001002']; // 和平区 two streets, 河西区 one
const WORDS = ['临时救助', '医疗救助', '低保申请', '特困供养'];
let srv;
/** The created rows as sent (clear values) plus id, in creation order. */
const rows = [];

/** GET a list with query params (object or string); 200 required; returns the body. */
async function list(query) {
  const qs = typeof query === 'string' ? query : new URLSearchParams(query).toString();
  const r = await srv.api('GET', `${CASES}?${qs}`);
  assert.equal(r.status, 200, `list ?${qs}; ${show(r)}`);
  assert.ok(Array.isArray(r.json.items), 'items');
  for (const k of ['total', 'page', 'size']) assert.ok(Number.isInteger(r.json[k]), `${k} is an integer`);
  return r.json;
}

/** Every id matching query (size 500), in reply order. */
async function ids(query) {
  const body = await list({ size: '500', ...query });
  assert.equal(body.items.length, body.total, 'all on one page');
  return body.items.map((x) => x.id);
}

const idsWhere = (pred) => rows.filter(pred).map((r) => r.id);
const sortedIds = (arr) => [...arr].sort((a, b) => a - b);

before(async () => {
  srv = await startServer();
  for (let i = 0; i < N; i++) {
    const body = {
      title: `${WORDS[i % 4]}第${i}号`,
      code: makeCode('LS'),
      applicant_id: makeIdNumber(),
      phone: makePhone(),
      amount_fen: 1000 + ((i * 37) % 60) * 1000, // distinct: 1000..60000
      apply_date: new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10), // 2024-01-01 .. 2024-02-29
      division: DIVISIONS[i % 3],
      kind: i % 4 === 0 ? 'b' : 'a',
      members: 1 + (i % 5),
    };
    const r = await srv.api('POST', CASES, body);
    assert.equal(r.status, 201, `seed ${i}; ${show(r)}`);
    rows.push({ ...body, id: r.json.id, i });
  }
});
after(async () => {
  await srv?.stop();
});

describe('paging', () => {
  // Defaults: page 1, size 20, sorted -id.
  it('defaults to page 1, size 20, newest id first', async () => {
    const b = await list('');
    assert.equal(b.total, N);
    assert.equal(b.page, 1);
    assert.equal(b.size, 20);
    assert.equal(b.items.length, 20);
    const want = rows.map((r) => r.id).sort((a, b2) => b2 - a).slice(0, 20);
    assert.deepEqual(b.items.map((x) => x.id), want);
  });

  // Pages partition the rows; the last page is partial; beyond the end is empty with the right total.
  it('pages of 25: 25, 25, 10, then empty; together every row once', async () => {
    const seen = [];
    const lens = [];
    for (let p = 1; p <= 4; p++) {
      const b = await list({ page: String(p), size: '25', sort: 'id' });
      assert.equal(b.total, N, 'total on every page');
      assert.equal(b.page, p);
      assert.equal(b.size, 25);
      lens.push(b.items.length);
      seen.push(...b.items.map((x) => x.id));
    }
    assert.deepEqual(lens, [25, 25, 10, 0]);
    assert.deepEqual(seen, sortedIds(rows.map((r) => r.id)), 'each row exactly once, in id order');
  });

  it('a page far beyond the end is empty with the right total', async () => {
    const b = await list({ page: '1000', size: '10' });
    assert.deepEqual(b.items, []);
    assert.equal(b.total, N);
  });

  it('size 500 (the maximum) returns all rows', async () => {
    const b = await list({ size: '500' });
    assert.equal(b.items.length, N);
    assert.equal(b.size, 500);
  });

  // size outside 1..500 or not a number: 400 bad_size.
  for (const s of ['0', '-1', '501', '1000000000', 'abc', '1.5', '99999999999999999999']) {
    it(`size=${JSON.stringify(s)} is 400 bad_size`, async () => {
      assertError(await srv.api('GET', `${CASES}?size=${encodeURIComponent(s)}`), 400, 'bad_size');
    });
  }
  // page < 1 or not a number: 400 bad_page.
  for (const p of ['0', '-1', 'abc', '1.5', '99999999999999999999']) {
    it(`page=${JSON.stringify(p)} is 400 bad_page`, async () => {
      assertError(await srv.api('GET', `${CASES}?page=${encodeURIComponent(p)}`), 400, 'bad_page');
    });
  }
});

describe('sort', () => {
  it('amount_fen ascending', async () => {
    const want = [...rows].sort((a, b) => a.amount_fen - b.amount_fen).map((r) => r.id);
    assert.deepEqual(await ids({ sort: 'amount_fen' }), want);
  });
  it('amount_fen descending', async () => {
    const want = [...rows].sort((a, b) => b.amount_fen - a.amount_fen).map((r) => r.id);
    assert.deepEqual(await ids({ sort: '-amount_fen' }), want);
  });
  // Two keys: kind ascending, then amount descending within a kind.
  it('two keys: kind,-amount_fen', async () => {
    const want = [...rows]
      .sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : b.amount_fen - a.amount_fen))
      .map((r) => r.id);
    assert.deepEqual(await ids({ sort: 'kind,-amount_fen' }), want);
  });
  it('dates: -apply_date', async () => {
    const want = [...rows].sort((a, b) => (a.apply_date < b.apply_date ? 1 : -1)).map((r) => r.id);
    assert.deepEqual(await ids({ sort: '-apply_date' }), want);
  });
  // id, created_at, updated_at are sortable too.
  it('id, -id, created_at are sortable', async () => {
    const asc = sortedIds(rows.map((r) => r.id));
    assert.deepEqual(await ids({ sort: 'id' }), asc);
    assert.deepEqual(await ids({ sort: '-id' }), [...asc].reverse());
    const c = await list({ sort: 'created_at', size: '500' });
    const at = c.items.map((x) => Date.parse(x.created_at));
    for (let k = 1; k < at.length; k++) assert.ok(at[k] >= at[k - 1], 'created_at ascending');
  });
  // A sort key that names no field: 400 bad_sort.
  for (const s of ['bogus', '-bogus', 'amount_fen,bogus', 'amount_fen;DROP TABLE sample_cases', "amount_fen' --", '--amount_fen', 'amount_fen desc']) {
    it(`sort=${JSON.stringify(s)} is 400 bad_sort`, async () => {
      assertError(await srv.api('GET', `${CASES}?sort=${encodeURIComponent(s)}`), 400, 'bad_sort');
    });
  }
});

describe('filters', () => {
  // More bound values than a query may hold is a clear 400, never a query run
  // with the caller's scope left unbound.
  it('too many filter values is 400 bad_filter', async () => {
    const many = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join(',');
    const r = await srv.api('GET', `${CASES}?title.in=${encodeURIComponent(many(40, (i) => `标题${i}`))}` +
      `&amount_fen.in=${many(23, (i) => i)}`); // 63 values + the scope range: one too many
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.error.code, 'bad_filter');
  });

  // query may be a function: rows exist only once the before hook has run.
  const check = (query, pred) => async () => {
    const q = typeof query === 'function' ? query() : query;
    assert.deepEqual(sortedIds(await ids(q)), sortedIds(idsWhere(pred)));
  };
  it('exact: kind=b', check({ kind: 'b' }, (r) => r.kind === 'b'));
  it('exact: members=3', check({ members: '3' }, (r) => r.members === 3));
  it('exact: code', check(() => ({ code: rows[5].code }), (r) => r.id === rows[5].id));
  it('exact: apply_date', check({ apply_date: '2024-01-10' }, (r) => r.apply_date === '2024-01-10'));
  // A division matches itself and everything below it.
  it('division=120101 is all of 和平区 (both streets)', check({ division: '120101' }, (r) => r.division.startsWith('120101')));
  it('division=120101001 is one street', check({ division: '120101001' }, (r) => r.division.startsWith('120101001')));
  it('division=120103 is 河西区', check({ division: '120103' }, (r) => r.division.startsWith('120103')));
  it('division=120101002003 is one community', check({ division: '120101002003' }, (r) => r.division === '120101002003'));
  it('division=12 is all of Tianjin', check({ division: '12' }, () => true));
  it('division=120102 (another district) is empty', check({ division: '120102' }, () => false));
  it('amount_fen.gte and .lte (inclusive)', check({ 'amount_fen.gte': '10000', 'amount_fen.lte': '20000' }, (r) => r.amount_fen >= 10000 && r.amount_fen <= 20000));
  it('apply_date.gte', check({ 'apply_date.gte': '2024-02-01' }, (r) => r.apply_date >= '2024-02-01'));
  it('apply_date.lte', check({ 'apply_date.lte': '2024-01-15' }, (r) => r.apply_date <= '2024-01-15'));
  it('title.like (Chinese substring)', check({ 'title.like': '医疗' }, (r) => r.title.includes('医疗')));
  it('title.like (digits)', check({ 'title.like': '第1' }, (r) => r.title.includes('第1')));
  it('kind.in=a,b is everything', check({ 'kind.in': 'a,b' }, () => true));
  it('kind.in=b', check({ 'kind.in': 'b' }, (r) => r.kind === 'b'));
  it('members.in=1,5', check({ 'members.in': '1,5' }, (r) => r.members === 1 || r.members === 5));
  it('code.null=false is every row; visited_at.null=true too', async () => {
    assert.equal((await list({ 'code.null': 'false' })).total, N);
    assert.equal((await list({ 'visited_at.null': 'true' })).total, N);
    assert.equal((await list({ 'code.null': 'true' })).total, 0);
  });
  it('filters combine with AND', check(
    { division: '120101', kind: 'a', 'apply_date.gte': '2024-01-20' },
    (r) => r.division.startsWith('120101') && r.kind === 'a' && r.apply_date >= '2024-01-20',
  ));
  it('filters apply with paging: total counts all matches', async () => {
    const want = idsWhere((r) => r.division.startsWith('120101'));
    const b = await list({ division: '120101', size: '7', page: '2' });
    assert.equal(b.total, want.length);
    assert.equal(b.items.length, 7);
  });
  // A small page over a range holding most rows is read by walking the table
  // in id order (src/engine/list.c, page_by_table_walk) rather than through
  // the division index: the same rows, in the same order, on every page.
  for (const [what, query, pred] of [
    ['division=120101', { division: '120101' }, (r) => r.division.startsWith('120101')],
    ['division=120101&kind=a', { division: '120101', kind: 'a' }, (r) => r.division.startsWith('120101') && r.kind === 'a'],
    ['division=120101&q=救助', { division: '120101', q: '救助' }, (r) => r.division.startsWith('120101') && r.title.includes('救助')],
    ['division=12', { division: '12' }, () => true],
  ]) {
    it(`${what}: every page of 3 in id order, then the total`, async () => {
      const want = idsWhere(pred).sort((x, y) => y - x);
      assert.ok(want.length >= 6, 'enough rows for two pages');
      for (let page = 1; (page - 1) * 3 < want.length + 3; page++) {
        const b = await list({ ...query, size: '3', page: String(page) });
        assert.equal(b.total, want.length, `${what} page ${page} total`);
        assert.deepEqual(b.items.map((x) => x.id), want.slice((page - 1) * 3, page * 3), `${what} page ${page}`);
      }
    });
  }

  // A parameter naming no field: 400 unknown_filter.
  for (const q of ['bogus=1', 'title.bogus=1', 'nope.gte=1', "title'%20OR%20'1'='1=x", 'decided_by_x=1']) {
    it(`${q} is 400 unknown_filter`, async () => {
      assertError(await srv.api('GET', `${CASES}?${q}`), 400, 'unknown_filter');
    });
  }
  // A value that does not fit the field type: 400 bad_filter.
  for (const q of ['amount_fen.gte=abc', 'amount_fen=1.5', 'members=abc', 'apply_date.gte=2024-13-01', 'apply_date=yesterday', 'urgent=maybe', 'code.null=perhaps', 'amount_fen.gte=99999999999999999999']) {
    it(`${q} is 400 bad_filter`, async () => {
      assertError(await srv.api('GET', `${CASES}?${q}`), 400, 'bad_filter');
    });
  }
  // An operator the type does not support (gte on text): 400, either code.
  it('title.gte=x is 400 bad_filter or unknown_filter', async () => {
    assertError(await srv.api('GET', `${CASES}?title.gte=x`), 400, ['bad_filter', 'unknown_filter']);
  });
});

describe('hostile query values', () => {
  // SQL and LIKE metacharacters are data: 200 with nothing found, or 400;
  // never 500; the table is intact afterwards.
  const payloads = ["' OR 1=1 --", '"; DROP TABLE sample_cases;--', '%', '_', '\\', "'", '%%', '1; DELETE FROM sample_cases', "120101' OR '1'='1"];
  const params = ['title', 'title.like', 'code', 'division', 'kind', 'kind.in', 'amount_fen', 'amount_fen.gte', 'apply_date', 'apply_date.gte', 'applicant_id', 'phone', 'members.in', 'q', 'state'];
  let before;
  it('take a snapshot', async () => {
    before = await snapshot(srv);
    assert.equal(before.total, N);
  });
  for (const p of params) {
    it(`${p}= with SQL/LIKE metacharacters finds nothing or is 400`, async () => {
      for (const v of payloads) {
        const r = await srv.api('GET', `${CASES}?${encodeURIComponent(p)}=${encodeURIComponent(v)}`);
        assert.ok(r.status === 200 || r.status === 400, `${p}=${v}: ${show(r)}`);
        if (r.status === 200) {
          assert.equal(r.json.total, 0, `${p}=${v} matched rows`);
          assert.deepEqual(r.json.items, []);
        } else assertError(r, 400);
      }
    });
  }
  it('the table is intact', async () => {
    await assertUnchanged(srv, before);
    assert.equal((await list('')).total, N);
  });
});

describe('q search', () => {
  // Substring of a searchable text field (title), Chinese.
  it('finds by Chinese title substring', async () => {
    assert.deepEqual(sortedIds(await ids({ q: '特困' })), sortedIds(idsWhere((r) => r.title.includes('特困'))));
  });
  // Exact applicant ID number: exactly that row; a prefix finds nothing (exact, not substring).
  it('finds by exact ID number, not by a prefix', async () => {
    const r = rows[17];
    assert.deepEqual(await ids({ q: r.applicant_id }), [r.id]);
    assert.deepEqual(await ids({ q: r.applicant_id.slice(0, 14) }), []);
  });
  it('finds by exact phone, not by a prefix', async () => {
    const r = rows[23];
    assert.deepEqual(await ids({ q: r.phone }), [r.id]);
    assert.deepEqual(await ids({ q: '1380000' }), []);
  });
  it('q combines with filters', async () => {
    assert.deepEqual(
      sortedIds(await ids({ q: '救助', division: '120103' })),
      sortedIds(idsWhere((r) => r.title.includes('救助') && r.division.startsWith('120103'))),
    );
  });
  it('q with nothing matching is empty', async () => {
    const b = await list({ q: '不存在的内容' });
    assert.equal(b.total, 0);
    assert.deepEqual(b.items, []);
  });
});

describe('state filter', () => {
  // Submit 5 cases, then state=submitted finds exactly those.
  it('filters by workflow state', async () => {
    const sub = rows.slice(0, 5);
    for (const r of sub) {
      const a = await srv.api('POST', `${CASES}/${r.id}/actions/submit`, {});
      assert.equal(a.status, 200, show(a));
    }
    assert.deepEqual(sortedIds(await ids({ state: 'submitted' })), sortedIds(sub.map((r) => r.id)));
    assert.equal((await list({ state: 'draft' })).total, N - 5);
    assert.equal((await list({ state: 'approved' })).total, 0);
    const sorted = await ids({ sort: 'state,id' });
    assert.equal(sorted.length, N, 'state is sortable');
  });
  // A state the workflow does not have: 400 bad_filter, or simply nothing.
  it('an unknown state is 400 bad_filter or empty', async () => {
    const r = await srv.api('GET', `${CASES}?state=flying`);
    if (r.status === 200) assert.equal(r.json.total, 0);
    else assertError(r, 400, 'bad_filter');
  });
});

// Rows of a list are written as text straight from the statement (src/engine/list.c
// list_item → mz_row_write); they must be exactly the objects a GET of each row gives,
// with personal data masked for a caller without view_sensitive and every unmasked row
// audited. Runs last: it adds a row and deletes it again.
describe('list rows are the rows a GET gives', () => {
  it('every member of every row equals GET /{id}; personal data clear for the tester', async () => {
    const body = await list({ size: '500' });
    assert.equal(body.items.length, N);
    assert.deepEqual(Object.keys(body), ['items', 'total', 'total_capped', 'page', 'size']);
    assert.equal(body.total_capped, false);
    for (const item of body.items) {
      const g = await srv.api('GET', `${CASES}/${item.id}`);
      assert.equal(g.status, 200, show(g));
      assert.deepEqual(item, g.json, `row ${item.id}`);
      assert.deepEqual(Object.keys(item), Object.keys(g.json), `member order of row ${item.id}`);
    }
    const byId = new Map(body.items.map((x) => [x.id, x]));
    for (const r of rows) {
      assert.equal(byId.get(r.id).applicant_id, r.applicant_id);
      assert.equal(byId.get(r.id).phone, r.phone);
      assert.equal(byId.get(r.id).title, r.title);
    }
  });

  it('a title with quotes, backslashes, slashes and astral characters comes back exactly', async () => {
    const title = '引号"反斜杠\\斜杠/</script> 𠀀😀 \u2028end';
    const c = await srv.api('POST', CASES, { title, division: DIVISIONS[0], kind: 'a', members: 1, amount_fen: 1, apply_date: '2024-03-01' });
    assert.equal(c.status, 201, show(c));
    try {
      const body = await list({ size: '5' });
      assert.equal(body.items[0].id, c.json.id, 'newest first');
      assert.equal(body.items[0].title, title);
      const g = await srv.api('GET', `${CASES}/${c.json.id}`);
      assert.deepEqual(body.items[0], g.json);
    } finally {
      const d = await srv.api('DELETE', `${CASES}/${c.json.id}`);
      assert.equal(d.status, 204, show(d));
    }
    assert.equal((await list({})).total, N);
  });

  it('a leader sees the list masked; the tester\'s unmasked page is audited row by row', async (t) => {
    if (!srv.addUser || !srv.token) return t.skip('no accounts');
    srv.addUser('listleader', { roles: 'leader' });
    srv.addUser('listauditor', { roles: 'auditadmin' });
    const leader = await srv.login('listleader', TEST_PASSWORD, { mode: 'bearer' });
    const auditor = await srv.login('listauditor', TEST_PASSWORD, { mode: 'bearer' });
    const r = await leader.api('GET', `${CASES}?size=500`);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.items.length, N);
    const byId = new Map(r.json.items.map((x) => [x.id, x]));
    for (const row of rows) {
      const got = byId.get(row.id);
      assert.notEqual(got.applicant_id, row.applicant_id, 'ID number masked');
      assert.equal(got.applicant_id, `${row.applicant_id.slice(0, 6)}********${row.applicant_id.slice(14)}`);
      assert.equal(got.phone, `${row.phone.slice(0, 3)}****${row.phone.slice(7)}`);
      const g = await leader.api('GET', `${CASES}/${row.id}`);
      assert.deepEqual(got, g.json, `masked row ${row.id} as its GET`);
    }
    // The tester's page of 7: seven view_sensitive entries naming those ids.
    const page = await list({ size: '7', page: '2' });
    const want = page.items.map((x) => x.id).sort((a, b) => a - b);
    let seen = [];
    for (let i = 0; i < 50 && seen.length < want.length; i++) {
      const a = await auditor.api('GET', '/api/v1/audit?object=sample_cases&action=view_sensitive&size=500');
      assert.equal(a.status, 200, show(a));
      seen = [...new Set(a.json.items.map((e) => e.object_id).filter((id) => want.includes(id)))].sort((x, y) => x - y);
      if (seen.length < want.length) await new Promise((res) => setTimeout(res, 40));
    }
    assert.deepEqual(seen, want);
  });
});
