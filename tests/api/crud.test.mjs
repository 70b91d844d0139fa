// crud.test.mjs - create, get, patch, delete and history of an engine entity,
// and the validation of every field type, on sample_cases / sample_notes.
// Reference: docs/api.md ("Errors", "Entity endpoints"), include/mz/engine.h
// (field types), tests/sample/sample_module.c (the declarations).
//
// Every rejected write is followed by a check that the database did not
// change (same total, same ids, same versions).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, assertError, assertErrorShape, assertFieldErrors, assertInstant, assertEqualOrMasked,
  snapshot, assertUnchanged, validCase, fullCase, createCase, makeIdNumber, idCheckDigit, withBadIdCheck, toId15,
  makeUscc, withBadUsccCheck, makeBankCard, withBadLuhn, makeCode, show, TEST_PASSWORD,
} from './lib.mjs';

const CASES = '/api/v1/sample_cases';
const NOTES = '/api/v1/sample_notes';
let srv;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

/** POST a body expected to fail; assert the database is unchanged; return the response. */
async function rejectedCreate(body, path = CASES) {
  const entity = path.split('/').pop();
  const snap = await snapshot(srv, entity);
  const r = await srv.api('POST', path, body);
  await assertUnchanged(srv, snap, entity);
  return r;
}

/** PATCH expected to fail; the database is unchanged. */
async function rejectedPatch(id, body) {
  const snap = await snapshot(srv);
  const r = await srv.api('PATCH', `${CASES}/${id}`, body);
  await assertUnchanged(srv, snap);
  return r;
}

describe('create', () => {
  // 201 with the row: id, version 1, instants, every field (absent as null),
  // defaults applied, state = the workflow's initial state.
  it('returns 201 with id, version 1, timestamps, defaults, state draft, nulls for absent fields', async () => {
    const r = await srv.api('POST', CASES, validCase({ title: '最小案件' }));
    assert.equal(r.status, 201, show(r));
    const row = r.json;
    assert.ok(Number.isInteger(row.id) && row.id > 0, 'positive integer id');
    assert.equal(row.version, 1);
    assertInstant(row.created_at, 'created_at');
    assertInstant(row.updated_at, 'updated_at');
    assert.equal(row.title, '最小案件');
    assert.equal(row.apply_date, '2024-03-01');
    assert.equal(row.division, '120101001001');
    assert.equal(row.kind, 'a', 'dict default');
    assert.equal(row.urgent, false, 'bool default');
    assert.equal(row.state, 'draft');
    for (const f of ['code', 'applicant_id', 'phone', 'amount_fen', 'members', 'org_uscc', 'bank_card', 'visited_at', 'extra', 'decided_by']) {
      assert.ok(f in row, `${f} present`);
      assert.equal(row[f], null, `${f} is null when absent`);
    }
  });

  // Every field set: values come back as sent (sensitive ones clear or masked),
  // JSON values as JSON, the datetime in UTC.
  it('stores every field type', async () => {
    const body = fullCase({ visited_at: '2024-03-02T16:30:00+08:00', extra: { a: [1, 2, { b: '中' }], n: null, t: true } });
    const r = await srv.api('POST', CASES, body);
    assert.equal(r.status, 201, show(r));
    const row = r.json;
    for (const f of ['title', 'code', 'amount_fen', 'apply_date', 'division', 'kind', 'members', 'urgent', 'org_uscc']) {
      assert.deepEqual(row[f], body[f], f);
    }
    assert.deepEqual(row.extra, body.extra, 'json field round-trips as JSON');
    assertEqualOrMasked(row.applicant_id, body.applicant_id, 'applicant_id');
    assertEqualOrMasked(row.phone, body.phone, 'phone');
    assertEqualOrMasked(row.bank_card, body.bank_card, 'bank_card');
    assertInstant(row.visited_at, 'visited_at');
    assert.equal(Date.parse(row.visited_at), Date.parse('2024-03-02T08:30:00Z'), 'visited_at converted to UTC');
    const g = await srv.api('GET', `${CASES}/${row.id}`);
    assert.equal(g.status, 200, show(g));
    assert.deepEqual(g.json, row, 'GET gives the same row as the create reply');
  });

  // Normalisation of derived forms: 9-digit division padded to 12, 15-digit ID
  // upgraded to 18 (century + check digit), phone stripped of +86 and spaces.
  it('normalises division, 15-digit ID number and phone', async () => {
    const id18 = makeIdNumber({ birth: '1975-06-01', seq: 123 });
    const r = await srv.api('POST', CASES, validCase({ division: '120101001', applicant_id: toId15(id18), phone: '+86 138 0013 8000' }));
    assert.equal(r.status, 201, show(r));
    assert.equal(r.json.division, '120101001000');
    assertEqualOrMasked(r.json.applicant_id, id18, 'applicant_id upgraded to 18');
    assertEqualOrMasked(r.json.phone, '13800138000', 'phone normalised');
  });

  // An 18-character ID with lower-case x is normalised to upper case (GB 11643 uses X).
  it('accepts a lower-case x check character and stores X', async () => {
    let id;
    for (let s = 100; s < 999 && !id; s++) {
      const c = makeIdNumber({ birth: '1980-01-01', seq: s });
      if (c.endsWith('X')) id = c;
    }
    const r = await srv.api('POST', CASES, validCase({ applicant_id: id.toLowerCase() }));
    assert.equal(r.status, 201, show(r));
    assertEqualOrMasked(r.json.applicant_id, id, 'upper-case X');
  });

  // Text lengths count characters, not bytes: 50 Chinese characters fit in max 50.
  it('counts text length in characters', async () => {
    const r = await srv.api('POST', CASES, validCase({ title: '字'.repeat(50) }));
    assert.equal(r.status, 201, show(r));
    const r2 = await srv.api('POST', CASES, validCase({ title: '中文' }));
    assert.equal(r2.status, 201, show(r2));
  });
});

