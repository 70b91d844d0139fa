// hall.test.mjs - the citizen service hall (src/modules/hall/): the public
// divisions and matters, online applications (validation with every field
// error, ownership, staff scope, accept into a real assistance case, return
// with a reason, duplicates), progress tracking (timeline without internal
// notes, the public look-up and its rate limit), booking slots and bookings
// (weekends, closed days, past slots, double bookings, cancel, the race for
// the last place). Every refused write is checked to have written nothing.
// Reference: docs/portal.md.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, assertFieldErrors, show, makeIdNumber, withBadIdCheck, makePhone, TEST_PASSWORD } from './lib.mjs';

const CITIZEN_PASSWORD = 'Citizen-Pa55-津门';
let srv;
const D = {};
const staff = {};
let seq = 100;

async function ok(res, status = 200) {
  assert.equal(res.status, status, show(res));
  return res.json;
}

/** A registered, logged-in citizen: {api, id_number, name, phone}. */
async function citizen(name = '赵市民') {
  const id_number = makeIdNumber({ birth: '19700315', seq: seq++, area: '120101' });
  const phone = makePhone();
  const r = await srv.api('POST', '/api/v1/public/register', { id_number, name, phone, password: CITIZEN_PASSWORD }, { anonymous: true });
  assert.equal(r.status, 201, show(r));
  const { api } = await srv.login(r.json.username, CITIZEN_PASSWORD, { mode: 'bearer' });
  return { api, id_number, name, phone };
}

function application(c, over = {}) {
  return {
    matter: 'dibao',
    applicant_name: c.name,
    id_number: c.id_number,
    phone: c.phone,
    division: D.comm,
    address: '和平区某路 1 号 2 门 301',
    members: [
      { name: c.name, id_number: c.id_number, relation: 'self', monthly_income_fen: 80000 },
      { name: '赵小明', id_number: makeIdNumber({ birth: '20120601', seq: seq++, area: '120101' }), relation: 'child', monthly_income_fen: 0 },
    ],
    reason: '本人失业，孩子上学，家庭收入低于低保标准。',
    ...over,
  };
}

/** Shanghai "today" and weekday dates ahead. */
function shanghaiDate(offsetDays = 0) {
  return new Date(Date.now() + 8 * 3600e3 + offsetDays * 86400e3).toISOString().slice(0, 10);
}
function weekdayAhead(n) {
  // the n-th Monday..Friday after today (n >= 1)
  let d = 0;
  for (let found = 0; found < n;) {
    d++;
    const day = new Date(shanghaiDate(d) + 'T00:00:00Z').getUTCDay();
    if (day !== 0 && day !== 6) found++;
  }
  return shanghaiDate(d);
}
function weekendAhead() {
  for (let d = 1; ; d++) {
    const day = new Date(shanghaiDate(d) + 'T00:00:00Z').getUTCDay();
    if (day === 0 || day === 6) return shanghaiDate(d);
  }
}

const count = async (entity) => (await ok(await srv.api('GET', `/api/v1/${entity}?size=1`))).total;

before(async () => {
  srv = await startServer({ env: { MZ_TRACK_PER_MINUTE: '6' } });
  const streets = (await ok(await srv.api('GET', '/api/v1/divisions?parent=120101'))).items;
  D.street = streets[0].code;
  D.street2 = streets[1].code;
  D.comm = (await ok(await srv.api('GET', `/api/v1/divisions?parent=${D.street}`))).items[0].code;
  const roles = { street: ['street_officer', D.street], other_street: ['street_officer', D.street2], comm: ['community_worker', D.comm] };
  for (const [name, [role, scope]] of Object.entries(roles)) {
    srv.addUser(name, { roles: role, scope });
    staff[name] = (await srv.login(name, TEST_PASSWORD, { mode: 'bearer' })).api;
  }
});
after(async () => {
  await srv?.stop();
});

