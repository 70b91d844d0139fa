// workflow.test.mjs - workflow actions on sample_cases:
//   draft -submit-> submitted -accept-> accepted -approve-> approved (final)
//   accepted -send_back-> draft (comment required)
//   any non-final -reject-> rejected (final, comment required)
// approve has a guard (amount_fen > 5000000 -> 422 over_limit) and an effect
// (decided_by := the actor). Reference: docs/api.md ("Workflows"),
// tests/sample/sample_module.c.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError, assertInstant, createCase, snapshot, assertUnchanged, show } from './lib.mjs';

const CASES = '/api/v1/sample_cases';
let srv;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

/** POST an action; returns the response. */
const act = (id, action, body = {}) => srv.api('POST', `${CASES}/${id}/actions/${action}`, body);

/** POST an action that must succeed; returns the row. */
async function actOk(id, action, body = {}) {
  const r = await act(id, action, body);
  assert.equal(r.status, 200, `${action}; ${show(r)}`);
  return r.json;
}

/** The actions offered now, as names. */
async function actions(id) {
  const r = await srv.api('GET', `${CASES}/${id}/actions`);
  assert.equal(r.status, 200, show(r));
  return r.json;
}
const names = (a) => a.actions.map((x) => x.action).sort();

describe('the legal path', () => {
  // submit -> accept -> approve; each reply is the row in its new state with
  // the version incremented (ASSUMPTION: every transition is a new version).
  it('submit, accept, approve: states and versions advance', async () => {
    const c = await createCase(srv, { title: '审批流程', amount_fen: 100000 });
    assert.equal(c.state, 'draft');
    const s = await actOk(c.id, 'submit', { comment: '请审核', version: 1 });
    assert.equal(s.state, 'submitted');
    assert.equal(s.version, 2);
    const a = await actOk(c.id, 'accept', { version: 2 });
    assert.equal(a.state, 'accepted');
    assert.equal(a.version, 3);
    const p = await actOk(c.id, 'approve', {});
    assert.equal(p.state, 'approved');
    assert.equal(p.version, 4);
    assert.equal(p.title, '审批流程', 'other fields unchanged');
    const g = await srv.api('GET', `${CASES}/${c.id}`);
    assert.equal(g.json.state, 'approved');
  });

  // Effect: approve writes the read-only decided_by with the actor.
  it('approve sets decided_by to the actor (effect)', async () => {
    const c = await createCase(srv);
    await actOk(c.id, 'submit');
    await actOk(c.id, 'accept');
    const p = await actOk(c.id, 'approve');
    assert.equal(typeof p.decided_by, 'string');
    assert.ok(p.decided_by.length > 0, 'decided_by set');
    const t = await srv.api('GET', `${CASES}/${c.id}/transitions`);
    assert.equal(p.decided_by, t.json.items.at(-1).actor, 'decided_by is the approving actor');
  });

  // /transitions and /history record every transition with actor, from, to, comment, at.
  it('records transitions in /transitions and /history', async () => {
    const c = await createCase(srv, { title: '记录流转' });
    await actOk(c.id, 'submit', { comment: '提交说明' });
    await actOk(c.id, 'accept');
    await actOk(c.id, 'send_back', { comment: '材料不全，退回补充' });

    const t = await srv.api('GET', `${CASES}/${c.id}/transitions`);
    assert.equal(t.status, 200, show(t));
    assert.deepEqual(
      t.json.items.map((i) => [i.from, i.action, i.to]),
      [['draft', 'submit', 'submitted'], ['submitted', 'accept', 'accepted'], ['accepted', 'send_back', 'draft']],
    );
    for (const i of t.json.items) {
      assert.equal(typeof i.actor, 'string');
      assertInstant(i.at, 'at');
    }
    assert.equal(t.json.items[0].comment, '提交说明');
    assert.equal(t.json.items[2].comment, '材料不全，退回补充');
    assert.ok(t.json.items[1].comment === null || t.json.items[1].comment === '', 'no comment given');

    const h = await srv.api('GET', `${CASES}/${c.id}/history`);
    assert.equal(h.status, 200, show(h));
    assert.deepEqual(h.json.items.map((i) => i.action), ['create', 'submit', 'accept', 'send_back']);
    assert.deepEqual(h.json.items.map((i) => i.version), [1, 2, 3, 4]);
    assert.equal(h.json.items[3].comment, '材料不全，退回补充');
    assert.deepEqual(h.json.items[1].changes.state, { from: 'draft', to: 'submitted' });

    const g = await srv.api('GET', `${CASES}/${c.id}`);
    assert.equal(g.json.state, 'draft', 'sent back to draft');
    await actOk(c.id, 'submit');
  });
});

