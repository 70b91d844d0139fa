// matrix.test.mjs - authorisation matrix: every GET route of the sample
// entities from /api/v1/openapi.json × every role × a record in the role's
// own area and one in another area. Zero leaks: out-of-area ids are 403/404
// and no response (lists, search, counts, exports, errors) carries another
// area's values; the three administrators get no business data at all.
// Writes outside one's area (create, and moving a row by PATCH) are refused
// with 403 out_of_scope and change nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, show, validCase, ADMIN_PASSWORD, TEST_PASSWORD } from './lib.mjs';

let srv;
const clients = {};
const marks = {}; // area -> unique title marker
const ids = {};   // area -> {case, note}
// name -> [roles, scope, own area ('heping'|'hexi'|null for admins)]
const ROLES = {
  city: ['city_officer', '120000', 'any'],
  heping_district: ['district_officer', '120101', 'heping'],
  hexi_district: ['district_officer', '120103', 'hexi'],
  heping_street: ['street_officer', '120101001', 'heping'],
  heping_comm: ['community_worker', '120101001001', 'heping'],
  heping_leader: ['leader', '120101', 'heping'],
};
const AREAS = { heping: '120101001001', hexi: '120103001001' };

before(async () => {
  srv = await startServer();
  for (const [area, div] of Object.entries(AREAS)) {
    marks[area] = `MARK${area.toUpperCase()}${Math.floor(Math.random() * 1e6)}`;
    const c = await srv.api('POST', '/api/v1/sample_cases', validCase({ title: marks[area], division: div }));
    assert.equal(c.status, 201, show(c));
    const n = await srv.api('POST', '/api/v1/sample_notes', { case_id: c.json.id, body: marks[area], division: div });
    assert.equal(n.status, 201, show(n));
    ids[area] = { case: c.json.id, note: n.json.id };
  }
  for (const [name, [roles, scope]] of Object.entries(ROLES)) {
    srv.addUser(`m_${name}`, { roles, scope });
    clients[name] = await srv.login(`m_${name}`, TEST_PASSWORD, { mode: 'bearer' });
  }
  for (const admin of ['sysadmin', 'secadmin', 'auditadmin']) {
    const first = await srv.login(admin, ADMIN_PASSWORD);
    const pw = `Matrix-${admin.length}-Pw9-城`;
    const r = await first.api('POST', '/api/v1/auth/password', { old_password: ADMIN_PASSWORD, new_password: pw });
    assert.equal(r.status, 200, show(r));
    clients[admin] = await srv.login(admin, pw, { mode: 'bearer' });
  }
});
after(async () => {
  await srv?.stop();
});

/** Concrete GET paths for an entity and a record id, from the OpenAPI paths. */
function pathsFor(openapi, entity, id) {
  const out = [];
  for (const [p, ops] of Object.entries(openapi.paths || {})) {
    if (!ops.get) continue;
    const concrete = p.replace('{entity}', entity);
    if (!concrete.startsWith(`/api/v1/${entity}`)) continue;
    out.push(concrete.replace('{id}', String(id)));
  }
  // Search, counts and exports through the list's parameters.
  out.push(`/api/v1/${entity}?q=MARK`, `/api/v1/${entity}?size=500`, `/api/v1/${entity}/export?format=csv`);
  return [...new Set(out)].filter((p) => !p.includes('{'));
}

