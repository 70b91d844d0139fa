// counts.test.mjs - POST /api/v1/counts: many list totals in one request (the
// 工作台's key figures and to-do counts). Each count must be what GET /api/v1/<e>
// with the same query answers the same caller - scope, citizen ownership,
// filters, q, the count cap - and bad input is refused whole, naming the item.
// Reference: docs/api.md ("Counts of several lists").
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, snapshot, assertUnchanged, validCase, show, TEST_PASSWORD } from './lib.mjs';

const CASES = '/api/v1/sample_cases';
// 和平区 two streets (120101001, 120101002), 河西区 one (120103001).
const DIVS = ['120101001001', '120101001002', '120101002003', '120103001002'];
let srv;
const rows = []; // {id, division, state, title}
const clients = {};

/** An ISO date n days from today (UTC, as the server's deadlines). */
const inDays = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);

async function counts(client, list) {
  const r = await client.api('POST', '/api/v1/counts', { counts: list });
  assert.equal(r.status, 200, show(r));
  assert.equal(r.json.counts.length, list.length, 'one answer per count');
  r.json.counts.forEach((c, i) => {
    assert.equal(c.entity, list[i].entity, `counts[${i}].entity`);
    assert.ok(Number.isInteger(c.total), `counts[${i}].total`);
    assert.equal(typeof c.total_capped, 'boolean', `counts[${i}].total_capped`);
  });
  return r.json.counts;
}

/** The list's own total for the same query, as the same client. */
async function listTotal(client, entity, filter = {}) {
  const qs = new URLSearchParams({ size: '1', ...filter }).toString();
  const r = await client.api('GET', `/api/v1/${entity}?${qs}`);
  assert.equal(r.status, 200, `${entity}?${qs}: ${show(r)}`);
  return { total: r.json.total, total_capped: r.json.total_capped };
}

// The 工作台's kind of request: totals, a division, workflow steps with and without a deadline filter, a search.
const QUERIES = [
  { entity: 'sample_cases' },
  { entity: 'sample_cases', filter: { division: '120101' } },
  { entity: 'sample_cases', filter: { division: '120101001' } },
  { entity: 'sample_cases', filter: { division: '120103' } },
  { entity: 'sample_cases', filter: { state: 'draft' } },
  { entity: 'sample_cases', filter: { state: 'submitted' } },
  { entity: 'sample_cases', filter: { state: 'submitted', 'state_due.lte': inDays(30), sort: 'state_due' } },
  { entity: 'sample_cases', filter: { state: 'submitted', 'state_due.lte': inDays(-1), sort: 'state_due' } },
  { entity: 'sample_cases', filter: { state: 'accepted', division: '120101' } },
  { entity: 'sample_cases', filter: { q: '计数甲' } },
  { entity: 'sample_cases', filter: { 'apply_date.gte': '2024-03-05', page: '3', size: '7' } },
  { entity: 'sample_notes' },
];

/** What each query of QUERIES must count among rows (the caller sees `visible`). */
function expected(visible) {
  const cases = rows.filter(visible);
  const inDiv = (p) => cases.filter((r) => r.division.startsWith(p)).length;
  const st = (s) => cases.filter((r) => r.state === s);
  return [
    cases.length,
    inDiv('120101'),
    inDiv('120101001'),
    inDiv('120103'),
    st('draft').length,
    st('submitted').length,
    st('submitted').length, // every deadline (5 days) is within 30 days
    0, // none is overdue
    st('accepted').filter((r) => r.division.startsWith('120101')).length,
    cases.filter((r) => r.title.includes('计数甲')).length,
    cases.filter((r) => r.apply >= '2024-03-05').length,
    0,
  ];
}

before(async () => {
  srv = await startServer();
  for (let i = 0; i < 16; i++) {
    const division = DIVS[i % DIVS.length];
    const title = `${i % 5 === 0 ? '计数甲' : '计数乙'}${i}`;
    const apply = `2024-03-${String(1 + i).padStart(2, '0')}`;
    const c = await srv.api('POST', CASES, validCase({ title, division, apply_date: apply }));
    assert.equal(c.status, 201, show(c));
    let state = 'draft';
    if (i % 3 !== 0) {
      assert.equal((await srv.api('POST', `${CASES}/${c.json.id}/actions/submit`, {})).status, 200);
      state = 'submitted';
    }
    if (i % 3 === 2) {
      assert.equal((await srv.api('POST', `${CASES}/${c.json.id}/actions/accept`, {})).status, 200);
      state = 'accepted';
    }
    rows.push({ id: c.json.id, division, state, title, apply });
  }
  const users = {
    street: ['street_officer', '120101001'],
    district: ['district_officer', '120103'],
    auditor: ['auditadmin', '120000'],
    citizen: ['citizen', '120000'],
  };
  for (const [name, [roles, scope]] of Object.entries(users)) {
    srv.addUser(`cnt_${name}`, { roles, scope });
    clients[name] = await srv.login(`cnt_${name}`, TEST_PASSWORD, { mode: 'bearer' });
  }
});
after(async () => {
  await srv?.stop();
});

