// Storage: personal data sealed at rest, key rotation, online backup and
// verified restore — all through the real binary and its database files.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { startServer, runCli, validCase, makeIdNumber, makePhone, makeBankCard, SQLITE_ONLY, rawSession } from './lib.mjs';

const CASES = '/api/v1/sample_cases';

/** Every file of the database (main file, WAL, shared memory) as one buffer. */
function rawFiles(dbPath) {
  return Buffer.concat(
    [dbPath, `${dbPath}-wal`, `${dbPath}-shm`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)),
  );
}

describe('personal data at rest', () => {
  let srv;
  const secrets = [];
  before(async () => {
    srv = await startServer();
    for (let i = 0; i < 5; i++) {
      const id = makeIdNumber({ seq: 300 + i });
      const phone = makePhone();
      const card = makeBankCard();
      const r = await srv.api('POST', CASES, validCase({ applicant_id: id, phone, bank_card: card }));
      assert.equal(r.status, 201, JSON.stringify(r.json));
      secrets.push({ id, phone, card, row: r.json.id });
    }
  });
  after(async () => srv && srv.stop());

  it('the raw database files contain none of the ID numbers, phones or bank cards', { skip: SQLITE_ONLY }, () => {
    const raw = rawFiles(srv.dbPath);
    assert.ok(raw.length > 0);
    for (const s of secrets) {
      for (const v of [s.id, s.phone, s.card]) {
        assert.equal(raw.indexOf(Buffer.from(v)), -1, `plaintext ${v.slice(0, 4)}… found in the database files`);
      }
    }
  });

  it('exact lookups still work through the blind index (filter and q)', async () => {
    for (const s of secrets) {
      const byFilter = await srv.api('GET', `${CASES}?applicant_id=${s.id}`);
      assert.equal(byFilter.status, 200);
      assert.deepEqual(byFilter.json.items.map((x) => x.id), [s.row]);
      const byQ = await srv.api('GET', `${CASES}?q=${s.phone}`);
      assert.deepEqual(byQ.json.items.map((x) => x.id), [s.row]);
    }
  });

  it('range, substring and sort on a sealed field are refused', async () => {
    for (const q of ['applicant_id.like=1201', 'applicant_id.gte=1', 'sort=phone']) {
      const r = await srv.api('GET', `${CASES}?${q}`);
      assert.equal(r.status, 400, q);
    }
  });

  it('the key file is 0600 beside the database', { skip: SQLITE_ONLY }, () => {
    const key = path.join(path.dirname(srv.dbPath), 'minzheng.key');
    const st = fs.statSync(key);
    assert.equal(st.mode & 0o777, 0o600);
  });
});