describe('matrix', () => {
  it('no role sees another area, no administrator sees business data', async () => {
    const openapi = (await srv.anon('GET', '/api/v1/openapi.json')).json;
    assert.ok(openapi?.paths, 'openapi document');
    let checked = 0;
    for (const [name, client] of Object.entries(clients)) {
      const own = ROLES[name]?.[2] ?? null; // null: an administrator
      for (const entity of ['sample_cases', 'sample_notes']) {
        for (const area of Object.keys(AREAS)) {
          const id = ids[area][entity === 'sample_cases' ? 'case' : 'note'];
          for (const p of pathsFor(openapi, entity, id)) {
            const r = await client.api('GET', p);
            checked++;
            const visible = own === 'any' || own === area;
            const foreign = Object.keys(AREAS).filter((a) => !(own === 'any' || own === a));
            for (const f of foreign) {
              assert.ok(!r.text.includes(marks[f]), `${name} GET ${p}: leaks ${f} (${show(r)})`);
              assert.ok(!r.text.includes(AREAS[f]), `${name} GET ${p}: leaks ${f} division`);
            }
            if (own === null) assert.ok([403, 404].includes(r.status), `${name} GET ${p}: ${show(r)}`);
            else if (!visible && p.includes(`/${id}`)) assert.ok([403, 404].includes(r.status), `${name} GET ${p}: ${show(r)}`);
            if (own !== null && !visible && /size=500|q=MARK/.test(p) && r.status === 200) {
              assert.ok(r.json.items.every((x) => !String(x.division).startsWith(AREAS[area].slice(0, 6))), `${name} ${p}`);
            }
          }
        }
      }
    }
    assert.ok(checked > 100, `checked ${checked} requests`);
  });

  // Every write route of the OpenAPI document (PATCH, DELETE, workflow actions)
  // on a record of an area the role does not hold: 403/404, nothing changes,
  // and the answer names nothing of that area.
  it('no role writes another area, no administrator writes business data', async () => {
    const openapi = (await srv.anon('GET', '/api/v1/openapi.json')).json;
    const before = {};
    for (const area of Object.keys(AREAS)) {
      before[area] = (await srv.api('GET', `/api/v1/sample_cases/${ids[area].case}`)).json;
    }
    let checked = 0;
    for (const [name, client] of Object.entries(clients)) {
      const own = ROLES[name]?.[2] ?? null;
      for (const area of Object.keys(AREAS)) {
        if (own === 'any' || own === area) continue;
        const id = ids[area].case;
        for (const [p, ops] of Object.entries(openapi.paths)) {
          if (!p.startsWith('/api/v1/sample_cases/{id}')) continue;
          for (const method of ['patch', 'delete', 'post']) {
            if (!ops[method]) continue;
            const concretes = p.includes('{action}')
              ? ['submit', 'accept', 'approve', 'reject'].map((a) => p.replace('{id}', String(id)).replace('{action}', a))
              : [p.replace('{id}', String(id))];
            for (const concrete of concretes) {
            const body = method === 'patch' ? { version: before[area].version, title: '越权修改' }
              : method === 'post' ? { comment: '越权' } : undefined;
            const r = await client.api(method.toUpperCase(), concrete, body);
            checked++;
            assert.ok([403, 404, 405].includes(r.status), `${name} ${method} ${concrete}: ${show(r)}`);
            assert.ok(!r.text.includes(marks[area]), `${name} ${method} ${concrete}: leaks ${area}`);
            }
          }
        }
      }
    }
    for (const area of Object.keys(AREAS)) {
      const after = (await srv.api('GET', `/api/v1/sample_cases/${ids[area].case}`)).json;
      assert.equal(after.version, before[area].version, `${area} record unchanged`);
      assert.equal(after.state, before[area].state);
    }
    assert.ok(checked > 20, `checked ${checked} writes`);
  });

  it('creating a row in another area is refused', async () => {
    const r = await clients.heping_comm.api('POST', '/api/v1/sample_cases', validCase({ division: AREAS.hexi }));
    assert.equal(r.status, 403, show(r));
    assert.equal(r.json.error.code, 'out_of_scope');
    const hexi = await clients.hexi_district.api('GET', '/api/v1/sample_cases?size=500');
    assert.ok(!hexi.json.items.some((x) => x.title === r.json?.title));
  });

  it('moving an own row into another area is refused and changes nothing', async () => {
    const c = await clients.heping_comm.api('POST', '/api/v1/sample_cases', validCase({ division: AREAS.heping }));
    assert.equal(c.status, 201, show(c));
    const p = await clients.heping_comm.api('PATCH', `/api/v1/sample_cases/${c.json.id}`,
      { version: c.json.version, division: AREAS.hexi });
    assert.equal(p.status, 403, show(p));
    const g = await clients.heping_comm.api('GET', `/api/v1/sample_cases/${c.json.id}`);
    assert.equal(g.json.division, c.json.division);
    assert.equal(g.json.version, c.json.version);
  });
});

describe('citizens see only their own records', () => {
  it('a citizen lists, reads and counts only rows it created', async () => {
    srv.addUser('m_citizen_a', { roles: 'citizen', scope: '120000' });
    srv.addUser('m_citizen_b', { roles: 'citizen', scope: '120000' });
    const a = await srv.login('m_citizen_a', TEST_PASSWORD, { mode: 'bearer' });
    const b = await srv.login('m_citizen_b', TEST_PASSWORD, { mode: 'bearer' });
    const mine = await a.api('POST', '/api/v1/sample_cases', validCase({ title: '公众申请甲', division: AREAS.heping }));
    assert.equal(mine.status, 201, show(mine));
    const list = await a.api('GET', '/api/v1/sample_cases?size=500');
    assert.equal(list.status, 200, show(list));
    assert.equal(list.json.total, 1);
    assert.deepEqual(list.json.items.map((x) => x.id), [mine.json.id]);
    // Another citizen and another area's row are invisible: 404, never data.
    const other = await b.api('GET', `/api/v1/sample_cases/${mine.json.id}`);
    assert.equal(other.status, 404, show(other));
    assert.ok(!JSON.stringify(other.json).includes('公众申请甲'));
    const staffRow = await a.api('GET', `/api/v1/sample_cases/${ids.hexi.case}`);
    assert.equal(staffRow.status, 404, show(staffRow));
    const bList = await b.api('GET', `/api/v1/sample_cases?q=${encodeURIComponent('公众申请甲')}`);
    assert.equal(bList.json.total, 0);
    // A citizen may not change another's row either (citizens hold no update
    // permission at all: 403 whatever the id, so nothing is revealed).
    const patch = await b.api('PATCH', `/api/v1/sample_cases/${mine.json.id}`, { version: 1, title: '篡改' });
    assert.ok([403, 404].includes(patch.status), show(patch));
    const still = await a.api('GET', `/api/v1/sample_cases/${mine.json.id}`);
    assert.equal(still.json.title, '公众申请甲');
  });
});