describe('GET by id (written straight from the row) and the list (jansson) agree', () => {
  it('for every field type, escapes, nulls, sealed values, masked and unmasked', async () => {
    const title = 'q"uo\\te/斜杠 😀 末';
    const extra = { a: [1, 'x"y\\z', null, true, { b: -2 }], 中: '文', e: {} };
    const full = await createCase(srv, { title, extra }, { full: true });
    const bare = await createCase(srv, { title: '只有必填项' });
    srv.addUser('leader_get', { roles: 'leader', scope: '120101' });
    const leader = (await srv.login('leader_get', TEST_PASSWORD, { mode: 'bearer' })).api;
    for (const [who, api] of [['city officer', srv.api], ['leader', leader]]) {
      for (const c of [full, bare]) {
        const one = await api('GET', `${CASES}/${c.id}`);
        assert.equal(one.status, 200, show(one));
        assert.match(one.headers['content-type'], /^application\/json; charset=utf-8$/);
        const list = await api('GET', `${CASES}?id=${c.id}`);
        assert.equal(list.status, 200, show(list));
        assert.equal(list.json.items.length, 1);
        assert.deepEqual(one.json, list.json.items[0], `${who}: case ${c.id}`);
        assert.deepEqual(Object.keys(one.json), Object.keys(list.json.items[0]), `${who}: member order`);
      }
    }
    const mine = (await srv.api('GET', `${CASES}/${full.id}`)).json;
    assert.equal(mine.title, title);
    assert.deepEqual(mine.extra, extra);
    assert.equal(mine.phone, full.phone, 'unmasked for a role with view_sensitive');
    assert.equal(mine.urgent, true);
    assert.equal(mine.amount_fen, 123456);
    const masked = (await leader('GET', `${CASES}/${full.id}`)).json;
    assert.equal(masked.phone, `${full.phone.slice(0, 3)}****${full.phone.slice(7)}`);
    assert.equal(masked.bank_card, `**** ${full.bank_card.slice(-4)}`);
    assert.equal(masked.title, title);
    const none = (await leader('GET', `${CASES}/${bare.id}`)).json;
    assert.equal(none.phone, null);
    assert.equal(none.extra, null);
    assertError(await leader('GET', `${CASES}/${bare.id + 1000000}`), 404, 'not_found');
  });
});