describe('/actions', () => {
  // The actions allowed in each state, each with action, zh, en, to.
  it('lists the allowed actions per state; final states allow nothing', async () => {
    const c = await createCase(srv);
    let a = await actions(c.id);
    assert.equal(a.state, 'draft');
    assert.deepEqual(names(a), ['reject', 'submit']);
    const submit = a.actions.find((x) => x.action === 'submit');
    assert.deepEqual({ zh: submit.zh, en: submit.en, to: submit.to }, { zh: '提交', en: 'Submit', to: 'submitted' });

    await actOk(c.id, 'submit');
    a = await actions(c.id);
    assert.equal(a.state, 'submitted');
    assert.deepEqual(names(a), ['accept', 'reject']);

    await actOk(c.id, 'accept');
    a = await actions(c.id);
    assert.equal(a.state, 'accepted');
    assert.deepEqual(names(a), ['approve', 'reject', 'send_back']);
    assert.equal(a.actions.find((x) => x.action === 'send_back').to, 'draft');

    await actOk(c.id, 'approve');
    a = await actions(c.id);
    assert.equal(a.state, 'approved');
    assert.deepEqual(a.actions, []);
  });

  it('rejected is final too', async () => {
    const c = await createCase(srv);
    const r = await actOk(c.id, 'reject', { comment: '不符合条件' });
    assert.equal(r.state, 'rejected');
    assert.deepEqual((await actions(c.id)).actions, []);
    // Nothing is allowed from a final state, not even reject.
    const again = await act(c.id, 'reject', { comment: '再次' });
    const err = assertError(again, 409, 'illegal_transition');
    assert.deepEqual(err.allowed, []);
  });

  it('actions of a missing row are 404; a bad id is 400', async () => {
    assertError(await srv.api('GET', `${CASES}/999999999/actions`), 404, 'not_found');
    assertError(await srv.api('GET', `${CASES}/abc/actions`), 400, 'bad_id');
    assertError(await act(999999999, 'submit'), 404, 'not_found');
  });

  // Entities without a workflow have no actions.
  it('an entity without a workflow has no action routes', async () => {
    const c = await createCase(srv);
    const n = await srv.api('POST', '/api/v1/sample_notes', { case_id: c.id, body: '备注', division: '120101001001' });
    assert.equal(n.status, 201, show(n));
    const r = await srv.api('POST', `/api/v1/sample_notes/${n.json.id}/actions/submit`, {});
    assertError(r, [404, 405, 409]);
  });
});

