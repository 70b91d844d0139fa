// payments_packed.test.mjs - the payments list, get and export over a packed
// payroll run (src/modules/assistance/payments.c): the same households of
// the same cases paid per row in October (a month written before the switch
// to packed runs: the legacyPayrollRun fixture) and as packs in November
// (the API, as every run of a regular program now) read the
// same through GET /api/v1/assistance_payments, /{id} and /export - every
// field but the ids and the month, the skipped households (rows of the
// packed run) included - with the filters, pagination, order, totals,
// scope and masking; a per-row run keeps the generic list's every filter;
// the person-centric view shows a payee's packed payments, also after the
// payee's record was merged into another.
// Reference: docs/assistance.md ("Packed payroll snapshot").
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, show, makeIdNumber, makeBankCard, legacyPayrollRun, payingDibaoCases, parseCsv, TEST_PASSWORD } from './lib.mjs';

let srv;
const D = {};
const users = {};
const CASES = '/api/v1/assistance_cases';
const PAYS = '/api/v1/assistance_payments';
const act = (id, action) => srv.api('POST', `${CASES}/${id}/actions/${action}`, { comment: '测试' });
const cases = [];
let oct, nov;

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}

const list = async (query, api = srv.api) => ok(await api('GET', `${PAYS}?${query}`));
/** What a payment says about the household, without the run's own ids and month. */
const essence = ({ id, run_id, month, created_at, updated_at, version, ...rest }) => rest;
const byCase = (items) => [...items].sort((a, b) => a.case_id - b.case_id).map(essence);

