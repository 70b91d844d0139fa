// migrate.test.mjs - `minzheng migrate-data --from-sqlite FILE --pg CONNINFO`
// (src/cli/cmd_migrate.c, docs/deployment.md).
//
// A bureau's SQLite database with persons, cases (sensitive fields sealed),
// a workflow action and audit events is made through the API of a server on
// the file; migrate-data copies it into a fresh PostgreSQL database with the
// key file; then a server on PostgreSQL reads everything back: the sealed ID
// numbers open, the blind index finds a person by ID number, the sequences
// continue after the copied ids, and `audit-verify --pg` passes. A second
// run into the now non-empty target is refused, as is a source key that does
// not open the data.
//
// Needs PostgreSQL: it runs in the PostgreSQL pass of make test
// (scripts/test.sh, scripts/pg-test.sh) and is skipped in the SQLite pass.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  PG_BASE, startServer, runCli, pgCreateDatabase, makeIdNumber, makePhone, show,
  ADMIN_PASSWORD, TEST_PASSWORD,
} from './lib.mjs';

const SKIP = PG_BASE ? false : 'needs PostgreSQL (runs in the PostgreSQL pass of make test)';

let dir, src, srcKey, pgKey, target, people = [], caseIds = [], report;

describe('migrate-data: SQLite to PostgreSQL', { skip: SKIP }, () => {
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-migrate-'));
    src = path.join(dir, 'bureau.db');
    srcKey = path.join(dir, 'minzheng.key'); // beside the database: the default
    pgKey = path.join(dir, 'pg', 'minzheng.key');
    fs.mkdirSync(path.dirname(pgKey));
    const pw = path.join(dir, 'pw');
    fs.writeFileSync(pw, `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
    const tpw = path.join(dir, 'tpw');
    fs.writeFileSync(tpw, `${TEST_PASSWORD}\n`, { mode: 0o600 });
    const env = { MZ_KEY_FILE: '' }; // the SQLite side keeps its key beside the file
    for (const args of [
      ['init', '--db', src, '--admin-password-file', pw],
      ['user-add', '--db', src, '--username', 'tester', '--name', '迁移测试', '--password-file', tpw,
        '--roles', 'city_officer', '--scope', '120000', '--no-must-change'],
      ['auth-config', '--db', src, '--set', 'totp_required=0'],
    ]) {
      const r = runCli(args, { env });
      assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
    }
    assert.ok(fs.existsSync(srcKey), 'init made the key file beside the database');
    // Data through the API of a server on the file.
    const s = await startServer({ db: src, env });
    try {
      for (let i = 0; i < 25; i++) {
        const body = {
          id_number: makeIdNumber({ seq: 100 + i }), name: `迁移人员${i}`, hukou_division: '120101001001',
          phone: makePhone(),
        };
        const r = await s.api('POST', '/api/v1/persons', body);
        assert.equal(r.status, 201, show(r));
        people.push({ id: r.json.id, ...body });
      }
      for (let i = 0; i < 5; i++) {
        const r = await s.api('POST', '/api/v1/sample_cases', {
          title: `迁移案件${i}`, division: '120101001001', apply_date: '2026-02-01',
          applicant_id: people[i].id_number, amount_fen: 1000 * (i + 1),
        });
        assert.equal(r.status, 201, show(r));
        caseIds.push(r.json.id);
      }
      const act = await s.api('POST', `/api/v1/sample_cases/${caseIds[0]}/actions/submit`, { version: 1 });
      assert.equal(act.status, 200, show(act));
      // A deleted row moves as it is (soft delete).
      assert.equal((await s.api('DELETE', `/api/v1/persons/${people[24].id}`)).status, 204);
    } finally {
      await s.stop();
    }
    target = pgCreateDatabase(path.join(dir, 'pgdir'));
  });
  after(() => {
    if (dir && !process.env.MZ_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses bad input with a clear message (exit 2)', () => {
    let r = runCli(['migrate-data', '--pg', target]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--from-sqlite FILE/);
    r = runCli(['migrate-data', '--from-sqlite', path.join(dir, 'missing.db'), '--pg', target]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /不存在/);
    r = runCli(['migrate-data', '--from-sqlite', src, '--pg', target, '--batch', '0']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--batch/);
    // A key file that does not open the source: its audit chain does not verify.
    const other = path.join(dir, 'other.key');
    fs.writeFileSync(other, `v1 ${'ab'.repeat(32)}\n`, { mode: 0o600 });
    r = runCli(['migrate-data', '--from-sqlite', src, '--pg', target, '--from-key-file', other,
      '--key-file', path.join(dir, 'unused.key')]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /审计日志哈希链校验失败/);
    assert.equal(fs.existsSync(path.join(dir, 'unused.key')), false);
  });

  it('copies every table with its ids, verified by counts and checksums; the key file moves along', () => {
    const r = runCli(['migrate-data', '--from-sqlite', src, '--pg', target, '--key-file', pgKey, '--batch', '7'],
      { timeout: 120000 });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const lines = r.stdout.trim().split('\n');
    report = JSON.parse(lines[lines.length - 1]);
    assert.equal(report.migrated, true);
    assert.equal(report.verified, true);
    const t = Object.fromEntries(report.tables.map((x) => [x.name, x]));
    assert.equal(t.persons.rows, 25);
    assert.equal(t.sample_cases.rows, 5);
    assert.equal(t.users.rows, 4); // the three administrators and tester
    assert.ok(t.mz_audit.rows > 30, `audit entries ${t.mz_audit.rows}`);
    assert.equal(report.audit_entries, t.mz_audit.rows);
    assert.ok(report.sealed_fields_checked >= 2, JSON.stringify(report));
    assert.match(t.persons.checksum, /^[0-9a-f]{32}$/);
    // The per-table report: one "ok" line per copied table, FTS tables skipped.
    assert.match(r.stdout, /^persons\s+25\s+25\s+[0-9a-f]{32} ok$/m);
    assert.ok(report.skipped.includes('person_fts'), report.skipped.join(','));
    // The key file: an exact copy, mode 0600.
    assert.deepEqual(fs.readFileSync(pgKey), fs.readFileSync(srcKey));
    assert.equal(fs.statSync(pgKey).mode & 0o777, 0o600);
    assert.equal(report.key_file_action, 'copied');
  });

  it('refuses a target that is no longer empty', () => {
    const r = runCli(['migrate-data', '--from-sqlite', src, '--pg', target, '--key-file', pgKey]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /目标数据库不是空库/);
    // With --replace it would copy, but the target's audit log is never overwritten.
    const again = runCli(['migrate-data', '--from-sqlite', src, '--pg', target, '--key-file', pgKey, '--replace']);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /审计日志不可删除或覆盖/);
  });

  it('the audit chain verifies on PostgreSQL with the moved key', () => {
    const r = runCli(['audit-verify', '--pg', target, '--key-file', pgKey]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(JSON.parse(r.stdout).entries, report.audit_entries);
  });

  it('a server on PostgreSQL serves the migrated data: sealed values open, the blind index finds, ids continue', async () => {
    const s = await startServer({ db: target, env: { MZ_KEY_FILE: pgKey } });
    try {
      assert.equal((await s.anon('GET', '/api/v1/health')).json.db, 'postgresql');
      const p = await s.api('GET', `/api/v1/persons/${people[3].id}`);
      assert.equal(p.status, 200, show(p));
      assert.equal(p.json.name, people[3].name);
      assert.equal(p.json.id_number, people[3].id_number); // unsealed with the moved key
      assert.equal(p.json.phone, people[3].phone);
      // Exact search by ID number goes through the keyed blind index.
      const q = await s.api('GET', `/api/v1/persons?q=${people[7].id_number}`);
      assert.equal(q.status, 200, show(q));
      assert.deepEqual(q.json.items.map((x) => x.id), [people[7].id]);
      assert.equal((await s.api('GET', `/api/v1/persons/${people[24].id}`)).status, 404, 'deleted stays deleted');
      const c = await s.api('GET', `/api/v1/sample_cases/${caseIds[0]}`);
      assert.equal(c.status, 200, show(c));
      assert.equal(c.json.state, 'submitted');
      assert.equal(c.json.applicant_id, people[0].id_number);
      const tr = await s.api('GET', `/api/v1/sample_cases/${caseIds[0]}/transitions`);
      assert.equal(tr.status, 200, show(tr));
      assert.ok(JSON.stringify(tr.json).includes('submitted'), tr.text);
      // New rows continue after the copied ids (sequences were reset).
      const n = await s.api('POST', '/api/v1/persons', {
        id_number: makeIdNumber({ seq: 900 }), name: '迁移后新增', hukou_division: '120101001001',
      });
      assert.equal(n.status, 201, show(n));
      assert.ok(n.json.id > Math.max(...people.map((x) => x.id)), `new id ${n.json.id}`);
      const nc = await s.api('POST', '/api/v1/sample_cases', { title: '迁移后案件', division: '120101001001', apply_date: '2026-03-01' });
      assert.equal(nc.status, 201, show(nc));
      assert.ok(nc.json.id > Math.max(...caseIds));
    } finally {
      await s.stop();
    }
    // The writes on PostgreSQL extended the same chain.
    const r = runCli(['audit-verify', '--pg', target, '--key-file', pgKey]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.ok(JSON.parse(r.stdout).entries > report.audit_entries);
  });
});
