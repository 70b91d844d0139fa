// pdf.test.mjs - the decision notice PDF of an assistance case
// (GET /api/v1/assistance_cases/{id}/notice.pdf, src/modules/assistance/notice.c,
// rendered by src/core/pdf.c): an approved case gets a 救助决定通知书 and a
// refused one a 不予救助决定书, as application/pdf with a UTF-8 file name
// (RFC 5987); pdftotext (poppler-utils) finds the applicant, the amount in 元
// and the refusal's reason; a case without a decision is 409; a case outside
// the caller's scope is 404; the route needs assistance_cases.read.
// Reference: docs/assistance.md (Decision notice).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, assertError, show, makeIdNumber, TEST_PASSWORD } from './lib.mjs';

let srv;
const D = {};
const users = {};
const CASES = '/api/v1/assistance_cases';

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}

/** Text of a PDF through pdftotext (poppler-utils, installed by make deps). */
function pdfText(buf) {
  const r = spawnSync('pdftotext', ['-enc', 'UTF-8', '-', '-'], { input: buf, encoding: 'utf8' });
  if (r.error) throw new Error(`pdftotext: ${r.error.message} (install poppler-utils: make deps)`);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

async function loginAll() {
  for (const name of Object.keys(users)) users[name] = (await srv.login(name, TEST_PASSWORD, { mode: 'bearer' })).api;
}

async function person(name) {
  return ok(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: '1970-05-05' }), name, hukou_division: D.a1 }), 201);
}

async function newCase(p, income) {
  return ok(await srv.api('POST', CASES, {
    program: 'dibao', applicant_person_id: p.id, division: D.a1, start_month: '2025-10',
    members: [{ person_id: p.id, monthly_income_fen: income, authorisation_scan: 'scan-1' }],
  }), 201);
}

const act = (id, action, body = {}) => srv.api('POST', `${CASES}/${id}/actions/${action}`, body);
const notice = (id, api = srv.api) => api('GET', `${CASES}/${id}/notice.pdf`);

before(async () => {
  srv = await startServer({ env: { MZ_TEST_TODAY: '2025-10-01' } });
  const streets = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items;
  D.s1 = streets[0].code;
  D.s2 = streets[1].code;
  D.a1 = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${D.s1}`))).items[0].code;
  srv.addUser('street', { roles: 'street_officer', scope: D.s1 });
  srv.addUser('other_street', { roles: 'street_officer', scope: D.s2 });
  srv.addUser('nobody', { roles: '', scope: '120000' });
  users.street = users.other_street = users.nobody = null;
  await loginAll();
});
after(async () => {
  await srv?.stop();
});

describe('decision notice PDF', () => {
  let approved, refused, draft;

  it('cases: one taken to 公示, one refused with a reason, one left as a draft', async () => {
    approved = await newCase(await person('王决定'), 20000);
    assert.equal(approved.monthly_benefit_fen, 84500, '104500 - 20000');
    for (const [action, body] of [['accept'], ['investigate'], ['verify', { comment: '核对：收入属实' }], ['deliberate'], ['review'], ['publicise']]) {
      await ok(await act(approved.id, action, body));
    }
    refused = await newCase(await person('赵不予'), 300000);
    assert.equal((await ok(await act(refused.id, 'reject', { comment: '家庭人均收入高于当地低保标准' }))).state, 'refused');
    draft = await newCase(await person('钱草稿'), 0);
  });

  it('a refused case gets a 不予救助决定书 with its reason', async () => {
    const r = await notice(refused.id);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.headers['content-type'], 'application/pdf');
    assert.match(r.headers['content-disposition'], /^attachment; filename="[^"]*\.pdf"; filename\*=UTF-8''/);
    assert.ok(r.headers['content-disposition'].includes(encodeURIComponent(`不予救助决定书-${refused.id}.pdf`)), r.headers['content-disposition']);
    assert.equal(r.buf.subarray(0, 5).toString('latin1'), '%PDF-');
    const text = pdfText(r.buf);
    assert.match(text, /不予救助决定书/);
    assert.match(text, /赵不予/);
    assert.match(text, /家庭人均收入高于当地低保标准/);
    assert.match(text, /行政复议/);
    assert.match(text, /第\s*1\s*页\s*共\s*1\s*页/, 'the page number (pdftotext may drop the spaces)');
  });

  it('a case without a decision is 409 not_decided', async () => {
    const e = assertError(await notice(draft.id), 409, 'not_decided');
    assert.match(e.message, /尚未作出救助决定/);
    assertError(await notice(approved.id), 409, 'not_decided'); // 公示中
  });

  it('an approved case gets a 救助决定通知书 with the exact amount and the trace', async () => {
    await srv.stop({ keepDir: true });
    srv = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: '2025-10-08' } });
    await loginAll();
    await ok(await act(approved.id, 'approve'));
    const r = await notice(approved.id);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.headers['content-type'], 'application/pdf');
    assert.ok(r.headers['content-disposition'].includes(encodeURIComponent(`救助决定通知书-${approved.id}.pdf`)));
    assert.equal(r.buf.subarray(0, 5).toString('latin1'), '%PDF-');
    const text = pdfText(r.buf);
    assert.match(text, /救助决定通知书/);
    assert.match(text, /王决定/);
    assert.match(text, /845\.00 元/);
    assert.match(text, /月救助金额 845\.00 元/, 'the trace\'s result line');
    assert.match(text, /适用标准 1045\.00 元/, 'the trace\'s standard line');
    assert.match(text, /最低生活保障/);
    assert.match(text, /已审批/);
    assert.match(text, /天津市和平区民政局/);
  });

  it('scope: another street gets 404, the case\'s street 200; no permission is 403; bad id 400', async () => {
    assertError(await notice(approved.id, users.other_street), 404, 'not_found');
    assertError(await notice(refused.id, users.other_street), 404, 'not_found');
    const r = await notice(approved.id, users.street);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.headers['content-type'], 'application/pdf');
    assert.equal((await notice(approved.id, users.nobody)).status, 403);
    assertError(await notice(999999), 404, 'not_found');
    assertError(await srv.api('GET', `${CASES}/abc/notice.pdf`), 400, 'bad_id');
  });
});
