// audit.test.mjs - the audit log through the real binary: a write through the
// API leaves an entry with its before/after changes, the audit administrator
// searches the log (GET /api/v1/audit, newest first, with a total) and verifies
// it (GET /api/v1/audit/verify), `minzheng audit-verify` exits 0 on the intact
// chain and 1 naming the entry after a direct edit of the database file (the
// triggers dropped first, as an attacker with the file would), `audit-anchor`
// exports the chain head, and the append-only triggers refuse UPDATE/DELETE.
// Reference: include/mz/audit.h, src/auth/audit.c, issue 3 item 6.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, runCli, validCase, show, sleep, TEST_PASSWORD, PG_BASE } from './lib.mjs';

let srv;
let auditor; // a client holding audit.read

/** Run sqlite3 (psql on PostgreSQL) on the test database; returns {status, stdout, stderr}. */
function sqlite(sql) {
  const r = PG_BASE
    ? spawnSync(process.env.MZ_TEST_PG_PSQL || 'psql', [srv.dbPath, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { encoding: 'utf8', timeout: 10000 })
    : spawnSync('sqlite3', [srv.dbPath, sql], { encoding: 'utf8', timeout: 10000 });
  if (r.error) throw new Error(`sqlite3: ${r.error.message}`);
  return r;
}

/** GET /api/v1/audit with a query, asserting 200. */
async function search(query = '') {
  const r = await auditor.api('GET', `/api/v1/audit${query}`);
  assert.equal(r.status, 200, show(r));
  return r.json;
}

/** Poll the log until pred(items) holds (queued events land within ~20 ms). */
async function waitFor(query, pred, what) {
  let last;
  for (let i = 0; i < 50; i++) {
    last = await search(query);
    if (pred(last.items)) return last;
    await sleep(40);
  }
  assert.fail(`${what}: not found in ${JSON.stringify(last).slice(0, 800)}`);
}

before(async () => {
  srv = await startServer();
  // An audit administrator (the role holds audit*.read and no business data).
  if (srv.addUser) {
    srv.addUser('auditor1', { roles: 'auditadmin' });
    auditor = await srv.login('auditor1', TEST_PASSWORD, { mode: 'bearer' });
  } else {
    auditor = srv;
  }
});
after(async () => {
  await srv?.stop();
});

describe('audit log', () => {
  let caseId;

  it('records a write through the API with before/after changes', async () => {
    const c = await srv.api('POST', '/api/v1/sample_cases', validCase({ title: '审计前标题' }));
    assert.equal(c.status, 201, show(c));
    caseId = c.json.id;
    const p = await srv.api('PATCH', `/api/v1/sample_cases/${caseId}`, { title: '审计后标题', version: 1 });
    assert.equal(p.status, 200, show(p));

    const log = await waitFor(
      '?object=sample_cases&action=update',
      (items) => items.some((e) => e.object_id === caseId),
      'update entry',
    );
    const e = log.items.find((x) => x.object_id === caseId);
    assert.equal(e.result, 'ok');
    assert.equal(e.ip, '127.0.0.1');
    assert.ok(e.actor && e.actor !== '-', `actor recorded: ${e.actor}`);
    assert.match(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(e.hash, /^[0-9a-f]{64}$/);
    const text = JSON.stringify(e.detail);
    assert.ok(text.includes('审计前标题') && text.includes('审计后标题'), `before/after in detail: ${text}`);

    const created = await search('?object=sample_cases&action=create');
    assert.ok(created.items.some((x) => x.object_id === caseId), 'create entry');
  });

  it('records an unmasked GET of personal data (view_sensitive)', async () => {
    const c = await srv.api('POST', '/api/v1/sample_cases', validCase({ phone: '13912345678' }));
    assert.equal(c.status, 201, show(c));
    const got = await srv.api('GET', `/api/v1/sample_cases/${c.json.id}`);
    assert.equal(got.status, 200, show(got));
    assert.equal(got.json.phone, '13912345678');
    const log = await waitFor(
      '?object=sample_cases&action=view_sensitive',
      (items) => items.some((e) => e.object_id === c.json.id || JSON.stringify(e.detail ?? '').includes(String(c.json.id))),
      'view_sensitive entry',
    );
    const e = log.items.find((x) => x.object_id === c.json.id || JSON.stringify(x.detail ?? '').includes(String(c.json.id)));
    assert.equal(e.result, 'ok');
    assert.ok(e.actor && e.actor !== '-', `actor recorded: ${e.actor}`);
  });

  it('lists newest first with a total, paging and filters', async () => {
    const all = await search('?size=500');
    assert.ok(all.total >= 3, `total ${all.total}`);
    assert.equal(all.page, 1);
    const seqs = all.items.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');

    const page = await search('?size=1&page=2');
    assert.equal(page.items.length, 1);
    assert.equal(page.size, 1);

    const none = await search('?actor=nobody-at-all');
    assert.equal(none.total, 0);
    assert.deepEqual(none.items, []);

    const future = await search('?from=2999-01-01');
    assert.equal(future.total, 0);
    const past = await search('?to=2000-01-01T00:00:00%2B08:00');
    assert.equal(past.total, 0);
    const today = await search(`?from=${new Date(Date.now() - 86400000).toISOString().slice(0, 10)}`);
    assert.ok(today.total >= 3);

    for (const q of ['?page=0', '?size=501', '?from=yesterday', '?to=2024-13-01']) {
      const r = await auditor.api('GET', `/api/v1/audit${q}`);
      assert.equal(r.status, 400, `${q}: ${show(r)}`);
    }
  });

  it('is refused to a business account', async () => {
    if (!srv.addUser) return; // before access control there is nobody to refuse
    const r = await srv.api('GET', '/api/v1/audit');
    assert.equal(r.status, 403, show(r));
    const v = await srv.api('GET', '/api/v1/audit/verify');
    assert.equal(v.status, 403, show(v));
  });

  it('verifies through the API and the CLI; anchors the head', async () => {
    const v = await auditor.api('GET', '/api/v1/audit/verify');
    assert.equal(v.status, 200, show(v));
    assert.equal(v.json.intact, true, show(v));
    assert.ok(v.json.entries >= 3);

    await sleep(100); // let the queue flush the verify event itself
    const cli = runCli(['audit-verify', '--db', srv.dbPath]);
    assert.equal(cli.status, 0, cli.stderr);
    const out = JSON.parse(cli.stdout);
    assert.ok(out.entries >= 3);
    assert.match(out.head, /^[0-9a-f]{64}$/);

    const anchorFile = path.join(srv.dir, 'anchor.jsonl');
    const a = runCli(['audit-anchor', '--db', srv.dbPath, '--to', anchorFile]);
    assert.equal(a.status, 0, a.stderr);
    const head = JSON.parse(a.stdout);
    assert.ok(head.seq >= out.entries);
    assert.match(head.hash, /^[0-9a-f]{64}$/);
    const lines = fs.readFileSync(anchorFile, 'utf8').trim().split('\n');
    assert.deepEqual(JSON.parse(lines.at(-1)), head);
    const withAnchor = runCli(['audit-verify', '--db', srv.dbPath, '--anchor', anchorFile]);
    assert.equal(withAnchor.status, 0, withAnchor.stderr);

    assert.equal(runCli(['audit-verify']).status, 2, 'no --db is a usage error');
    assert.equal(runCli(['audit-verify', '--db', srv.dbPath, '--bogus', 'x']).status, 2);
  });

  it('refuses UPDATE and DELETE inside the retention', () => {
    const u = sqlite('UPDATE mz_audit SET actor = \'x\' WHERE seq = 1');
    assert.notEqual(u.status, 0);
    assert.match(u.stderr, /append-only/);
    const d = sqlite('DELETE FROM mz_audit WHERE seq = 1');
    assert.notEqual(d.status, 0);
    assert.match(d.stderr, /retention/);
  });

  it('audit-verify exits 1 naming the edited entry', async () => {
    const r = sqlite(
      (PG_BASE ? 'DROP TRIGGER mz_audit_guard ON mz_audit; ' : 'DROP TRIGGER mz_audit_no_update; ') +
        'UPDATE mz_audit SET detail = \'{"changes":{}}\' WHERE seq = 3',
    );
    assert.equal(r.status, 0, r.stderr);
    const cli = runCli(['audit-verify', '--db', srv.dbPath]);
    assert.equal(cli.status, 1, cli.stdout + cli.stderr);
    const out = JSON.parse(cli.stdout);
    assert.equal(out.seq, 3);
    assert.equal(out.problem, 'edited');
    assert.match(cli.stderr, /entry 3/);

    const v = await auditor.api('GET', '/api/v1/audit/verify');
    assert.equal(v.status, 200, show(v));
    assert.equal(v.json.intact, false);
    assert.equal(v.json.seq, 3);
  });
});
