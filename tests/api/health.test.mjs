// health.test.mjs - the documents every client starts from: /health, /meta,
// /openapi.json, the 404 for unknown paths, and the headers every response carries.
// Reference: docs/api.md ("Other endpoints", last paragraph) and tests/sample/sample_module.c.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, show, PG_BASE, TEST_PASSWORD } from './lib.mjs';

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

describe('GET /api/v1/health', () => {
  // Exactly {"status":"ok","db":"sqlite","version":"..."} on a SQLite database.
  it('answers ok, sqlite, and a version string', async () => {
    const r = await srv.api('GET', '/api/v1/health');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.db, PG_BASE ? 'postgresql' : 'sqlite');
    assert.equal(typeof r.json.version, 'string');
    assert.ok(r.json.version.length > 0, 'version is not empty');
  });
});

describe('GET /api/v1/meta', () => {
  let meta;
  let cases;
  let notes;
  before(async () => {
    const r = await srv.api('GET', '/api/v1/meta');
    assert.equal(r.status, 200, show(r));
    meta = r.json;
    cases = meta.entities?.find((e) => e.name === 'sample_cases');
    notes = meta.entities?.find((e) => e.name === 'sample_notes');
  });
  const field = (e, name) => e.fields.find((f) => f.name === name);

  // The top-level members of the document.
  it('has version, modules, entities, dictionaries, menus', () => {
    assert.equal(typeof meta.version, 'string');
    for (const k of ['modules', 'entities', 'dictionaries', 'menus']) assert.ok(Array.isArray(meta[k]), `${k} is an array`);
    // Modules may be listed by name or as objects with a name.
    assert.ok(meta.modules.some((m) => (m?.name ?? m) === 'sample'), 'module "sample" is listed');
    assert.ok(meta.menus.some((m) => m.key === 'sample/cases'), 'menu sample/cases is listed');
  });

  // The document is written as text around each entity's description dumped at
  // start-up (src/engine/meta.c): the members in their order, only the entities
  // and menus the caller may read, the dictionaries' items from the database.
  it('keeps its member order and lists only what the caller may read', async (t) => {
    assert.deepEqual(Object.keys(meta), ['version', 'modules', 'menus', 'entities', 'dictionaries']);
    assert.deepEqual(Object.keys(cases).slice(0, 4), ['name', 'zh', 'en', 'title_field']);
    if (!srv.addUser || !srv.token) return t.skip('no accounts');
    srv.addUser('metaauditor', { roles: 'auditadmin' });
    const auditor = await srv.login('metaauditor', TEST_PASSWORD, { mode: 'bearer' });
    const r = await auditor.api('GET', '/api/v1/meta');
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(Object.keys(r.json), ['version', 'modules', 'menus', 'entities', 'dictionaries']);
    const names = r.json.entities.map((e) => e.name);
    assert.ok(!names.includes('sample_cases') && !names.includes('sample_notes'), `no business entities: ${names}`);
    assert.ok(!r.json.menus.some((m) => m.entity === 'sample_cases'), 'no menu of sample_cases');
    assert.deepEqual(r.json.dictionaries.map((d) => d.name), meta.dictionaries.map((d) => d.name));
    // An entity listed to both is the same description.
    for (const e of r.json.entities) {
      assert.deepEqual(e, meta.entities.find((x) => x.name === e.name), e.name);
    }
  });

  // Both sample entities, each field in declaration order with its attributes.
  it('lists sample_cases and sample_notes with their fields in declaration order', () => {
    assert.ok(cases, 'sample_cases listed');
    assert.ok(notes, 'sample_notes listed');
    assert.equal(cases.zh, '测试案件');
    assert.deepEqual(
      cases.fields.map((f) => f.name),
      ['title', 'code', 'applicant_id', 'phone', 'amount_fen', 'apply_date', 'division', 'kind', 'members', 'urgent', 'org_uscc', 'bank_card', 'visited_at', 'extra', 'decided_by'],
    );
    assert.deepEqual(notes.fields.map((f) => f.name), ['case_id', 'body', 'division']);
    for (const f of [...cases.fields, ...notes.fields]) {
      for (const k of ['name', 'type', 'zh', 'en', 'required', 'unique', 'sensitive', 'searchable', 'readonly']) {
        assert.ok(k in f, `field ${f.name} has ${k}`);
      }
    }
  });

  // Field types: the enum mz_ftype names in lower case without the prefix (ASSUMPTION).
  it('gives each field its type', () => {
    const want = {
      title: 'text', code: 'text', applicant_id: 'id_number', phone: 'phone', amount_fen: 'money',
      apply_date: 'date', division: 'division', kind: 'dict', members: 'integer', urgent: 'boolean',
      org_uscc: 'uscc', bank_card: 'bank_card', visited_at: 'datetime', extra: 'json', decided_by: 'text',
    };
    for (const [name, type] of Object.entries(want)) assert.equal(field(cases, name).type, type, `type of ${name}`);
    assert.equal(field(notes, 'case_id').type, 'reference');
  });

  // Flags and limits as declared.
  it('gives required/unique/sensitive/searchable/readonly flags, limits, pattern, dict, ref', () => {
    assert.equal(field(cases, 'title').required, true);
    assert.equal(field(cases, 'apply_date').required, true);
    assert.equal(field(cases, 'division').required, true);
    assert.equal(field(cases, 'code').required, false);
    assert.equal(field(cases, 'amount_fen').required, false);
    assert.equal(field(cases, 'code').unique, true);
    assert.equal(field(cases, 'title').unique, false);
    for (const s of ['applicant_id', 'phone', 'bank_card']) assert.equal(field(cases, s).sensitive, true, `${s} sensitive`);
    assert.equal(field(cases, 'title').sensitive, false);
    assert.equal(field(cases, 'title').searchable, true);
    assert.equal(field(cases, 'decided_by').readonly, true);
    assert.equal(field(cases, 'title').readonly, false);
    assert.ok(field(cases, 'division').scope, 'division is the scope field');
    assert.equal(field(cases, 'title').min, 2);
    assert.equal(field(cases, 'title').max, 50);
    assert.equal(field(cases, 'members').min, 1);
    assert.equal(field(cases, 'members').max, 20);
    assert.equal(field(cases, 'amount_fen').max, 100000000);
    assert.equal(field(cases, 'code').pattern, '^[A-Z]{2}[0-9]{4}$');
    assert.equal(field(cases, 'kind').dict, 'sample_kind');
    assert.equal(field(notes, 'case_id').ref, 'sample_cases');
    assert.equal(field(notes, 'case_id').required, true);
    assert.equal(field(cases, 'title').zh, '标题');
    assert.equal(field(cases, 'apply_date').en, 'Application date');
  });

  // The dictionary with its items (code, zh, en).
  it('lists the dictionary sample_kind with its items', () => {
    const d = meta.dictionaries.find((x) => x.name === 'sample_kind');
    assert.ok(d, 'sample_kind listed');
    assert.equal(d.zh, '测试类别');
    assert.deepEqual(
      d.items.map((i) => [i.code, i.zh, i.en]),
      [['a', '甲类', 'Kind A'], ['b', '乙类', 'Kind B']],
    );
  });

  // The workflow: states (with final flags) and transitions (from, action, to).
  it('describes the workflow of sample_cases; sample_notes has none', () => {
    const wf = cases.workflow;
    assert.ok(wf && typeof wf === 'object', 'workflow present');
    assert.equal(wf.initial, 'draft');
    assert.deepEqual(wf.states.map((s) => s.name), ['draft', 'submitted', 'accepted', 'approved', 'rejected']);
    assert.deepEqual(wf.states.filter((s) => s.final).map((s) => s.name), ['approved', 'rejected']);
    assert.deepEqual(
      wf.transitions.map((t) => `${t.from}-${t.action}->${t.to}`),
      ['draft-submit->submitted', 'submitted-accept->accepted', 'accepted-send_back->draft', 'accepted-approve->approved', '*-reject->rejected'],
    );
    assert.ok(!notes.workflow, 'sample_notes has no workflow');
  });
});