describe('POST /api/v1/counts', () => {
  it('answers every count in order, each equal to the list total with the same query', async () => {
    const tester = { api: srv.api };
    const got = await counts(tester, QUERIES);
    const want = expected(() => true);
    assert.deepEqual(got.map((c) => c.total), want);
    for (const [i, q] of QUERIES.entries()) {
      assert.deepEqual({ total: got[i].total, total_capped: got[i].total_capped }, await listTotal(tester, q.entity, q.filter), `query ${i}`);
    }
    assert.ok(want[0] === 16 && want[5] > 0 && want[8] > 0 && want[9] > 0, 'the data makes the counts differ');
  });

  it("a street officer's counts are her lists' totals: only her street", async () => {
    const street = clients.street;
    const got = await counts(street, QUERIES);
    const want = expected((r) => r.division.startsWith('120101001'));
    assert.deepEqual(got.map((c) => c.total), want);
    assert.ok(want[0] > 0 && want[0] < rows.length, 'she sees some, not all');
    assert.equal(got[3].total, 0, 'another district inside her request counts nothing');
    for (const [i, q] of QUERIES.entries()) {
      assert.deepEqual({ total: got[i].total, total_capped: got[i].total_capped }, await listTotal(street, q.entity, q.filter), `query ${i}`);
    }
    // A district officer of 河西区 counts 河西区's only.
    const hexi = await counts(clients.district, QUERIES);
    assert.deepEqual(hexi.map((c) => c.total), expected((r) => r.division.startsWith('120103')));
  });

  it('a citizen counts only the rows it created', async () => {
    const citizen = clients.citizen;
    const mine = await citizen.api('POST', CASES, validCase({ title: '计数甲公众', division: DIVS[0] }));
    assert.equal(mine.status, 201, show(mine));
    const got = await counts(citizen, [{ entity: 'sample_cases' }, { entity: 'sample_cases', filter: { q: '计数甲' } }]);
    assert.deepEqual(got.map((c) => c.total), [1, 1]);
    assert.equal(got[0].total, (await listTotal(citizen, 'sample_cases')).total);
    // Everyone else sees the new row in their own counts (no stale cached total after a write).
    const all = await counts({ api: srv.api }, [{ entity: 'sample_cases' }]);
    assert.equal(all[0].total, rows.length + 1);
    const del = await srv.api('DELETE', `${CASES}/${mine.json.id}`);
    assert.equal(del.status, 204, show(del));
    assert.equal((await counts({ api: srv.api }, [{ entity: 'sample_cases' }]))[0].total, rows.length);
  });

  it('works with the session cookie and its CSRF header, and not without the header', async () => {
    const web = await srv.login('cnt_street', TEST_PASSWORD); // cookie mode
    const r = await web.api('POST', '/api/v1/counts', { counts: [{ entity: 'sample_cases' }] });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.counts[0].total, expected((x) => x.division.startsWith('120101001'))[0]);
    const noCsrf = await web.api('POST', '/api/v1/counts', { counts: [{ entity: 'sample_cases' }] }, { headers: { 'X-CSRF-Token': 'wrong' } });
    assertError(noCsrf, 403, 'csrf');
    assertError(await srv.api('POST', '/api/v1/counts', { counts: [{ entity: 'sample_cases' }] }, { anonymous: true }), 401, 'unauthenticated');
  });

  it('refuses bad input whole, naming the count and field, and changes nothing', async () => {
    const before = await snapshot(srv);
    const ok = { entity: 'sample_cases' };
    const bad = async (body, status, code, field) => {
      const r = await srv.api('POST', '/api/v1/counts', body);
      assertError(r, status, code, { field });
      assert.equal(r.json.counts, undefined, 'no partial answer');
    };
    await bad([ok], 400, 'bad_request', undefined);
    await bad({}, 400, 'bad_request', 'counts');
    await bad({ counts: [] }, 400, 'bad_request', 'counts');
    await bad({ counts: {} }, 400, 'bad_request', 'counts');
    await bad({ counts: Array.from({ length: 101 }, () => ok) }, 400, 'bad_request', 'counts');
    await bad({ counts: [ok], more: 1 }, 400, 'unknown_field', 'more');
    await bad({ counts: [ok, 'sample_cases'] }, 400, 'bad_request', 'counts[1]');
    await bad({ counts: [ok, { entity: 'no_such' }] }, 400, 'unknown_entity', 'counts[1].entity');
    await bad({ counts: [{}] }, 400, 'unknown_entity', 'counts[0].entity');
    await bad({ counts: [{ entity: 'sample_cases', filters: {} }] }, 400, 'unknown_field', 'counts[0].filters');
    await bad({ counts: [{ entity: 'sample_cases', filter: ['state'] }] }, 400, 'bad_request', 'counts[0].filter');
    await bad({ counts: [ok, { entity: 'sample_cases', filter: { members: 3 } }] }, 400, 'bad_filter', 'counts[1].filter.members');
    await bad({ counts: [ok, ok, { entity: 'sample_cases', filter: { nope: '1' } }] }, 400, 'unknown_filter', 'counts[2].filter.nope');
    await bad({ counts: [{ entity: 'sample_cases', filter: { 'apply_date.gte': '2024-13-01' } }] }, 400, 'bad_filter', 'counts[0].filter.apply_date.gte');
    await bad({ counts: [{ entity: 'sample_cases', filter: { sort: 'nope' } }] }, 400, 'bad_sort', 'counts[0].filter.sort');
    // An entity the caller may not read: 403, as its list would answer.
    assertError(await clients.auditor.api('POST', '/api/v1/counts', { counts: [{ entity: 'sample_cases' }] }), 403, 'forbidden', { field: 'counts[0].entity' });
    assertError(await clients.auditor.api('GET', `${CASES}?size=1`), 403, 'forbidden');
    const r = await srv.api('POST', '/api/v1/counts', '{"counts":[', { raw: true, headers: { 'Content-Type': 'application/json' } });
    assertError(r, 400, 'bad_json');
    await assertUnchanged(srv, before);
    // The same counts answered after the errors.
    assert.deepEqual((await counts({ api: srv.api }, [ok]))[0].total, rows.length);
  });
});