describe('field validation on create (422 validation_failed)', () => {
  // One bad value per case; the expected field error code from docs/api.md.
  const longTitle = 'x'.repeat(51);
  const cases = [
    ['title missing', { title: undefined }, 'title', 'required'],
    ['title empty', { title: '' }, 'title', 'required'],
    ['apply_date missing', { apply_date: undefined }, 'apply_date', 'required'],
    ['division missing', { division: undefined }, 'division', 'required'],
    ['title too short', { title: 'x' }, 'title', 'too_short'],
    ['title too long (51)', { title: longTitle }, 'title', 'too_long'],
    ['title 51 Chinese characters', { title: '字'.repeat(51) }, 'title', 'too_long'],
    ['title a number', { title: 12345 }, 'title', 'type'],
    ['code pattern', { code: 'ab12' }, 'code', 'pattern'],
    ['code pattern (5 digits)', { code: 'AB12345' }, 'code', 'pattern'],
    ['members below min', { members: 0 }, 'members', 'too_small'],
    ['members above max', { members: 21 }, 'members', 'too_large'],
    ['members a string', { members: '3' }, 'members', 'type'],
    ['members a fraction', { members: 2.5 }, 'members', 'type'],
    ['amount negative', { amount_fen: -1 }, 'amount_fen', 'too_small'],
    ['amount above max', { amount_fen: 100000001 }, 'amount_fen', 'too_large'],
    ['amount a fraction', { amount_fen: 10.5 }, 'amount_fen', 'type'],
    ['amount a string', { amount_fen: '100' }, 'amount_fen', 'type'],
    ['date 2023-02-29', { apply_date: '2023-02-29' }, 'apply_date', 'invalid_date'],
    ['date month 13', { apply_date: '2024-13-01' }, 'apply_date', 'invalid_date'],
    ['date compact form', { apply_date: '20240301' }, 'apply_date', 'invalid_date'],
    ['datetime garbage', { visited_at: 'garbage' }, 'visited_at', 'invalid_datetime'],
    ['datetime without zone', { visited_at: '2024-03-02 08:30' }, 'visited_at', 'invalid_datetime'],
    ['bool "yes"', { urgent: 'yes' }, 'urgent', 'type'],
    ['bool 1', { urgent: 1 }, 'urgent', 'type'],
    ['dict "z"', { kind: 'z' }, 'kind', 'not_in_dictionary'],
    ['ID wrong check digit', { applicant_id: withBadIdCheck(makeIdNumber()) }, 'applicant_id', 'invalid_id_number'],
    ['ID 17 characters', { applicant_id: makeIdNumber().slice(0, 17) }, 'applicant_id', 'invalid_id_number'],
    // 1999-02-31 with a correct check character: only the date is wrong.
    ['ID impossible birth date', { applicant_id: '12010119990231123' + idCheckDigit('12010119990231123') }, 'applicant_id', 'invalid_id_number'],
    ['ID unknown area 990101', { applicant_id: '99010119800101123' + idCheckDigit('99010119800101123') }, 'applicant_id', 'invalid_id_number'],
    ['USCC wrong check', { org_uscc: withBadUsccCheck(makeUscc()) }, 'org_uscc', 'invalid_uscc'],
    ['phone 12 digits', { phone: '138001380001' }, 'phone', 'invalid_phone'],
    ['phone not mobile', { phone: '02212345678' }, 'phone', 'invalid_phone'],
    ['bank card fails Luhn', { bank_card: withBadLuhn(makeBankCard()) }, 'bank_card', 'invalid_bankcard'],
    ['division "99"', { division: '99' }, 'division', 'invalid_division'],
    ['division "990000"', { division: '990000' }, 'division', 'invalid_division'],
    ['division letters', { division: '12010a' }, 'division', 'invalid_division'],
    ['unknown field', { colour: 'red' }, 'colour', 'unknown_field'],
    ['readonly decided_by', { decided_by: 'someone' }, 'decided_by', 'readonly'],
  ];
  for (const [what, overrides, field, code] of cases) {
    it(`${what} -> ${field}:${code}, nothing written`, async () => {
      const r = await rejectedCreate(validCase(overrides));
      assertFieldErrors(r, [[field, code]]);
    });
  }

  // All field errors come at once; error.field is the first of them.
  it('reports all field errors at once', async () => {
    const r = await rejectedCreate(validCase({ title: 'x', members: 99, kind: 'z', apply_date: '2023-02-29' }));
    const err = assertFieldErrors(r, [['title', 'too_short'], ['members', 'too_large'], ['kind', 'not_in_dictionary'], ['apply_date', 'invalid_date']]);
    assert.equal(err.errors.length, 4);
  });

  // Missing required fields and bad values together.
  it('reports missing required fields together with bad values', async () => {
    const r = await rejectedCreate({ phone: '123', kind: 'z' });
    assertFieldErrors(r, [['title', 'required'], ['apply_date', 'required'], ['division', 'required'], ['phone', 'invalid_phone'], ['kind', 'not_in_dictionary']]);
  });

  // A JSON field takes any JSON value: object, array, string, number.
  for (const v of [{ nested: { deep: [1, '二', null] } }, [1, 2, 3], 'text', 42]) {
    it(`json field accepts ${JSON.stringify(v)}`, async () => {
      const r = await srv.api('POST', CASES, validCase({ extra: v }));
      assert.equal(r.status, 201, show(r));
      assert.deepEqual(r.json.extra, v);
    });
  }
});