describe('public divisions and matters', () => {
  it('lists the children of a division without login, public fields only, cacheable', async () => {
    const r = await srv.api('GET', '/api/v1/public/divisions?parent=120000', undefined, { anonymous: true });
    const body = await ok(r);
    assert.match(r.headers['cache-control'], /public, max-age=\d+/);
    const heping = body.items.find((d) => d.code === '120101');
    assert.deepEqual(heping, { code: '120101', name: '和平区', level: 3, has_children: true });
    for (const d of body.items) assert.deepEqual(Object.keys(d).sort(), ['code', 'has_children', 'level', 'name']);
    const streets = await ok(await srv.api('GET', '/api/v1/public/divisions?parent=120101', undefined, { anonymous: true }));
    assert.ok(streets.items.some((s) => s.code === D.street && s.level === 4 && s.has_children));
    const comms = await ok(await srv.api('GET', `/api/v1/public/divisions?parent=${D.street}`, undefined, { anonymous: true }));
    assert.ok(comms.items.every((c) => c.level === 5 && c.has_children === false));
    assertError(await srv.api('GET', '/api/v1/public/divisions?parent=99x', undefined, { anonymous: true }), 400, 'bad_filter', { field: 'parent' });
    assertError(await srv.api('GET', `/api/v1/public/divisions?parent=${D.comm}`, undefined, { anonymous: true }), 400, 'bad_filter');
  });

  it('lists the matters with whether they are open online (data, staff maintain it)', async () => {
    const m = (await ok(await srv.api('GET', '/api/v1/public/hall/matters', undefined, { anonymous: true }))).items;
    const by = Object.fromEntries(m.map((x) => [x.code, x]));
    assert.equal(by.dibao.online, true);
    assert.equal(by.dibao.program, 'dibao');
    assert.equal(by.temporary.online, false, '临时救助 is registered at the window');
    assert.equal(by.tekun.online, false);
    assert.equal(by.assistance_window.kind, 'booking');
  });
});