describe('illegal and failing actions', () => {
  // approve from draft: 409 illegal_transition with the allowed actions; nothing changes.
  it('approve from draft is 409 illegal_transition with allowed [submit, reject]', async () => {
    const c = await createCase(srv);
    const snap = await snapshot(srv);
    const err = assertError(await act(c.id, 'approve'), 409, 'illegal_transition');
    assert.deepEqual([...err.allowed].sort(), ['reject', 'submit']);
    await assertUnchanged(srv, snap);
  });

  it('accept twice: the second is 409, allowed lists the accepted state\'s actions', async () => {
    const c = await createCase(srv);
    await actOk(c.id, 'submit');
    await actOk(c.id, 'accept');
    const err = assertError(await act(c.id, 'accept'), 409, 'illegal_transition');
    assert.deepEqual([...err.allowed].sort(), ['approve', 'reject', 'send_back']);
  });

  // An action the workflow does not define: 409 or 404, with the error shape.
  it('an unknown action is 409 or 404', async () => {
    const c = await createCase(srv);
    const snap = await snapshot(srv);
    assertError(await act(c.id, 'fly'), [404, 409], ['not_found', 'illegal_transition']);
    assertError(await act(c.id, 'SUBMIT'), [404, 409], ['not_found', 'illegal_transition']);
    await assertUnchanged(srv, snap);
  });

  // send_back and reject need a comment: 422 on field comment.
  for (const [label, body] of [['no comment', {}], ['an empty comment', { comment: '' }], ['a blank comment', { comment: '   ' }]]) {
    it(`send_back with ${label} is 422 on field comment, state unchanged`, async () => {
      const c = await createCase(srv);
      await actOk(c.id, 'submit');
      await actOk(c.id, 'accept');
      const snap = await snapshot(srv);
      const r = await act(c.id, 'send_back', body);
      assertError(r, 422, undefined, { field: 'comment' });
      await assertUnchanged(srv, snap);
      assert.equal((await srv.api('GET', `${CASES}/${c.id}`)).json.state, 'accepted');
    });
  }
  it('reject without a comment is 422 on field comment', async () => {
    const c = await createCase(srv);
    const snap = await snapshot(srv);
    assertError(await act(c.id, 'reject', {}), 422, undefined, { field: 'comment' });
    await assertUnchanged(srv, snap);
  });

  // The guard: approve above 5,000,000 fen is 422 over_limit on amount_fen; state stays accepted.
  it('approve over the limit is 422 over_limit; state and version unchanged', async () => {
    const c = await createCase(srv, { amount_fen: 5000001 });
    await actOk(c.id, 'submit');
    const acc = await actOk(c.id, 'accept');
    const snap = await snapshot(srv);
    assertError(await act(c.id, 'approve', { version: acc.version }), 422, 'over_limit', { field: 'amount_fen' });
    await assertUnchanged(srv, snap);
    const g = await srv.api('GET', `${CASES}/${c.id}`);
    assert.equal(g.json.state, 'accepted');
    assert.equal(g.json.decided_by, null, 'the effect did not run');
    const t = await srv.api('GET', `${CASES}/${c.id}/transitions`);
    assert.equal(t.json.items.length, 2, 'the failed approve is not recorded');
  });

  it('approve exactly at the limit is allowed', async () => {
    const c = await createCase(srv, { amount_fen: 5000000 });
    await actOk(c.id, 'submit');
    await actOk(c.id, 'accept');
    assert.equal((await actOk(c.id, 'approve')).state, 'approved');
  });

  // Lowering the amount (a PATCH) then approving works: the guard sees the current row.
  it('after lowering the amount, approve passes the guard', async () => {
    const c = await createCase(srv, { amount_fen: 9000000 });
    await actOk(c.id, 'submit');
    const acc = await actOk(c.id, 'accept');
    const p = await srv.api('PATCH', `${CASES}/${c.id}`, { version: acc.version, amount_fen: 4000000 });
    assert.equal(p.status, 200, show(p));
    assert.equal((await actOk(c.id, 'approve', { version: p.json.version })).state, 'approved');
  });

  // A stale version on an action: 409 version_conflict, nothing happens.
  it('a stale version is 409 version_conflict', async () => {
    const c = await createCase(srv);
    await actOk(c.id, 'submit', { version: 1 });
    const snap = await snapshot(srv);
    const err = assertError(await act(c.id, 'accept', { version: 1 }), 409, 'version_conflict');
    assert.equal(err.current_version, 2);
    await assertUnchanged(srv, snap);
  });

  // The state is not a writable field: PATCH cannot skip the workflow.
  it('PATCH state is rejected; the state does not change', async () => {
    const c = await createCase(srv);
    const snap = await snapshot(srv);
    const r = await srv.api('PATCH', `${CASES}/${c.id}`, { version: 1, state: 'approved' });
    assertError(r, 422);
    await assertUnchanged(srv, snap);
  });

  // Creating with a state is rejected too (a new row starts in the initial state).
  it('POST with a state is 422', async () => {
    const snap = await snapshot(srv);
    const r = await srv.api('POST', CASES, { title: '直接批准', apply_date: '2024-03-01', division: '120101001001', state: 'approved' });
    const err = assertError(r, 422);
    assert.ok((err.errors ?? [err]).some((e) => e.field === 'state'), `error names state; ${show(r)}`);
    await assertUnchanged(srv, snap);
  });

  // Action bodies are JSON objects like any other.
  it('an action body that is not an object is 400', async () => {
    const c = await createCase(srv);
    assertError(await act(c.id, 'submit', ['x']), 400, 'bad_request');
    assertError(await srv.api('POST', `${CASES}/${c.id}/actions/submit`, '{bad', { raw: true, headers: { 'Content-Type': 'application/json' } }), 400, 'bad_json');
    assert.equal((await srv.api('GET', `${CASES}/${c.id}`)).json.state, 'draft');
  });
});

describe('deadlines (state_due)', () => {
  it('a step with a deadline sets state_due; lists filter and sort by it', async () => {
    const a = await createCase(srv, { title: '期限甲' });
    const b = await createCase(srv, { title: '期限乙' });
    assert.equal(a.state_due, null, 'the draft has no deadline');
    const sa = await actOk(a.id, 'submit', { comment: '提交' });
    const sb = await actOk(b.id, 'submit', { comment: '提交' });
    await actOk(b.id, 'accept', {});
    const due = (days) => new Date(Date.now() + days * 86400000).toISOString().slice(0, 10);
    // submitted: 5 days; accepted: 10 days (tests/sample/sample_module.c).
    assert.ok(sa.state_due >= due(4) && sa.state_due <= due(6), sa.state_due);
    const gb = (await srv.api('GET', `${CASES}/${b.id}`)).json;
    assert.ok(gb.state_due >= due(9) && gb.state_due <= due(11), gb.state_due);
    const soon = await srv.api('GET', `${CASES}?state_due.lte=${due(7)}&title.like=期限&size=50`);
    assert.equal(soon.status, 200, show(soon));
    assert.deepEqual(soon.json.items.map((x) => x.id), [a.id]);
    const later = await srv.api('GET', `${CASES}?state_due.gte=${due(7)}&title.like=期限&size=50`);
    assert.deepEqual(later.json.items.map((x) => x.id), [b.id]);
    const sorted = await srv.api('GET', `${CASES}?title.like=期限&state_due.null=false&sort=-state_due&size=50`);
    assert.equal(sorted.status, 200, show(sorted));
    assert.deepEqual(sorted.json.items.map((x) => x.id), [b.id, a.id]);
    assertError(await srv.api('GET', `${CASES}?state_due.lte=明天`), 400, 'bad_filter', { field: 'state_due.lte' });
  });
});