describe('references (sample_notes.case_id)', () => {
  // A note on an existing case is created; the reference must exist.
  it('accepts a reference to an existing case', async () => {
    const c = await createCase(srv, { title: '被引用的案件' });
    const r = await srv.api('POST', NOTES, { case_id: c.id, body: '第一行\n第二行', division: '120101001001' });
    assert.equal(r.status, 201, show(r));
    assert.equal(r.json.case_id, c.id);
    assert.equal(r.json.body, '第一行\n第二行', 'multiline text kept');
    assert.equal(r.json.version, 1);
    assert.ok(!('state' in r.json) || r.json.state === null, 'no workflow state on notes');
  });

  it('rejects a reference to a non-existent case (no_such_reference)', async () => {
    const r = await rejectedCreate({ case_id: 987654321, body: '无效引用', division: '120101001001' }, NOTES);
    assertFieldErrors(r, [['case_id', 'no_such_reference']]);
  });

  // A deleted row is gone: referring to it is no_such_reference too (ASSUMPTION).
  it('rejects a reference to a deleted case', async () => {
    const c = await createCase(srv, { title: '将被删除' });
    const d = await srv.api('DELETE', `${CASES}/${c.id}`);
    assert.equal(d.status, 204, show(d));
    const r = await rejectedCreate({ case_id: c.id, body: '引用已删除', division: '120101001001' }, NOTES);
    assertFieldErrors(r, [['case_id', 'no_such_reference']]);
  });

  it('rejects a non-integer reference (type)', async () => {
    const r = await rejectedCreate({ case_id: 'abc', body: '类型错误', division: '120101001001' }, NOTES);
    assertFieldErrors(r, [['case_id', 'type']]);
  });
});