describe('rekey, backup and restore', () => {
  let srv;
  let secret;
  before(async () => {
    srv = await startServer();
    secret = { id: makeIdNumber({ seq: 777 }), phone: makePhone() };
    const r = await srv.api('POST', CASES, validCase({ applicant_id: secret.id, phone: secret.phone }));
    assert.equal(r.status, 201);
  });
  after(async () => srv && srv.stop());

  it('backup of a live database is verified; restore brings the rows back', { skip: SQLITE_ONLY }, async () => {
    const bak = path.join(path.dirname(srv.dbPath), 'copy.bak');
    const b = runCli(['backup', '--db', srv.dbPath, '--to', bak]);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout).verified, true);
    // Another write after the backup is not in it.
    assert.equal((await srv.api('POST', CASES, validCase())).status, 201);
    const restored = path.join(path.dirname(srv.dbPath), 'restored.db');
    const r = runCli(['restore', '--from', bak, '--db', restored]);
    assert.equal(r.status, 0, r.stderr);
    const copy = await startServer({ db: restored, args: ['--key-file', path.join(path.dirname(srv.dbPath), 'minzheng.key')] });
    try {
      const list = await copy.api('GET', CASES);
      assert.equal(list.json.total, 1);
      const hit = await copy.api('GET', `${CASES}?applicant_id=${secret.id}`);
      assert.equal(hit.json.total, 1);
    } finally {
      await copy.stop();
    }
  });

  it('restore from a file that is not a database fails and leaves the target alone', () => {
    // a directory of its own: on the PostgreSQL run srv.dbPath is not a file path
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-restore-junk-'));
    const junk = path.join(dir, 'junk.bak');
    const target = path.join(dir, 'target.db');
    fs.writeFileSync(junk, 'not a database at all'.repeat(100));
    fs.writeFileSync(target, 'keep me');
    const r = runCli(['restore', '--from', junk, '--db', target]);
    assert.equal(r.status, 1);
    assert.equal(fs.readFileSync(target, 'utf8'), 'keep me');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('backup and restore refuse unknown options and missing arguments (exit 2)', () => {
    assert.equal(runCli(['backup', '--db', srv.dbPath]).status, 2);
    assert.equal(runCli(['restore', '--db', srv.dbPath]).status, 2);
    assert.equal(runCli(['backup', '--bogus']).status, 2);
  });

  it('rekey re-seals every value under a new key version; lookups keep working', { skip: SQLITE_ONLY }, async () => {
    await srv.stop({ keepDir: true });
    const dir = path.dirname(srv.dbPath);
    const before = rawFiles(srv.dbPath);
    const r = runCli(['rekey', '--db', srv.dbPath]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.to_version, out.from_version + 1);
    assert.ok(out.values >= 2);
    const key = fs.readFileSync(path.join(path.dirname(srv.dbPath), 'minzheng.key'), 'utf8');
    assert.match(key, new RegExp(`^v${out.to_version} `, 'm'));
    assert.notDeepEqual(rawFiles(srv.dbPath), before);
    srv = await startServer({ db: srv.dbPath });
    try {
      const hit = await srv.api('GET', `${CASES}?applicant_id=${secret.id}`);
      assert.equal(hit.json.total, 1);
      assert.equal(hit.json.items[0].phone.slice(0, 3), secret.phone.slice(0, 3));
    } finally {
      await srv.stop();
      srv = null;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('costly requests are rate-limited per caller', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { MZ_COSTLY_PER_MINUTE: '3' } });
  });
  after(async () => srv && srv.stop());

  it('the fourth export within a minute is 429 with Retry-After; lists still work', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await srv.api('GET', `${CASES}/export?format=csv`);
      assert.equal(r.status, 200);
    }
    const r = await srv.api('GET', `${CASES}/export?format=csv`);
    assert.equal(r.status, 429);
    assert.equal(r.json.error.code, 'rate_limited');
    assert.equal(r.headers['retry-after'], '60');
    assert.equal((await srv.api('GET', CASES)).status, 200);
  });
});