describe('online applications', () => {
  let a, b, appA;

  before(async () => {
    a = await citizen('钱市民');
    b = await citizen('孙市民');
  });

  it('422 with every field error, in Chinese, and nothing written', async () => {
    const before = await count('hall_applications');
    // The declared fields first (every error at once), then the members and
    // the community (every error at once): the engine runs the module's
    // checks once the declared fields are valid.
    assertFieldErrors(await a.api('POST', '/api/v1/hall_applications', application(a, { reason: '', phone: '123', extra: 1, members: undefined })), [
      ['reason', 'required'], ['phone', 'invalid_phone'], ['extra', 'unknown_field'], ['members', 'required'],
    ]);
    const bad = application(a, {
      division: D.street,
      members: [
        { name: '', id_number: withBadIdCheck(makeIdNumber({ birth: '19800101', seq: 7 })), relation: 'cousin', monthly_income_fen: -5 },
        { name: '某', id_number: makeIdNumber({ birth: '19800101', seq: 8 }), relation: 'child', monthly_income_fen: '100', age: 3 },
      ],
    });
    const err = assertFieldErrors(await a.api('POST', '/api/v1/hall_applications', bad), [
      ['division', 'invalid_division'],
      ['members[0].name', 'required'], ['members[0].id_number', 'invalid_id_number'], ['members[0].relation', 'not_in_dictionary'],
      ['members[0].monthly_income_fen', 'out_of_range'], ['members[1].monthly_income_fen', 'type'], ['members[1].age', 'unknown_field'],
    ]);
    assert.ok(err.errors.find((e) => e.field === 'members[0].id_number').message.length > 0);
    assertFieldErrors(await a.api('POST', '/api/v1/hall_applications', application(a, { matter: 'tekun' })), [['matter', 'not_open']]);
    const noSelf = application(a);
    noSelf.members[0].relation = 'spouse';
    assertFieldErrors(await a.api('POST', '/api/v1/hall_applications', noSelf), [['members', 'self_required']]);
    const otherSelf = application(a);
    otherSelf.members[0].id_number = makeIdNumber({ birth: '19810101', seq: 9 });
    assertFieldErrors(await a.api('POST', '/api/v1/hall_applications', otherSelf), [['members[0].id_number', 'not_applicant']]);
    assert.equal(await count('hall_applications'), before);
  });

  it('a citizen applies; the row is theirs, ID numbers masked, numbered', async () => {
    appA = await ok(await a.api('POST', '/api/v1/hall_applications', application(a)), 201);
    assert.match(appA.application_no, /^WS\d{14}$/);
    assert.equal(appA.state, 'submitted');
    assert.equal(appA.program, 'dibao');
    assert.notEqual(appA.id_number, a.id_number, 'masked for the citizen');
    assert.ok(!JSON.stringify(appA).includes(a.id_number), 'no clear ID number in the reply');
    assert.equal(appA.members_summary.length, 2);
    assert.deepEqual(appA.members_summary.map((m) => [m.relation, m.sex, m.monthly_income_fen]), [['self', a.id_number[16] % 2 ? '1' : '2', 80000], ['child', appA.members_summary[1].sex, 0]]);
    assert.match(appA.members_summary[0].id_number, /^\d{6}\*{8}\d{3}[\dX]$/);
    const mine = await ok(await a.api('GET', '/api/v1/hall_applications'));
    assert.deepEqual(mine.items.map((x) => x.id), [appA.id]);
  });

  it('another citizen sees nothing of it; staff may not apply in a citizen\'s name', async () => {
    assertError(await b.api('GET', `/api/v1/hall_applications/${appA.id}`), 404);
    assertError(await b.api('GET', `/api/v1/hall_applications/${appA.id}/timeline`), 404);
    assert.equal((await ok(await b.api('GET', '/api/v1/hall_applications'))).total, 0);
    assertError(await b.api('POST', `/api/v1/hall_applications/${appA.id}/actions/accept`, {}), [403, 404]);
    const before = await count('hall_applications');
    assertError(await staff.street('POST', '/api/v1/hall_applications', application(b)), 403, 'forbidden');
    assertError(await a.api('PATCH', `/api/v1/hall_applications/${appA.id}`, { reason: '改一改理由内容' }), 403);
    assert.equal(await count('hall_applications'), before);
  });

  it('a citizen writes only to the entities made for citizens: not cases, persons or rules', async () => {
    const cases = await count('assistance_cases');
    assertError(await a.api('POST', '/api/v1/assistance_cases', { program: 'dibao', division: D.community, members: [] }), 403, 'forbidden');
    assertError(await a.api('POST', '/api/v1/persons', { name: '冒名', id_number: makeIdNumber({ birth: '19700101', seq: 11 }) }), 403, 'forbidden');
    assertError(await a.api('POST', '/api/v1/assistance_standards', { program: 'dibao', division: '120000000000', valid_from: '2030-01-01', amount_fen: 1 }), 403, 'forbidden');
    assert.equal(await count('assistance_cases'), cases);
  });

  it('a second open application for the same program is 409; nothing written', async () => {
    const before = await count('hall_applications');
    assertError(await a.api('POST', '/api/v1/hall_applications', application(a)), 409, 'duplicate_application');
    assert.equal(await count('hall_applications'), before);
  });

  it('staff of another street do not see it; the street officer of its area does', async () => {
    assertError(await staff.other_street('GET', `/api/v1/hall_applications/${appA.id}`), 404);
    assertError(await staff.other_street('POST', `/api/v1/hall_applications/${appA.id}/actions/accept`, {}), 404);
    const list = await ok(await staff.street('GET', '/api/v1/hall_applications?state=submitted'));
    assert.ok(list.items.some((x) => x.id === appA.id));
    assertError(await staff.comm('POST', `/api/v1/hall_applications/${appA.id}/actions/accept`, {}), 403);
  });

  it('accepting creates a real assistance case at 已受理 with the members from the registry', async () => {
    const persons0 = await count('persons');
    const acc = await ok(await staff.street('POST', `/api/v1/hall_applications/${appA.id}/actions/accept`, { comment: '材料齐全' }));
    assert.equal(acc.state, 'accepted');
    assert.ok(acc.case_id > 0);
    const c = await ok(await staff.street('GET', `/api/v1/assistance_cases/${acc.case_id}`));
    assert.equal(c.state, 'accepted');
    assert.equal(c.program, 'dibao');
    assert.equal(c.division, D.comm.padEnd(12, '0'));
    assert.equal(c.member_count, 2);
    assert.deepEqual(c.members.map((m) => m.monthly_income_fen), [80000, 0]);
    assert.equal(await count('persons'), persons0 + 2, 'both members added to the registry');
    assert.ok(c.reason.includes(appA.application_no));
    // already accepted: no second accept
    assertError(await staff.street('POST', `/api/v1/hall_applications/${appA.id}/actions/accept`, {}), 409, 'illegal_transition');
  });

  it('the citizen sees the new status and the case steps, never internal notes', async () => {
    const caseId = (await ok(await a.api('GET', `/api/v1/hall_applications/${appA.id}`))).case_id;
    await ok(await staff.comm('POST', `/api/v1/assistance_cases/${caseId}/actions/investigate`, { comment: '内部备注：邻居反映情况XYZ' }));
    const t = await ok(await a.api('GET', `/api/v1/hall_applications/${appA.id}/timeline`));
    assert.equal(t.state, 'accepted');
    assert.equal(t.case_state, 'investigated');
    assert.deepEqual(t.steps.map((s) => s.action), ['submit', 'accept', 'investigate']);
    assert.equal(t.steps[2].action_zh, '入户调查');
    assert.ok(!JSON.stringify(t).includes('XYZ'), 'internal comment not shown');
    assert.ok(!JSON.stringify(t).includes(a.id_number));
  });

  it('once in an open case, the same household cannot apply again (409)', async () => {
    assertError(await a.api('POST', '/api/v1/hall_applications', application(a)), 409, 'duplicate_application');
  });

  it('returning needs a written reason; the citizen sees it', async () => {
    const appB = await ok(await b.api('POST', '/api/v1/hall_applications', application(b)), 201);
    assert.equal(appB.program, 'dibao');
    const err = assertError(await staff.street('POST', `/api/v1/hall_applications/${appB.id}/actions/send_back`, {}), 422, 'validation_failed');
    assert.equal(err.field, 'comment');
    assert.equal((await ok(await b.api('GET', `/api/v1/hall_applications/${appB.id}`))).state, 'submitted');
    await ok(await staff.street('POST', `/api/v1/hall_applications/${appB.id}/actions/send_back`, { comment: '请补充医院诊断证明后重新申请' }));
    const t = await ok(await b.api('GET', `/api/v1/hall_applications/${appB.id}/timeline`));
    assert.equal(t.state, 'returned');
    assert.equal(t.return_reason, '请补充医院诊断证明后重新申请');
    assert.equal(t.steps.at(-1).reason, '请补充医院诊断证明后重新申请');
    // returned is not open: a new application is allowed, and accepted
    const again = await ok(await b.api('POST', '/api/v1/hall_applications', application(b)), 201);
    const acc = await ok(await staff.street('POST', `/api/v1/hall_applications/${again.id}/actions/accept`, {}));
    assert.equal(acc.state, 'accepted');
    assert.equal((await ok(await srv.api('GET', `/api/v1/assistance_cases/${acc.case_id}`))).program, 'dibao');
  });

  it('the applicant withdraws an application not yet accepted; staff cannot, and it is then closed', async () => {
    const c = await citizen('钱撤回');
    const app = await ok(await c.api('POST', '/api/v1/hall_applications', application(c)), 201);
    // staff return instead: a city officer holding every permission is refused by the guard
    assertError(await srv.api('POST', `/api/v1/hall_applications/${app.id}/actions/withdraw`, {}), 403, 'applicant_only');
    assertError(await staff.street('POST', `/api/v1/hall_applications/${app.id}/actions/withdraw`, {}), 403);
    // another citizen does not see it
    assertError(await b.api('POST', `/api/v1/hall_applications/${app.id}/actions/withdraw`, {}), 404);
    assert.equal((await ok(await c.api('GET', `/api/v1/hall_applications/${app.id}`))).state, 'submitted');
    const w = await ok(await c.api('POST', `/api/v1/hall_applications/${app.id}/actions/withdraw`, { version: app.version, comment: '家庭情况好转，暂不申请' }));
    assert.equal(w.state, 'withdrawn');
    assertError(await c.api('POST', `/api/v1/hall_applications/${app.id}/actions/withdraw`, {}), 409, 'illegal_transition');
    assertError(await staff.street('POST', `/api/v1/hall_applications/${app.id}/actions/accept`, {}), 409, 'illegal_transition');
    const t = await ok(await c.api('GET', `/api/v1/hall_applications/${app.id}/timeline`));
    assert.equal(t.state, 'withdrawn');
    assert.equal(t.state_zh, '已撤回');
    assert.deepEqual(t.steps.map((s) => s.action), ['submit', 'withdraw']);
    // a withdrawn application is not open: the citizen may apply again
    const again = await ok(await c.api('POST', '/api/v1/hall_applications', application(c)), 201);
    assert.equal(again.state, 'submitted');
    // an accepted application can no longer be withdrawn
    const acc = await ok(await staff.street('POST', `/api/v1/hall_applications/${again.id}/actions/accept`, {}));
    assert.equal(acc.state, 'accepted');
    assertError(await c.api('POST', `/api/v1/hall_applications/${again.id}/actions/withdraw`, {}), 409, 'illegal_transition');
  });

  it('the applicant uploads scans to an application until it is accepted; staff read them; nobody else can', async () => {
    const c = await citizen('李补材料');
    const app = await ok(await c.api('POST', '/api/v1/hall_applications', application(c)), 201);
    const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
    const up = (api, id, buf = PDF, kind = 'authorization', filename = '核对授权书.pdf') =>
      api('POST', `/api/v1/hall_applications/${id}/attachments?${new URLSearchParams({ kind, filename })}`, buf, { raw: true, headers: { 'Content-Type': 'application/octet-stream' } });
    const first = await ok(await up(c.api, app.id), 201);
    assert.equal(first.kind_zh, '授权书');
    assert.equal(first.size, PDF.length);
    // validation is the store's: content decides the type
    assertError(await up(c.api, app.id, Buffer.from('MZ\x90\x00 not a scan'), 'identity', 'id.pdf'), 415, 'unsupported_type');
    // another citizen neither sees nor uploads to it
    assertError(await up(b.api, app.id), 404);
    assertError(await b.api('GET', `/api/v1/hall_applications/${app.id}/attachments`), 404);
    // the applicant lists and downloads it, but cannot delete (staff delete with a reason)
    const mine = await ok(await c.api('GET', `/api/v1/hall_applications/${app.id}/attachments`));
    assert.deepEqual(mine.items.map((a) => a.filename), ['核对授权书.pdf']);
    assertError(await c.api('DELETE', `/api/v1/hall_applications/${app.id}/attachments/${first.id}?reason=x`), 403);
    // the street officer reads the same bytes
    const dl = await staff.street('GET', `/api/v1/hall_applications/${app.id}/attachments/${first.id}`);
    assert.equal(dl.status, 200);
    assert.ok(dl.buf.equals(PDF));
    // once accepted the applicant can add nothing more (409) and nothing was written
    await ok(await staff.street('POST', `/api/v1/hall_applications/${app.id}/actions/accept`, {}));
    assertError(await up(c.api, app.id), 409, 'attachments_closed');
    assert.equal((await ok(await c.api('GET', `/api/v1/hall_applications/${app.id}/attachments`))).items.length, 1);
    // a citizen cannot attach to staff entities (cases are not made for citizens)
    const caseId = (await ok(await c.api('GET', `/api/v1/hall_applications/${app.id}`))).case_id;
    assert.ok(caseId > 0);
    assertError(await c.api('POST', `/api/v1/assistance_cases/${caseId}/attachments?kind=authorization&filename=a.pdf`, PDF, { raw: true, headers: { 'Content-Type': 'application/octet-stream' } }), [403, 404]);
  });

  it('临时救助 is not applied for online: one-off aid is registered at the window', async () => {
    const before = await count('hall_applications');
    assertFieldErrors(await b.api('POST', '/api/v1/hall_applications', application(b, { matter: 'temporary' })), [['matter', 'not_open']]);
    // Staff cannot open it either while acceptance cannot turn it into its case.
    const m = (await ok(await srv.api('GET', '/api/v1/hall_matters?code=temporary'))).items[0];
    assertFieldErrors(await srv.api('PATCH', `/api/v1/hall_matters/${m.id}`, { version: m.version, online: true }), [['online', 'not_online_program']]);
    assert.equal(await count('hall_applications'), before);
  });

  it('public look-up by number and ID number, one answer for any mismatch, rate-limited', async () => {
    const track = (body) => srv.api('POST', '/api/v1/public/hall/track', body, { anonymous: true });
    const t = await ok(await track({ application_no: appA.application_no, id_number: a.id_number }));
    assert.equal(t.application_no, appA.application_no);
    assert.equal(t.state, 'accepted');
    const wrongId = await track({ application_no: appA.application_no, id_number: b.id_number });
    assertError(wrongId, 404, 'not_found');
    const wrongNo = await track({ application_no: 'WS20000101000000', id_number: a.id_number });
    assert.equal(wrongNo.json.error.message, wrongId.json.error.message);
    assertFieldErrors(await track({ application_no: '', id_number: withBadIdCheck(a.id_number) }), [['application_no', 'required'], ['id_number', 'invalid_id_number']]);
    let limited;
    for (let i = 0; i < 8 && !limited; i++) {
      const r = await track({ application_no: appA.application_no, id_number: a.id_number });
      if (r.status === 429) limited = r;
    }
    assert.ok(limited, 'rate limit reached');
    assertError(limited, 429, 'rate_limited');
    assert.equal(limited.headers['retry-after'], '60');
  });
});