describe('unique fields', () => {
  // A taken code is a conflict naming the field: 409 duplicate (or 422 with a
  // duplicate field error - either is accepted, the field must be named).
  it('rejects a duplicate code and names the field', async () => {
    const code = makeCode('UQ');
    await createCase(srv, { code });
    const r = await rejectedCreate(validCase({ code }));
    if (r.status === 409) assertError(r, 409, 'duplicate', { field: 'code' });
    else assertFieldErrors(r, [['code', 'duplicate']]);
  });

  // Absent unique values do not collide with each other.
  it('allows many rows without a code', async () => {
    await createCase(srv, { title: '无编号一' });
    await createCase(srv, { title: '无编号二' });
  });
});

describe('get', () => {
  it('returns the row', async () => {
    const c = await createCase(srv, { title: '读取测试' });
    const r = await srv.api('GET', `${CASES}/${c.id}`);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.id, c.id);
    assert.equal(r.json.title, '读取测试');
    assert.equal(r.json.version, 1);
  });

  // The id segment must be a positive integer: 400 bad_id otherwise.
  for (const bad of ['abc', '0', '-1', '1.5', '1e3', '%20', '12abc', '0x10']) {
    it(`id "${bad}" is 400 bad_id`, async () => {
      const r = await srv.api('GET', `${CASES}/${bad}`);
      assertError(r, 400, 'bad_id');
    });
  }

  // A well-formed id without a row is 404.
  for (const id of ['999999999', '9007199254740993', '9223372036854775807']) {
    it(`id ${id} is 404 not_found`, async () => {
      const r = await srv.api('GET', `${CASES}/${id}`);
      assertError(r, 404, 'not_found');
    });
  }

  // Beyond int64: not a representable id; 400 bad_id or 404, never 500.
  it('an id beyond int64 is 400 bad_id or 404', async () => {
    const r = await srv.api('GET', `${CASES}/99999999999999999999999`);
    assertError(r, [400, 404], ['bad_id', 'not_found']);
  });

  // bad_id applies to patch and delete too.
  it('patch and delete with a bad id are 400 bad_id', async () => {
    assertError(await srv.api('PATCH', `${CASES}/abc`, { version: 1, title: '改' }), 400, 'bad_id');
    assertError(await srv.api('DELETE', `${CASES}/abc`), 400, 'bad_id');
  });
});