describe('access log', () => {
  it('is written within a few seconds while serving, and completely on a graceful stop', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-acc-'));
    const accessLog = path.join(dir, 'access.log');
    const srv = await startServer({ args: ['--access-log', accessLog] });
    const healthLines = () => (fs.existsSync(accessLog) ? fs.readFileSync(accessLog, 'utf8') : '')
      .split('\n').filter((l) => l.includes('"path":"/api/v1/health"'));
    try {
      for (let i = 0; i < 30; i++) assert.equal((await srv.api('GET', '/api/v1/health')).status, 200);
      // Buffered per worker thread: the server writes the lines at least every second.
      const deadline = Date.now() + 5000;
      while (healthLines().length < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(healthLines().length, 30, 'every line written while the server runs');
      for (let i = 0; i < 20; i++) assert.equal((await srv.api('GET', '/api/v1/health')).status, 200);
    } finally {
      await srv.stop();
    }
    const lines = healthLines();
    assert.equal(lines.length, 50, 'no line lost on a graceful stop');
    for (const l of lines) {
      const e = JSON.parse(l);
      assert.equal(e.status, 200);
      assert.equal(e.method, 'GET');
      assert.match(e.request_id, /^[0-9a-f]{16}$/);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('text that is not UTF-8 in the database', () => {
  // Another program may write bytes that are not UTF-8 into a text column;
  // reading that row used to abort the server (jansson cannot dump them).
  it('reads back with U+FFFD in get, list, history and export; the server stays up', { skip: SQLITE_ONLY }, async () => {
    const srv = await startServer();
    try {
      const c = await srv.api('POST', CASES, validCase({ title: '原标题' }));
      assert.equal(c.status, 201);
      const r = spawnSync('sqlite3', [srv.dbPath, `UPDATE sample_cases SET title = CAST(X'41C3FF42' AS TEXT) WHERE id = ${c.json.id}`],
        { encoding: 'utf8', timeout: 10000 });
      assert.equal(r.status, 0, r.stderr);
      const g = await srv.api('GET', `${CASES}/${c.json.id}`);
      assert.equal(g.status, 200);
      assert.equal(g.json.title, 'A\uFFFD\uFFFDB');
      const l = await srv.api('GET', CASES);
      assert.equal(l.status, 200);
      assert.equal(l.json.items.find((x) => x.id === c.json.id).title, 'A\uFFFD\uFFFDB');
      assert.equal((await srv.api('GET', `${CASES}/${c.json.id}/history`)).status, 200);
      const e = await srv.api('GET', `${CASES}/export?format=csv`);
      assert.equal(e.status, 200);
      assert.equal((await srv.api('GET', '/api/v1/health')).status, 200, 'still serving');
    } finally {
      await srv.stop();
    }
  });
});

describe('connections spread over the worker threads', () => {
  // The accept thread hands each new connection to the worker with the fewest
  // (src/core/server.c accept_main); the access log names the worker.
  it('12 connections on 3 workers are 4, 4 and 4; new ones go to the emptied worker', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-wk-'));
    const accessLog = path.join(dir, 'access.log');
    const srv = await startServer({ args: ['--threads', '3', '--access-log', accessLog] });
    const sessions = [];
    const workerOf = async (s) => {
      const text = await s.send('GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      assert.match(text, /^HTTP\/1\.1 200/);
      return text.match(/X-Request-Id: ([0-9a-f]{16})/i)[1];
    };
    const logged = () => new Map(fs.readFileSync(accessLog, 'utf8').split('\n').filter((l) => l.includes('"request_id"'))
      .map((l) => JSON.parse(l)).map((e) => [e.request_id, e.worker]));
    const waitLogged = async (ids) => {
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        if (fs.existsSync(accessLog) && ids.every((id) => logged().has(id))) return logged();
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail('the access log has every request within 5 s');
    };
    try {
      for (let i = 0; i < 12; i++) sessions.push(await rawSession(srv.port));
      const ids = [];
      for (const s of sessions) ids.push(await workerOf(s));
      const log = await waitLogged(ids);
      const byWorker = new Map();
      ids.forEach((id, i) => {
        const w = log.get(id);
        if (!byWorker.has(w)) byWorker.set(w, []);
        byWorker.get(w).push(i);
      });
      assert.deepEqual([...byWorker.values()].map((l) => l.length).sort(), [4, 4, 4], 'four connections per worker');
      // Close one worker's four connections: the next four all go to it.
      const [emptied, its] = [...byWorker.entries()][0];
      for (const i of its) sessions[i].close();
      // Wait until the server has closed its ends (MHD runs the close
      // notification, which uncounts them, before it closes the socket):
      // its sockets on the port, established or half-closed, in /proc/net/tcp.
      const serverSockets = () => fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
        .map((l) => l.trim().split(/\s+/)).filter((f) => f.length > 3 && parseInt(f[1].split(':')[1], 16) === srv.port
          && (f[3] === '01' || f[3] === '08')).length;
      const closeDeadline = Date.now() + 5000;
      while (serverSockets() > 8 && Date.now() < closeDeadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(serverSockets(), 8, 'the server closed the four connections');
      const fresh = [];
      for (let i = 0; i < 4; i++) fresh.push(await rawSession(srv.port));
      const ids2 = [];
      for (const s of fresh) ids2.push(await workerOf(s));
      const log2 = await waitLogged(ids2);
      assert.deepEqual(ids2.map((id) => log2.get(id)), [emptied, emptied, emptied, emptied]);
      sessions.push(...fresh);
    } finally {
      for (const s of sessions) s.close();
      await srv.stop();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('logs never carry personal data', () => {
  it('no ID number, phone or bank card in the server log or the access log', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-log-'));
    const accessLog = path.join(dir, 'access.log');
    const srv = await startServer({ args: ['--access-log', accessLog] });
    const ids = [];
    try {
      for (let i = 0; i < 5; i++) {
        const id = makeIdNumber({ seq: 500 + i });
        ids.push(id);
        await srv.api('POST', CASES, validCase({ applicant_id: id, phone: makePhone(), bank_card: makeBankCard() }));
        await srv.api('GET', `${CASES}?q=${id}`);
        await srv.api('GET', `${CASES}?applicant_id=${id}`);
        // Bad input echoing an ID number back must not log it either.
        await srv.api('POST', CASES, validCase({ applicant_id: id.slice(0, 17) + (id[17] === '1' ? '2' : '1') }));
      }
    } finally {
      await srv.stop();
    }
    const text = `${srv.stderr()}\n${fs.readFileSync(accessLog, 'utf8')}`;
    assert.ok(text.includes('"status":201'), 'the access log was written');
    // Anything that passes the GB 11643 check digit counts as a leak.
    const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const leaks = (text.match(/\d{17}[\dXx]/g) || []).filter((s) => {
      const sum = W.reduce((acc, w, i) => acc + w * Number(s[i]), 0);
      return '10X98765432'[sum % 11] === s[17].toUpperCase();
    });
    assert.deepEqual(leaks, []);
    for (const id of ids) assert.ok(!text.includes(id.slice(6, 14) + id.slice(14)), 'no ID tail');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