describe('GET /api/v1/openapi.json', () => {
  let doc;
  before(async () => {
    const r = await srv.api('GET', '/api/v1/openapi.json');
    assert.equal(r.status, 200, show(r));
    doc = r.json;
  });

  it('is an OpenAPI 3.x document', () => {
    assert.match(String(doc.openapi), /^3\.\d+(\.\d+)?$/);
    assert.ok(doc.info && typeof doc.info.title === 'string', 'info.title');
  });

  // The collection and item paths of the sample entity with their methods.
  it('has the entity routes with their methods', () => {
    const coll = doc.paths['/api/v1/sample_cases'];
    const item = doc.paths['/api/v1/sample_cases/{id}'];
    assert.ok(coll, 'collection path');
    assert.ok(item, 'item path');
    for (const m of ['get', 'post']) assert.ok(coll[m], `collection ${m}`);
    for (const m of ['get', 'patch', 'delete']) assert.ok(item[m], `item ${m}`);
    assert.ok(!coll.put && !item.put, 'no PUT');
    assert.ok(doc.paths['/api/v1/sample_notes'], 'sample_notes collection');
    assert.ok(doc.paths['/api/v1/health']?.get, 'health');
  });

  // A schema per entity under components.schemas, named by the entity (ASSUMPTION).
  it('has a schema per entity with its fields', () => {
    const schemas = doc.components?.schemas ?? {};
    for (const e of ['sample_cases', 'sample_notes']) assert.ok(schemas[e], `schema ${e}`);
    const props = schemas.sample_cases.properties ?? {};
    for (const f of ['title', 'amount_fen', 'apply_date', 'division', 'kind']) assert.ok(props[f], `property ${f}`);
  });
});

describe('unknown paths and entities', () => {
  // 404 not_found with the error shape, for unknown paths and entities.
  for (const p of ['/api/v1/nope', '/api/v1/no_such_entity', '/api/v1/no_such_entity/1', '/api/v2/health']) {
    it(`GET ${p} is 404 not_found`, async () => {
      const r = await srv.api('GET', p);
      assertError(r, 404, 'not_found');
    });
  }
});

describe('response headers', () => {
  // Every response: JSON with charset, nosniff, no-store, a request id.
  for (const [what, p] of [['success', '/api/v1/health'], ['error', '/api/v1/nope'], ['list', '/api/v1/sample_cases']]) {
    it(`are set on a ${what} response`, async () => {
      const r = await srv.api('GET', p);
      assert.match(r.headers['content-type'] ?? '', /^application\/json;\s*charset=utf-8$/i, 'content-type');
      assert.equal((r.headers['x-content-type-options'] ?? '').toLowerCase(), 'nosniff');
      assert.match(r.headers['cache-control'] ?? '', /no-store/i, 'cache-control no-store');
      assert.ok((r.headers['x-request-id'] ?? '').length > 0, 'x-request-id present');
    });
  }

  // Request ids tell requests apart.
  it('gives each request its own X-Request-Id', async () => {
    const a = await srv.api('GET', '/api/v1/health');
    const b = await srv.api('GET', '/api/v1/health');
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
  });
});