describe('booking', () => {
  let c1, c2, c3, slot, lastPlace;
  const day = weekdayAhead(2);

  before(async () => {
    c1 = await citizen('周市民');
    c2 = await citizen('吴市民');
    c3 = await citizen('郑市民');
  });

  const newSlot = (over = {}) => ({ division: D.street, slot_date: day, start_time: '09:00', end_time: '10:00', capacity: 2, ...over });

  it('staff maintain slots; citizens may not; weekends and closed days refused', async () => {
    const before = await count('hall_slots');
    assertError(await c1.api('POST', '/api/v1/hall_slots', newSlot()), 403);
    assertFieldErrors(await staff.street('POST', '/api/v1/hall_slots', newSlot({ slot_date: weekendAhead() })), [['slot_date', 'weekend']]);
    assertFieldErrors(await staff.street('POST', '/api/v1/hall_slots', newSlot({ start_time: '10:00', end_time: '09:30' })), [['end_time', 'out_of_range']]);
    assertFieldErrors(await staff.street('POST', '/api/v1/hall_slots', newSlot({ division: D.comm })), [['division', 'invalid_division']]);
    assert.equal(await count('hall_slots'), before);
    slot = await ok(await staff.street('POST', '/api/v1/hall_slots', newSlot()), 201);
    assert.equal(slot.booked, 0);
    assertError(await staff.street('POST', '/api/v1/hall_slots', newSlot()), 409, 'duplicate', { field: 'start_time' });
    assertError(await staff.other_street('POST', '/api/v1/hall_slots', newSlot({ start_time: '11:00', end_time: '12:00' })), [403, 422]);
    const weekend = await ok(await staff.street('POST', '/api/v1/hall_slots', newSlot({ slot_date: weekendAhead(), workday: true })), 201);
    assert.equal(weekend.workday, true);
    const closedDay = weekdayAhead(3);
    await ok(await srv.api('POST', '/api/v1/hall_closed_days', { closed_on: closedDay, division: '120000', reason: '法定节假日（测试）' }), 201);
    assertFieldErrors(await staff.street('POST', '/api/v1/hall_slots', newSlot({ slot_date: closedDay })), [['slot_date', 'closed_day']]);
  });

  it('the public slot list shows places left', async () => {
    const r = await ok(await srv.api('GET', `/api/v1/public/hall/slots?division=${D.street}&matter=assistance_window`, undefined, { anonymous: true }));
    const s = r.items.find((x) => x.id === slot.id);
    assert.deepEqual([s.slot_date, s.start_time, s.end_time, s.capacity, s.remaining], [day, '09:00', '10:00', 2, 2]);
    assertError(await srv.api('GET', '/api/v1/public/hall/slots?division=120101', undefined, { anonymous: true }), 400, 'bad_filter');
  });

  it('a citizen books; a second booking that day is 409; past slots and closed matters 422', async () => {
    const b = await ok(await c1.api('POST', '/api/v1/hall_bookings', { slot_id: slot.id, matter: 'assistance_window' }), 201);
    assert.equal(b.state, 'booked');
    assert.equal(b.slot_date, day);
    assert.equal(b.citizen_name, '周市民');
    assert.match(b.booking_no, /^YY\d{14}$/);
    assert.equal((await ok(await srv.api('GET', `/api/v1/hall_slots/${slot.id}`))).booked, 1);
    const before = await count('hall_bookings');
    assertError(await c1.api('POST', '/api/v1/hall_bookings', { slot_id: slot.id, matter: 'assistance_window' }), 409, 'duplicate_booking');
    assertFieldErrors(await c2.api('POST', '/api/v1/hall_bookings', { slot_id: slot.id, matter: 'marriage' }), [['matter', 'not_open']]);
    assertFieldErrors(await c2.api('POST', '/api/v1/hall_bookings', { slot_id: 999999, matter: 'assistance_window' }), [['slot_id', 'no_such_reference']]);
    const yesterday = shanghaiDate(-1);
    const past = await ok(await staff.street('POST', '/api/v1/hall_slots', newSlot({ slot_date: yesterday, workday: true })), 201);
    assertFieldErrors(await c2.api('POST', '/api/v1/hall_bookings', { slot_id: past.id, matter: 'assistance_window' }), [['slot_id', 'slot_past']]);
    assertError(await staff.street('POST', '/api/v1/hall_bookings', { slot_id: slot.id, matter: 'assistance_window' }), 403);
    assert.equal(await count('hall_bookings'), before);
    assert.equal((await ok(await srv.api('GET', `/api/v1/hall_slots/${slot.id}`))).booked, 1);
    lastPlace = slot;
  });

  it('two citizens race for the last place: exactly one wins', async () => {
    const [r2, r3] = await Promise.all([
      c2.api('POST', '/api/v1/hall_bookings', { slot_id: lastPlace.id, matter: 'assistance_window' }),
      c3.api('POST', '/api/v1/hall_bookings', { slot_id: lastPlace.id, matter: 'assistance_window' }),
    ]);
    const statuses = [r2.status, r3.status].sort();
    assert.deepEqual(statuses, [201, 409], `${show(r2)} / ${show(r3)}`);
    assertError([r2, r3].find((r) => r.status === 409), 409, 'slot_full');
    assert.equal((await ok(await srv.api('GET', `/api/v1/hall_slots/${lastPlace.id}`))).booked, 2);
    assert.equal((await ok(await srv.api('GET', `/api/v1/hall_bookings?slot_id=${lastPlace.id}&state=booked`))).total, 2);
  });

  it('staff see the day\'s bookings of their area only; a citizen cancels, the place returns', async () => {
    const mine = await ok(await staff.street('GET', `/api/v1/hall_bookings?slot_date=${day}`));
    assert.equal(mine.total, 2);
    assert.equal((await ok(await staff.other_street('GET', `/api/v1/hall_bookings?slot_date=${day}`))).total, 0);
    const b1 = (await ok(await c1.api('GET', '/api/v1/hall_bookings'))).items[0];
    assertError(await c2.api('POST', `/api/v1/hall_bookings/${b1.id}/actions/cancel`, {}), 404);
    assertError(await staff.street('POST', `/api/v1/hall_bookings/${b1.id}/actions/cancel`, {}), 403);
    const cancelled = await ok(await c1.api('POST', `/api/v1/hall_bookings/${b1.id}/actions/cancel`, {}));
    assert.equal(cancelled.state, 'cancelled');
    assert.equal((await ok(await srv.api('GET', `/api/v1/hall_slots/${lastPlace.id}`))).booked, 1);
    assertError(await c1.api('POST', `/api/v1/hall_bookings/${b1.id}/actions/cancel`, {}), 409, 'illegal_transition');
    // the place is free again, and c1 may book again that day
    await ok(await c1.api('POST', '/api/v1/hall_bookings', { slot_id: lastPlace.id, matter: 'assistance_window' }), 201);
    // staff record a visit as served; a citizen cannot
    const other = (await ok(await staff.street('GET', `/api/v1/hall_bookings?slot_date=${day}&state=booked`))).items[0];
    assertError(await c1.api('POST', `/api/v1/hall_bookings/${other.id}/actions/accept`, {}), [403, 404]);
    assert.equal((await ok(await staff.street('POST', `/api/v1/hall_bookings/${other.id}/actions/accept`, {}))).state, 'served');
  });

  it('a slot with bookings cannot be deleted nor shrunk below them', async () => {
    const s = await ok(await srv.api('GET', `/api/v1/hall_slots/${lastPlace.id}`));
    assertError(await staff.street('DELETE', `/api/v1/hall_slots/${s.id}`), 403, 'forbidden');
    assertError(await srv.api('DELETE', `/api/v1/hall_slots/${s.id}?version=${s.version}`), 409, 'slot_in_use');
    assert.equal((await ok(await srv.api('GET', `/api/v1/hall_slots/${s.id}`))).booked, 2);
    assertFieldErrors(await staff.street('PATCH', `/api/v1/hall_slots/${s.id}`, { capacity: 1, version: s.version }), [['capacity', 'below_booked']]);
  });

  it('slots generated in bulk: weekdays only, closed days and existing slots skipped, dry run first, all or nothing', async () => {
    const GEN = '/api/v1/hall_slots/generate';
    const from = weekdayAhead(1), to = weekdayAhead(5); // five weekdays; day 2 has a 09:00 slot, day 3 is closed
    const body = { division: D.street, from, to, times: [{ start_time: '09:00', end_time: '10:00', capacity: 3 }, { start_time: '14:00', end_time: '15:00', capacity: 3 }], matter: 'assistance_window' };
    const before = await count('hall_slots');
    const dry = await ok(await staff.street('POST', GEN, { ...body, dry_run: true }));
    assert.deepEqual([dry.days, dry.created, dry.skipped_closed, dry.skipped_existing, dry.dry_run], [5, 7, 2, 1, true]);
    assert.equal(await count('hall_slots'), before, 'a dry run writes nothing');
    // every error at once, under its field
    assertFieldErrors(await staff.street('POST', GEN, { division: D.comm, from: shanghaiDate(-1), to: 'x', weekdays: [6], times: [{ start_time: '9:00', end_time: '08:00', capacity: 0 }] }),
      [['division', 'invalid_division'], ['from', 'out_of_range'], ['to', 'invalid_date'], ['weekdays', 'out_of_range'], ['times[0].start_time', 'pattern'], ['times[0].capacity', 'out_of_range']]);
    assertFieldErrors(await staff.street('POST', GEN, { ...body, to: shanghaiDate(120) }), [['to', 'out_of_range']]);
    assertFieldErrors(await staff.street('POST', GEN, { ...body, times: [body.times[0], body.times[0]] }), [['times[1].start_time', 'duplicate']]);
    assertFieldErrors(await staff.street('POST', GEN, { ...body, matter: 'marriage' }), [['matter', 'not_open']]);
    assertFieldErrors(await staff.street('POST', GEN, { ...body, note: 7, dry_run: 'yes' }), [['note', 'type'], ['dry_run', 'type']]);
    // not for other streets, nor for citizens
    assertError(await staff.other_street('POST', GEN, body), 404);
    assertError(await c1.api('POST', GEN, body), 403);
    assert.equal(await count('hall_slots'), before);
    const made = await ok(await staff.street('POST', GEN, body), 201);
    assert.deepEqual([made.created, made.skipped_closed, made.skipped_existing, made.first_date, made.last_date], [7, 2, 1, from, to]);
    assert.equal(await count('hall_slots'), before + 7);
    const onDay = await ok(await staff.street('GET', `/api/v1/hall_slots?slot_date=${from}&sort=start_time`));
    assert.deepEqual(onDay.items.map((x) => [x.start_time, x.end_time, x.capacity, x.matter]), [['09:00', '10:00', 3, 'assistance_window'], ['14:00', '15:00', 3, 'assistance_window']]);
    // each slot has its history like a hand-made one
    const h = await ok(await staff.street('GET', `/api/v1/hall_slots/${onDay.items[0].id}/history`));
    assert.equal(h.items[0].action, 'create');
    // again: everything exists now
    const again = await ok(await staff.street('POST', GEN, body), 201);
    assert.deepEqual([again.created, again.skipped_existing], [0, 8]);
  });
});