before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const street = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items[0].code;
  const communities = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${street}`))).items;
  D.a1 = communities[0].code;
  D.a2 = communities[1].code;
  // Five households: two communities, one with a child (increment), one
  // without a bank account (skipped, a row of the packed run).
  const specs = [
    ['打包甲', '1960-01-01', 0, D.a1, true, false],
    ['打包乙', '1962-02-02', 20000, D.a1, true, true],
    ['打包丙', '1964-03-03', 10000, D.a2, true, false],
    ['打包丁', '1966-04-04', 0, D.a2, false, false],
    ['打包戊', '1968-05-05', 30000, D.a1, true, false],
  ];
  let seq = 100;
  const made = await payingDibaoCases(srv, specs.map(([name, birth, income, division, account, child]) =>
    ({ name, birth, income, division, account, child, seq: ++seq, childSeq: child ? ++seq : undefined })));
  srv = made.srv;
  cases.push(...made.cases);
  for (const [name, role, scope] of [['comm2', 'community_worker', D.a2], ['leader', 'leader', '120101']]) {
    srv.addUser(name, { roles: role, scope });
    users[name] = (await srv.login(name, TEST_PASSWORD, { mode: 'bearer' })).api;
  }
  // October per row (as written before the switch), November packed (the API).
  oct = legacyPayrollRun(srv.dbPath, { program: 'dibao', month: '2025-10', district: '120101' });
  const r = await srv.api('POST', '/api/v1/assistance/payroll', { program: 'dibao', month: '2025-11', division: '120101' });
  nov = await ok(r, 201);
});
after(async () => {
  await srv?.stop();
});

describe('a packed run read through the payments list', () => {
  it('has the per-row run\'s totals and households, field by field', async () => {
    for (const k of ['households', 'persons', 'amount_fen', 'skipped']) assert.equal(nov[k], oct[k], k);
    assert.equal(nov.households, 4);
    assert.equal(nov.skipped, 1);
    const rows = await list(`run_id=${oct.run_id}&size=100`);
    const packed = await list(`run_id=${nov.run_id}&size=100`);
    assert.equal(packed.total, 5);
    assert.equal(packed.total_capped, false);
    assert.deepEqual(byCase(packed.items), byCase(rows.items));
    for (const p of packed.items) {
      assert.equal(p.run_id, nov.run_id);
      assert.equal(p.month, '2025-11');
    }
    const skipped = packed.items.find((p) => p.status === 'skipped');
    assert.equal(skipped.case_id, cases[3].id);
    assert.equal(skipped.note, '未登记银行账号，本月未发放');
    const withChild = packed.items.find((p) => p.case_id === cases[1].id);
    assert.equal(withChild.persons, 2);
    assert.ok(Array.isArray(withChild.trace) && withChild.trace.length > 0, 'the trace as paid, opened');
    assert.equal(packed.items.reduce((s, p) => s + p.amount_fen, 0), nov.amount_fen);
  });

  it('pages, orders and counts like the generic list', async () => {
    const all = (await list(`run_id=${nov.run_id}&size=100`)).items;
    assert.deepEqual(all.map((p) => p.id), all.map((p) => p.id).sort((a, b) => b - a), 'newest first');
    const paged = [];
    for (let page = 1; page <= 3; page++) {
      const r = await list(`run_id=${nov.run_id}&size=2&page=${page}`);
      assert.equal(r.total, 5);
      assert.equal(r.page, page);
      assert.equal(r.size, 2);
      paged.push(...r.items);
    }
    assert.deepEqual(paged, all);
    assert.deepEqual((await list(`run_id=${nov.run_id}&size=2&page=4`)).items, []);
    const asc = (await list(`run_id=${nov.run_id}&sort=id`)).items;
    assert.deepEqual(asc.map((p) => p.id), [...all].reverse().map((p) => p.id));
    const amounts = (await list(`run_id=${nov.run_id}&sort=-amount_fen`)).items.map((p) => p.amount_fen);
    assert.deepEqual(amounts, [...amounts].sort((a, b) => b - a));
    assertError(await srv.api('GET', `${PAYS}?run_id=${nov.run_id}&sort=note`), 400, 'bad_sort');
    assertError(await srv.api('GET', `${PAYS}?run_id=${nov.run_id}&size=501`), 400, 'bad_size');
    assertError(await srv.api('GET', `${PAYS}?run_id=${nov.run_id}&page=0`), 400, 'bad_page');
  });

  it('filters by case, status, division, month and program; rows and packs together', async () => {
    for (const c of cases) {
      const one = await list(`run_id=${nov.run_id}&case_id=${c.id}`);
      assert.equal(one.total, 1);
      assert.equal(one.items[0].case_id, c.id);
      const both = await list(`case_id=${c.id}`); // what a case's 发放明细 tab asks
      assert.deepEqual(both.items.map((p) => p.month), ['2025-11', '2025-10']);
      assert.deepEqual(essence(both.items[0]), essence(both.items[1]));
    }
    const paid = await list(`run_id=${nov.run_id}&status=paid`);
    assert.equal(paid.total, 4);
    assert.ok(paid.items.every((p) => p.status === 'paid'));
    const skipped = await list(`run_id=${nov.run_id}&status=skipped`);
    assert.deepEqual(skipped.items.map((p) => p.case_id), [cases[3].id]);
    const a2 = await list(`run_id=${nov.run_id}&division=${D.a2}`);
    assert.deepEqual(a2.items.map((p) => p.case_id).sort(), [cases[2].id, cases[3].id].sort());
    assert.equal((await list(`month=2025-11&program=dibao`)).total, 5);
    assert.equal((await list(`month=2025-11&program=tekun`)).total, 0);
    assert.equal((await list('')).total, 10, 'both runs');
    // The packed list takes these filters only; a per-row run keeps the generic ones.
    assertError(await srv.api('GET', `${PAYS}?run_id=${nov.run_id}&amount_fen.gte=1`), 400, 'unknown_filter');
    assertError(await srv.api('GET', `${PAYS}?run_id=${nov.run_id}&division=12x`), 400, 'bad_filter');
    assert.equal((await list(`run_id=${oct.run_id}&amount_fen.gte=1`)).total, 4);
  });

  it('gets a packed payment by id; an id outside every block is 404', async () => {
    const all = (await list(`run_id=${nov.run_id}&size=100`)).items;
    for (const p of all) assert.deepEqual(await ok(await srv.api('GET', `${PAYS}/${p.id}`)), p);
    const top = Math.max(...all.map((p) => p.id));
    assertError(await srv.api('GET', `${PAYS}/${top + 1000}`), 404, 'not_found');
    assertError(await srv.api('GET', `${PAYS}/x`), 400, 'bad_id');
  });

  it('applies the caller\'s scope and masks the trace for those who may not see it', async () => {
    const mine = await list(`run_id=${nov.run_id}`, users.comm2);
    assert.deepEqual(mine.items.map((p) => p.division), [D.a2, D.a2]);
    const other = (await list(`run_id=${nov.run_id}&division=${D.a1}`)).items[0];
    assertError(await users.comm2('GET', `${PAYS}/${other.id}`), 404, 'not_found');
    assert.equal((await list(`run_id=${nov.run_id}&division=${D.a1}`, users.comm2)).total, 0);
    const masked = await list(`run_id=${nov.run_id}&status=paid`, users.leader);
    assert.equal(masked.total, 4);
    assert.ok(masked.items.every((p) => p.trace === '***'));
  });

  it('POST /api/v1/counts counts the packed payments as the list does, in the caller\'s scope', async () => {
    const filters = [
      { run_id: String(nov.run_id) },
      { run_id: String(nov.run_id), status: 'paid' },
      { month: '2025-11', program: 'dibao', division: D.a2 },
      {},
      { run_id: String(oct.run_id), 'amount_fen.gte': '1' },
    ];
    const counts = async (api) => (await ok(await api('POST', '/api/v1/counts', {
      counts: filters.map((filter) => ({ entity: 'assistance_payments', filter })),
    }))).counts.map((c) => [c.total, c.total_capped]);
    assert.deepEqual(await counts(srv.api), [[5, false], [4, false], [2, false], [10, false], [4, false]]);
    for (const [i, filter] of filters.entries()) {
      const q = new URLSearchParams(filter).toString();
      assert.equal((await list(q, users.comm2)).total, (await counts(users.comm2))[i][0], q);
    }
    assert.deepEqual((await counts(users.comm2)).slice(0, 4), [[2, false], [1, false], [2, false], [4, false]]);
    const bad = await srv.api('POST', '/api/v1/counts', { counts: [{ entity: 'assistance_payments', filter: { run_id: String(nov.run_id), sort: 'note' } }] });
    assertError(bad, 400, 'bad_sort', { field: 'counts[0].filter.sort' });
  });

  it('exports the same rows as the per-row run (CSV) and as XLSX', async () => {
    const csv = async (run) => {
      const r = await srv.api('GET', `${PAYS}/export?run_id=${run}&format=csv`);
      assert.equal(r.status, 200, show(r));
      const [head, ...rows] = parseCsv(r.text.replace(/^\uFEFF/, '')).filter((x) => x.length > 1);
      const drop = ['id', 'run_id', 'month', 'created_at', 'updated_at'].map((c) => head.indexOf(c));
      assert.ok(drop.every((i) => i >= 0), head.join(','));
      return { head, rows: rows.map((x) => x.filter((_, i) => !drop.includes(i)).join('|')).sort() };
    };
    const a = await csv(oct.run_id);
    const b = await csv(nov.run_id);
    assert.deepEqual(b.head, a.head);
    assert.equal(b.rows.length, 5);
    assert.deepEqual(b.rows, a.rows);
    const x = await srv.api('GET', `${PAYS}/export?run_id=${nov.run_id}&format=xlsx`);
    assert.equal(x.status, 200, show(x));
    assert.match(x.headers['content-type'], /spreadsheetml/);
    assertError(await srv.api('GET', `${PAYS}/export?run_id=${nov.run_id}&format=pdf`), 400, 'bad_request');
  });

  it('shows a payee\'s packed payments in the person-centric view, also after a merge', async () => {
    const payee = cases[0].applicant_person_id;
    const group = async (person) => (await ok(await srv.api('GET', `/api/v1/persons/${person}/records`))).groups
      .find((g) => g.entity === 'assistance_payments' && g.field === 'payee_person_id');
    const mine = await list(`case_id=${cases[0].id}`);
    const g = await group(payee);
    assert.deepEqual(g.items, mine.items, 'the packed November and the October row, newest first');
    // A second record of the same payee merged into a new one: the pack keeps
    // the id it was written with, the view finds it through the merge.
    const p = await ok(await srv.api('GET', `/api/v1/persons/${payee}`));
    const keep = await ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: '1960-01-01', seq: 190 }), name: p.name, hukou_division: D.a1 }), 201);
    await ok(await srv.api('POST', '/api/v1/persons/merge', { keep: keep.id, remove: payee, comment: '同一人' }));
    assertError(await srv.api('GET', `/api/v1/persons/${payee}/records`), 404, 'not_found');
    const moved = await group(keep.id);
    assert.deepEqual(moved.items.map((x) => [x.id, x.month]), mine.items.map((x) => [x.id, x.month]));
    const packedOne = moved.items.find((x) => x.month === '2025-11');
    assert.equal(packedOne.payee_person_id, payee, 'history: the payee as paid');
    // Another community's worker sees neither the person nor the payments.
    assertError(await users.comm2('GET', `/api/v1/persons/${keep.id}/records`), 404, 'not_found');
  });
});