describe('patch', () => {
  // With the current version: 200, version 2, updated_at moves, created_at stays.
  it('changes fields and increments the version', async () => {
    const c = await createCase(srv, { title: '修改前', amount_fen: 100 });
    const r = await srv.api('PATCH', `${CASES}/${c.id}`, { version: 1, title: '修改后', amount_fen: 200 });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.version, 2);
    assert.equal(r.json.title, '修改后');
    assert.equal(r.json.amount_fen, 200);
    assert.equal(r.json.apply_date, c.apply_date, 'untouched field kept');
    assert.equal(r.json.created_at, c.created_at, 'created_at unchanged');
    assertInstant(r.json.updated_at, 'updated_at');
    assert.ok(Date.parse(r.json.updated_at) >= Date.parse(c.updated_at), 'updated_at not earlier');
    const g = await srv.api('GET', `${CASES}/${c.id}`);
    assert.deepEqual(g.json, r.json, 'GET shows the patched row');
  });

  // null clears an optional field.
  it('null clears an optional field', async () => {
    const c = await createCase(srv, { amount_fen: 500 });
    const r = await srv.api('PATCH', `${CASES}/${c.id}`, { version: 1, amount_fen: null });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.amount_fen, null);
  });

  // A required field cannot be cleared.
  it('null on a required field is 422 required', async () => {
    const c = await createCase(srv);
    const r = await rejectedPatch(c.id, { version: 1, title: null });
    assertFieldErrors(r, [['title', 'required']]);
  });

  // Stale version: 409 version_conflict with current_version.
  it('a stale version is 409 version_conflict with current_version', async () => {
    const c = await createCase(srv);
    const ok = await srv.api('PATCH', `${CASES}/${c.id}`, { version: 1, title: '第二版' });
    assert.equal(ok.status, 200, show(ok));
    const r = await rejectedPatch(c.id, { version: 1, title: '过期修改' });
    const err = assertError(r, 409, 'version_conflict');
    assert.equal(err.current_version, 2);
    assert.equal((await srv.api('GET', `${CASES}/${c.id}`)).json.title, '第二版');
  });

  // Missing version: 422 on field version (code required). ASSUMPTION: the
  // error is validation_failed with errors [{field:"version",code:"required"}].
  it('a missing version is 422 on field version', async () => {
    const c = await createCase(srv);
    const r = await rejectedPatch(c.id, { title: '没有版本' });
    assertFieldErrors(r, [['version', 'required']]);
  });

  it('readonly field decided_by is 422 readonly', async () => {
    const c = await createCase(srv);
    const r = await rejectedPatch(c.id, { version: 1, decided_by: 'mallory' });
    assertFieldErrors(r, [['decided_by', 'readonly']]);
  });

  it('immutable field code is 422 immutable', async () => {
    const c = await createCase(srv, { code: makeCode('IM') });
    const r = await rejectedPatch(c.id, { version: 1, code: makeCode('IM') });
    assertFieldErrors(r, [['code', 'immutable']]);
  });

  it('unknown field is 422 unknown_field', async () => {
    const c = await createCase(srv);
    const r = await rejectedPatch(c.id, { version: 1, colour: 'red' });
    assertFieldErrors(r, [['colour', 'unknown_field']]);
  });

  // Bad values on patch report all errors too.
  it('bad values on patch are all reported', async () => {
    const c = await createCase(srv);
    const r = await rejectedPatch(c.id, { version: 1, title: 'x', kind: 'z', urgent: 'yes', division: '99' });
    assertFieldErrors(r, [['title', 'too_short'], ['kind', 'not_in_dictionary'], ['urgent', 'type'], ['division', 'invalid_division']]);
  });

  // System columns are not writable: id/created_at and friends are rejected (ASSUMPTION: 422 with an error on that field).
  for (const f of ['id', 'created_at', 'state']) {
    it(`patching ${f} is 422 and changes nothing`, async () => {
      const c = await createCase(srv);
      const r = await rejectedPatch(c.id, { version: 1, [f]: f === 'id' ? 424242 : f === 'state' ? 'approved' : '2000-01-01T00:00:00Z' });
      const err = assertError(r, 422);
      assert.ok((err.errors ?? [err]).some((e) => e.field === f), `error names ${f}; ${show(r)}`);
    });
  }

  it('patch of a missing row is 404', async () => {
    assertError(await srv.api('PATCH', `${CASES}/999999999`, { version: 1, title: '不存在' }), 404, 'not_found');
  });

  it('a body that is not an object is 400 bad_request', async () => {
    const c = await createCase(srv);
    const r = await rejectedPatch(c.id, [1, 2]);
    assertError(r, 400, 'bad_request');
  });
});

describe('delete', () => {
  // Soft delete: 204, then 404 on get, gone from lists, the code free again.
  it('deletes with 204; the row is gone and its unique code is free', async () => {
    const code = makeCode('DL');
    const c = await createCase(srv, { code, title: '待删除' });
    const r = await srv.api('DELETE', `${CASES}/${c.id}?version=1`);
    assert.equal(r.status, 204, show(r));
    assert.equal(r.text, '', '204 has no body');
    assertError(await srv.api('GET', `${CASES}/${c.id}`), 404, 'not_found');
    const list = await srv.api('GET', `${CASES}?code=${code}`);
    assert.equal(list.status, 200, show(list));
    assert.equal(list.json.total, 0, 'not listed');
    const again = await srv.api('POST', CASES, validCase({ code }));
    assert.equal(again.status, 201, `code reusable after delete; ${show(again)}`);
    assert.notEqual(again.json.id, c.id, 'a new id');
  });

  // Stale version: 409, nothing deleted.
  it('a stale version is 409 version_conflict', async () => {
    const c = await createCase(srv);
    await srv.api('PATCH', `${CASES}/${c.id}`, { version: 1, title: '改过一次' });
    const snap = await snapshot(srv);
    const r = await srv.api('DELETE', `${CASES}/${c.id}?version=1`);
    const err = assertError(r, 409, 'version_conflict');
    assert.equal(err.current_version, 2);
    await assertUnchanged(srv, snap);
  });

  // version is optional on delete.
  it('deletes without a version', async () => {
    const c = await createCase(srv);
    assert.equal((await srv.api('DELETE', `${CASES}/${c.id}`)).status, 204);
  });

  // A deleted row cannot be deleted or patched again.
  it('delete and patch of a deleted row are 404', async () => {
    const c = await createCase(srv);
    assert.equal((await srv.api('DELETE', `${CASES}/${c.id}`)).status, 204);
    assertError(await srv.api('DELETE', `${CASES}/${c.id}`), 404, 'not_found');
    assertError(await srv.api('PATCH', `${CASES}/${c.id}`, { version: 2, title: '复活' }), 404, 'not_found');
  });

  it('a non-numeric version is 400 or 422, nothing deleted', async () => {
    const c = await createCase(srv);
    const snap = await snapshot(srv);
    const r = await srv.api('DELETE', `${CASES}/${c.id}?version=abc`);
    assertError(r, [400, 422]);
    await assertUnchanged(srv, snap);
  });
});

describe('history', () => {
  // create, update and delete entries, oldest first, with versions, actor, at,
  // and changes {field:{from,to}}. ASSUMPTION: history stays readable after a
  // soft delete (the "delete" action could not be seen otherwise).
  it('lists create, update and delete with changes', async () => {
    const c = await createCase(srv, { title: '历史一', amount_fen: 100 });
    const p = await srv.api('PATCH', `${CASES}/${c.id}`, { version: 1, title: '历史二', amount_fen: 250 });
    assert.equal(p.status, 200, show(p));
    const d = await srv.api('DELETE', `${CASES}/${c.id}?version=2`);
    assert.equal(d.status, 204, show(d));

    const r = await srv.api('GET', `${CASES}/${c.id}/history`);
    assert.equal(r.status, 200, show(r));
    const items = r.json.items;
    assert.deepEqual(items.map((i) => i.action), ['create', 'update', 'delete']);
    assert.deepEqual(items.map((i) => i.version), [1, 2, 3]);
    for (const i of items) {
      assert.equal(typeof i.actor, 'string', 'actor');
      assertInstant(i.at, 'at');
      assert.ok('comment' in i, 'comment member present');
    }
    const [cr, up] = items;
    assert.deepEqual(cr.changes.title, { from: null, to: '历史一' });
    assert.deepEqual(cr.changes.amount_fen, { from: null, to: 100 });
    assert.deepEqual(up.changes.title, { from: '历史一', to: '历史二' });
    assert.deepEqual(up.changes.amount_fen, { from: 100, to: 250 });
    assert.ok(!('apply_date' in up.changes), 'unchanged fields are not in changes');
  });

  it('history of a missing row is 404', async () => {
    assertError(await srv.api('GET', `${CASES}/999999999/history`), 404, 'not_found');
  });

  it('history with a bad id is 400 bad_id', async () => {
    assertError(await srv.api('GET', `${CASES}/abc/history`), 400, 'bad_id');
  });
});

describe('error bodies', () => {
  // Every 4xx so far had the shape; a few more routes for good measure.
  it('every 4xx carries the error shape', async () => {
    const rs = [
      await srv.api('POST', CASES, {}),
      await srv.api('GET', `${CASES}/0`),
      await srv.api('DELETE', `${CASES}/999999999`),
      await srv.api('POST', '/api/v1/no_such_entity', validCase()),
    ];
    for (const r of rs) {
      assert.ok(r.status >= 400 && r.status < 500, show(r));
      assertErrorShape(r);
    }
  });
});
