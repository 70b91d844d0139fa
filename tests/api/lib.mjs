// lib.mjs - harness for the API tests (tests/api/*.test.mjs).
//
// Every test file starts the real binary once (before hook) on a loopback port
// with a fresh temporary SQLite database and stops it at the end (after hook):
//
//   const srv = await startServer();        // init + serve, waits for the listening log line
//   const r = await srv.api('GET', '/api/v1/health');
//   await srv.stop();                       // SIGTERM, exit 0 required, no ASan/UBSan reports
//
// The binary is $MZ_BIN (absolute, or relative to the repository root), by
// default build/minzheng-sample (minzheng plus tests/sample, whose entities
// sample_cases and sample_notes the tests use). Set MZ_KEEP_TMP=1 to keep the
// temporary directories.
//
// Access control: startServer() inits the database with
// `--admin-password-file` (the three administrators get ADMIN_PASSWORD and
// must change it at first login), creates with `minzheng user-add` the
// city-level business account `tester` (role city_officer: every business
// permission, scope 120000, password TEST_PASSWORD), turns the TOTP
// requirement off (`auth-config`), and logs `tester` in: srv.api() and the
// raw-socket helpers send its bearer token unless the request names its own
// Authorization header or passes {anonymous: true}. srv.login(user, pw,
// {mode: 'cookie'|'bearer', totp}) gives a client bound to another session
// (cookie + X-CSRF-Token, or bearer); srv.addUser() creates more accounts.
// The server runs with MZ_TEST_FAST_HASH=1 (argon2id at 8 MiB, tests only)
// and MZ_TEST_CLOCK=1 (POST /api/v1/test/clock moves the auth clock).
//
// Also here: raw-socket requests (node:net) for what fetch cannot send, the
// error-shape assertion every 4xx test uses, database snapshots to prove that a
// rejected write changed nothing, synthetic data generators (GB 11643 ID
// numbers, GB 32100 credit codes, Luhn bank cards, phone numbers - all
// synthetic, in Tianjin) and a small CSV parser for exports.
//
// PostgreSQL: with MZ_TEST_PG set to a conninfo without dbname (scripts/pg-test.sh
// starts a throwaway cluster and sets it), every startServer() creates a
// database of its own (CREATE DATABASE through psql, $MZ_TEST_PG_PSQL) and
// passes `--pg CONNINFO` instead of `--db FILE`; srv.dbPath is then that
// conninfo (restart with startServer({db: srv.dbPath}) works). All servers of
// one test process share one key file (MZ_KEY_FILE, in a temporary directory).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import crypto from 'node:crypto';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The cluster's conninfo without dbname when the suite runs on PostgreSQL. */
export const PG_BASE = process.env.MZ_TEST_PG || '';
/** A test's skip reason when it needs the SQLite file itself (raw bytes, backup): false on SQLite. */
export const SQLITE_ONLY = PG_BASE ? 'needs the SQLite database file (suite runs on PostgreSQL)' : false;
/** Temporary directory of each PostgreSQL database's server (for restarts). */
const pgDirs = new Map();
let pgSeq = 0;
if (PG_BASE && !process.env.MZ_KEY_FILE) {
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-pgkey-'));
  process.env.MZ_KEY_FILE = path.join(keyDir, 'minzheng.key');
  process.on('exit', () => fs.rmSync(keyDir, { recursive: true, force: true }));
}

/** True if spec is a PostgreSQL conninfo rather than a SQLite file. */
export function isPgSpec(spec) {
  return typeof spec === 'string' && /^(postgres(ql)?:\/\/|host=|dbname=)/.test(spec);
}

/**
 * Create a fresh database on the test cluster; its conninfo. dir (optional) is
 * where startServer({db}) keeps that database's files (password files, the
 * audit anchor file): migrate.test.mjs passes one of its own.
 */
export function pgCreateDatabase(dir) {
  const name = `t${process.pid}_${++pgSeq}`;
  const psql = process.env.MZ_TEST_PG_PSQL || 'psql';
  const r = spawnSync(psql, [`${PG_BASE} dbname=postgres`, '-qc', `CREATE DATABASE ${name}`], {
    encoding: 'utf8',
    timeout: 30000,
  });
  if (r.error || r.status !== 0) {
    throw new Error(`CREATE DATABASE ${name} failed: ${r.error?.message ?? ''} ${r.stderr}`);
  }
  const conninfo = `${PG_BASE} dbname=${name}`;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    pgDirs.set(conninfo, dir);
  }
  return conninfo;
}

/** Path of the binary under test. */
export function binPath() {
  const b = process.env.MZ_BIN || 'build/minzheng-sample';
  return path.isAbsolute(b) ? b : path.resolve(REPO_ROOT, b);
}

/**
 * process.env without MZ_DB, MZ_PG, MZ_LISTEN (they mirror --db/--pg/--listen,
 * and a stray one would point the binary at another database).
 */
export function cleanEnv() {
  const e = { ...process.env };
  for (const k of ['MZ_DB', 'MZ_PG', 'MZ_LISTEN']) delete e[k];
  return e;
}

const SANITIZER_RE = /AddressSanitizer|LeakSanitizer|runtime error:/;

/** Throw if a process's output carries a sanitizer report. */
export function assertNoSanitizerReport(output, what = 'process') {
  if (SANITIZER_RE.test(output)) {
    throw new Error(`${what}: sanitizer report in output:\n${output.slice(-8000)}`);
  }
}

/**
 * Run SQL on a test database (a SQLite file through sqlite3, a PostgreSQL
 * conninfo through psql), in one transaction; the output of its last
 * SELECT as rows of '|'-separated fields. For fixtures that the application
 * cannot write any more (legacyPayrollRun).
 */
export function runSql(dbPath, sql) {
  const pg = isPgSpec(dbPath);
  const r = pg
    ? spawnSync(process.env.MZ_TEST_PG_PSQL || 'psql', [dbPath, '-qAt', '-v', 'ON_ERROR_STOP=1', '-1', '-f', '-'], { input: sql, encoding: 'utf8', timeout: 30000 })
    : spawnSync('sqlite3', ['-bail', dbPath], { input: `.timeout 10000\nBEGIN IMMEDIATE;\n${sql}\nCOMMIT;\n`, encoding: 'utf8', timeout: 30000 });
  if (r.error || r.status !== 0) throw new Error(`SQL failed (${r.status}): ${r.error?.message ?? ''} ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('|'));
}

/**
 * A payroll run of a regular program as `minzheng payroll` wrote it before
 * the switch to packed runs (packed = 0: one payment row and one ledger
 * debit per household; docs/assistance.md, "Packed payroll snapshot"), so
 * that the readers of such months, kept for the databases holding them, are
 * tested: the run row, the snapshot (paid, or skipped with the reason: the
 * payee or a member dead before the month, no account; ids from the
 * payments counter), the debits and the totals. No reissues (a fixture for
 * a first month). district: a 6-digit code. Returns the run's summary as the
 * CLI printed it.
 */
export function legacyPayrollRun(dbPath, { program, month, district }) {
  assert.match(district, /^\d{6}$/);
  assert.match(month, /^\d{4}-\d{2}$/);
  assert.match(program, /^[a-z_]+$/);
  const first = `${month}-01`;
  const now = `${month}-01T00:00:00Z`;
  const run = '(SELECT max(id) FROM assistance_payroll_runs)';
  const rows = runSql(dbPath, `
INSERT INTO assistance_payroll_runs (version, created_at, updated_at, created_by, updated_by, state,
  program, month, division, households, persons, amount_fen, skipped, packed)
  VALUES (1, '${now}', '${now}', 'legacy', 'legacy', 'draft', '${program}', '${month}', '${district}000000', 0, 0, 0, 0, 0);
INSERT INTO assistance_payments (id, version, created_at, updated_at, created_by, updated_by, run_id,
  case_id, program, month, household_id, payee_person_id, division, persons, amount_fen, status, note, trace,
  account_sealed)
SELECT (SELECT next FROM assistance_payment_seq) + row_number() OVER (ORDER BY c.id) - 1, 1, '${now}', '${now}',
  'legacy', 'legacy', ${run}, c.id, c.program, '${month}', c.household_id,
  coalesce(c.payee_person_id, c.applicant_person_id), c.division, c.member_count,
  CASE WHEN (p.deceased_on IS NOT NULL AND p.deceased_on < '${first}') OR dm.died_on IS NOT NULL
    OR c.bank_account IS NULL THEN 0
    WHEN c.benefit_from IS NOT NULL AND '${month}' < c.benefit_from
    THEN coalesce(c.previous_benefit_fen, c.monthly_benefit_fen) ELSE c.monthly_benefit_fen END,
  CASE WHEN (p.deceased_on IS NOT NULL AND p.deceased_on < '${first}') OR dm.died_on IS NOT NULL
    OR c.bank_account IS NULL THEN 'skipped' ELSE 'paid' END,
  CASE WHEN p.deceased_on IS NOT NULL AND p.deceased_on < '${first}'
      THEN '收款人已于 ' || p.deceased_on || ' 死亡，自次月起停发'
    WHEN dm.died_on IS NOT NULL THEN '家庭成员已于 ' || dm.died_on || ' 死亡，须重新核定救助金额后恢复发放'
    WHEN c.bank_account IS NULL THEN '未登记银行账号，本月未发放' ELSE NULL END,
  c.benefit_trace, c.bank_account
FROM assistance_cases c
LEFT JOIN persons p ON p.id = coalesce(c.payee_person_id, c.applicant_person_id)
LEFT JOIN (SELECT cm.case_id, min(q.deceased_on) AS died_on FROM persons q JOIN assistance_case_members cm
  ON cm.person_id = q.id WHERE q.deceased_on < '${first}' AND q.deleted_at IS NULL GROUP BY cm.case_id) dm
  ON dm.case_id = c.id
WHERE c.deleted_at IS NULL AND c.state = 'paying' AND c.program = '${program}'
  AND coalesce(c.start_month, '') <= '${month}' AND c.division LIKE '${district}%';
UPDATE assistance_payment_seq SET next = (SELECT max(id) + 1 FROM assistance_payments)
  WHERE next <= (SELECT max(id) FROM assistance_payments);
INSERT INTO assistance_ledger (version, created_at, updated_at, created_by, updated_by, case_id, run_id, month,
  entry, amount_fen, division, note)
SELECT 1, '${now}', '${now}', 'legacy', 'legacy', case_id, run_id, month, 'debit', amount_fen, division, '应发'
  FROM assistance_payments WHERE run_id = ${run} AND status = 'paid';
UPDATE assistance_payroll_runs SET
  households = (SELECT count(*) FROM assistance_payments WHERE run_id = ${run} AND status = 'paid'),
  persons = (SELECT coalesce(sum(persons), 0) FROM assistance_payments WHERE run_id = ${run} AND status = 'paid'),
  amount_fen = (SELECT coalesce(sum(amount_fen), 0) FROM assistance_payments WHERE run_id = ${run} AND status = 'paid'),
  skipped = (SELECT count(*) FROM assistance_payments WHERE run_id = ${run} AND status = 'skipped'),
  reissued = 0
  WHERE id = ${run};
SELECT id, households, persons, amount_fen, skipped FROM assistance_payroll_runs WHERE id = ${run};
`);
  const [id, households, persons, amount, skipped] = rows[rows.length - 1].map(Number);
  return { run_id: id, program, month, division: district, households, persons, amount_fen: amount, status: 'draft', skipped };
}

/**
 * Run the binary synchronously (CLI commands). Returns {status, signal, stdout, stderr}.
 * Fails on sanitizer reports in any case.
 */
export function runCli(args, { bin = binPath(), timeout = 20000, env } = {}) {
  const r = spawnSync(bin, args, {
    encoding: 'utf8',
    timeout,
    env: { ...cleanEnv(), ...(env || {}) },
  });
  if (r.error) throw new Error(`cannot run ${bin} ${args.join(' ')}: ${r.error.message}`);
  assertNoSanitizerReport(`${r.stdout}\n${r.stderr}`, `${path.basename(bin)} ${args.join(' ')}`);
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Servers started and not yet ended; SIGKILLed if the test process exits first. */
const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Start the server: temp dir, `<bin> init --db <tmp>/t.db` (must exit 0), then
 * `<bin> serve --db <tmp>/t.db --listen 127.0.0.1:0`, waiting (10 s) for a
 * JSON log line on stderr whose `msg` says `listening on http://HOST:PORT`.
 *
 * Returns {base, port, dbPath, dir, proc, api, stop, stderr, alive}.
 */
// The wait is 30 s: the other servers of a Promise.all() block the event loop with
// their synchronous CLI steps (init, user-add, auth-config) meanwhile, which takes
// long on PostgreSQL and under ASan on a loaded machine (3 ASan inits took over 10 s).
export async function startServer({ bin = binPath(), args = [], env, readyTimeoutMs = 30000, db, auth = true } = {}) {
  if (!fs.existsSync(bin)) {
    throw new Error(`binary not found: ${bin} (build it with make, or set MZ_BIN)`);
  }
  // opts.db: reuse an existing database file (restart tests); its directory is then left in place.
  const ownDir = !db;
  const dir = db
    ? (pgDirs.get(db) ?? path.dirname(db))
    : fs.mkdtempSync(path.join(os.tmpdir(), 'mz-api-'));
  const dbPath = db || (PG_BASE ? pgCreateDatabase() : path.join(dir, 't.db'));
  if (isPgSpec(dbPath)) pgDirs.set(dbPath, dir);
  // --pg CONNINFO for a PostgreSQL database, --db FILE for SQLite.
  const dbOpt = isPgSpec(dbPath) ? '--pg' : '--db';
  // MZ_DB/MZ_PG/MZ_LISTEN mirror options: the harness passes options explicitly.
  // The audit anchor job's file goes to the test's directory (on PostgreSQL its
  // default, beside no database file, would be the working directory).
  const fullEnv = {
    ...cleanEnv(), MZ_TEST_FAST_HASH: '1', MZ_TEST_CLOCK: '1',
    MZ_AUDIT_ANCHOR: path.join(dir, 'audit-anchors.jsonl'), ...(env || {}),
  };

  const adminPwFile = path.join(dir, 'admin.pw');
  const testPwFile = path.join(dir, 'tester.pw');
  if (!fs.existsSync(adminPwFile)) fs.writeFileSync(adminPwFile, ADMIN_PASSWORD + '\n', { mode: 0o600 });
  if (!fs.existsSync(testPwFile)) fs.writeFileSync(testPwFile, TEST_PASSWORD + '\n', { mode: 0o600 });
  const cli = (args, what) => {
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 30000, env: fullEnv });
    if (r.error || r.status !== 0) {
      throw new Error(
        `${what} failed (status ${r.status}, signal ${r.signal}, ${r.error?.message ?? ''}):\n` +
          `stdout: ${r.stdout}\nstderr: ${r.stderr}`,
      );
    }
    assertNoSanitizerReport(`${r.stdout}\n${r.stderr}`, what);
    return r;
  };
  cli(['init', dbOpt, dbPath, '--admin-password-file', adminPwFile], 'init');
  if (ownDir && auth) {
    cli(['user-add', dbOpt, dbPath, '--username', 'tester', '--name', '测试业务员', '--password-file', testPwFile,
      '--roles', 'city_officer', '--scope', '120000', '--no-must-change'], 'user-add tester');
    cli(['auth-config', dbOpt, dbPath, '--set', 'totp_required=0'], 'auth-config');
  }

  const proc = spawn(bin, ['serve', dbOpt, dbPath, '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: fullEnv,
  });
  // A server left running by a failed test must not keep the test process
  // alive: the child and its pipes are unref'd (pending requests and the
  // harness's own timers keep the loop alive while needed) and killed at exit.
  live.add(proc);
  proc.unref();
  proc.stdout.unref?.();
  proc.stderr.unref?.();
  proc.on('exit', () => live.delete(proc));
  let stderrText = '';
  let stdoutText = '';
  let exited = null; // {code, signal} once the process has ended
  const exitPromise = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => (stdoutText += d));
  proc.stderr.setEncoding('utf8');

  // Wait for the listening line.
  const { host, port } = await new Promise((resolve, reject) => {
    let pending = '';
    let done = false;
    const finish = (err, val) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        proc.kill('SIGKILL');
        reject(err);
      } else resolve(val);
    };
    // The timer runs before pending I/O when the event loop was blocked (other
    // servers' synchronous CLI steps): let the pending stderr be read first.
    const timer = setTimeout(
      () => setImmediate(() => finish(new Error(`server did not log "listening on http://..." within ${readyTimeoutMs} ms; stderr:\n${stderrText}\nstdout:\n${stdoutText}`))),
      readyTimeoutMs,
    );
    proc.stderr.on('data', (chunk) => {
      stderrText += chunk;
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        let obj;
        try {
          obj = JSON.parse(line);
        } catch {
          continue; // not a JSON log line (the log is JSON lines; anything else is ignored here)
        }
        const m = typeof obj?.msg === 'string' && /listening on http:\/\/([\d.]+):(\d+)/.exec(obj.msg);
        if (m) finish(null, { host: m[1], port: Number(m[2]) });
      }
    });
    proc.on('exit', (code, signal) =>
      finish(new Error(`server exited early (code ${code}, signal ${signal}); stderr:\n${stderrText}\nstdout:\n${stdoutText}`)),
    );
    proc.on('error', (e) => finish(new Error(`cannot spawn ${bin}: ${e.message}`)));
  });

  const base = `http://${host}:${port}`;
  let stopped = false;

  /**
   * SIGTERM and wait (5 s, then SIGKILL and fail). The exit must be code 0 and
   * not by a signal; the output must hold no sanitizer report. {keepDir:true}
   * leaves the temporary directory (and database) for a restart.
   */
  async function stop({ keepDir = false } = {}) {
    if (stopped) return;
    stopped = true;
    defaultTokens.delete(port);
    try {
      if (!exited) {
        proc.kill('SIGTERM');
        let timer;
        const timeout = new Promise((r) => (timer = setTimeout(() => r('timeout'), 5000)));
        const r = await Promise.race([exitPromise, timeout]);
        clearTimeout(timer);
        if (r === 'timeout') {
          proc.kill('SIGKILL');
          await exitPromise;
          throw new Error(`server did not exit within 5 s of SIGTERM; stderr tail:\n${stderrText.slice(-4000)}`);
        }
      }
      // Let the pipes drain.
      await new Promise((r) => setImmediate(r));
      assertNoSanitizerReport(stderrText + stdoutText, 'server');
      if (exited.code !== 0 || exited.signal) {
        throw new Error(
          `server exit code ${exited.code}, signal ${exited.signal} (want 0, no signal); stderr tail:\n${stderrText.slice(-4000)}`,
        );
      }
    } finally {
      if (ownDir && !keepDir && !process.env.MZ_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Log in over HTTP; a client bound to that session (see loginAt). */
  const login = (username, password, opts) => loginAt(base, username, password, opts);
  /** Create an account with `user-add` (password TEST_PASSWORD unless given). */
  const addUser = (username, { roles = '', scope = '120000', mustChange = false, password = TEST_PASSWORD, name } = {}) => {
    const f = path.join(dir, `pw-${username}`);
    fs.writeFileSync(f, password + '\n', { mode: 0o600 });
    const args = ['user-add', dbOpt, dbPath, '--username', username, '--password-file', f, '--roles', roles, '--scope', scope];
    if (name) args.push('--name', name);
    if (!mustChange) args.push('--no-must-change');
    return cli(args, `user-add ${username}`);
  };
  let defaultToken = null;
  if (auth) {
    let tester;
    try {
      tester = await login('tester', TEST_PASSWORD, { mode: 'bearer' });
    } catch (e) {
      proc.kill('SIGKILL');
      throw e;
    }
    defaultToken = tester.token;
    defaultTokens.set(port, defaultToken);
  }

  return {
    base,
    host,
    port,
    dbPath,
    dir,
    proc,
    api: makeApi(base, { token: defaultToken }),
    anon: makeApi(base),
    login,
    addUser,
    token: defaultToken,
    stop,
    stderr: () => stderrText,
    stdout: () => stdoutText,
    /** True while the process runs. */
    alive: () => exited === null,
  };
}

/**
 * api(method, path, body, {headers, raw}) against base.
 * - body: an object/array/number/etc is sent as JSON with Content-Type
 *   application/json; with raw:true it is sent as is (string/Buffer/Uint8Array)
 *   and headers decide the Content-Type.
 * Returns {status, headers (lowercase names), json (or undefined), text, buf}.
 */
export function makeApi(base, { token = null, cookie = null, csrf = null } = {}) {
  return async function api(method, urlPath, body, { headers = {}, raw = false, anonymous = false } = {}) {
    const h = { ...headers };
    const lk = lowerKeys(h);
    if (!anonymous && !('authorization' in lk)) {
      if (token) h.Authorization = `Bearer ${token}`;
      else if (process.env.MZ_TEST_TOKEN && !cookie) h.Authorization = `Bearer ${process.env.MZ_TEST_TOKEN}`;
    }
    if (!anonymous && cookie && !('cookie' in lk)) h.Cookie = cookie;
    if (!anonymous && csrf && !('x-csrf-token' in lk) && !['GET', 'HEAD'].includes(method)) h['X-CSRF-Token'] = csrf;
    let payload;
    if (body !== undefined) {
      if (raw) payload = body;
      else {
        payload = JSON.stringify(body);
        if (!('content-type' in lowerKeys(h))) h['Content-Type'] = 'application/json';
      }
    }
    const res = await fetch(base + urlPath, { method, headers: h, body: payload, redirect: 'manual' });
    const buf = Buffer.from(await res.arrayBuffer());
    const text = buf.toString('utf8');
    let json;
    const ct = res.headers.get('content-type') || '';
    if (/json/i.test(ct) && text.length) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    const hdrs = {};
    res.headers.forEach((v, k) => (hdrs[k.toLowerCase()] = v));
    return { status: res.status, headers: hdrs, json, text, buf };
  };
}

function lowerKeys(o) {
  const r = {};
  for (const k of Object.keys(o)) r[k.toLowerCase()] = o[k];
  return r;
}

// --- access control -----------------------------------------------------------------

/** Initial password of sysadmin, secadmin, auditadmin (must be changed at first login). */
export const ADMIN_PASSWORD = 'Init-Admin-Pa55-城';
/** Password of tester and of accounts made by srv.addUser(). */
export const TEST_PASSWORD = 'Test-Pa55word-津门';

/** Default bearer token per server port (the raw-socket helpers use it). */
const defaultTokens = new Map();

/**
 * POST /api/v1/auth/login and return a client:
 * {api, token, csrf, cookie, user, res}. mode 'cookie' (default) sends the
 * session cookie and the CSRF header; 'bearer' sends Authorization. Throws
 * unless the login answers 200 (use loginRaw for failures).
 */
export async function loginAt(base, username, password, { mode = 'cookie', totp } = {}) {
  const res = await loginRaw(base, username, password, { totp });
  if (res.status !== 200) throw new Error(`login ${username} failed: ${show(res)}`);
  const token = res.json.token;
  const csrf = res.json.csrf_token;
  const setCookie = res.headers['set-cookie'] || '';
  const m = /mz_session=([^;]+)/.exec(setCookie);
  const cookie = m ? `mz_session=${m[1]}` : null;
  const api = mode === 'bearer' ? makeApi(base, { token }) : makeApi(base, { cookie, csrf });
  return { api, token, csrf, cookie, user: res.json.user, res };
}

/** The login request itself: {status, headers, json, text}. */
export async function loginRaw(base, username, password, { totp, headers = {} } = {}) {
  const body = { username, password };
  if (totp !== undefined) body.totp = totp;
  return makeApi(base)('POST', '/api/v1/auth/login', body, { headers, anonymous: true });
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits) of a base32 secret at unix time t. */
export function totpCode(secretB32, t = Date.now() / 1000) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secretB32.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const key = Buffer.from(bytes);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1] & 15;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1000000).padStart(6, '0');
}

/** Add `Authorization: Bearer <default token>` to raw request text that has none. */
function withDefaultAuth(port, bytes, anonymous) {
  const token = defaultTokens.get(port);
  if (!token || anonymous || typeof bytes !== 'string') return bytes;
  const m = /^[A-Z]+ [^\r\n]* HTTP\/1\.[01]\r\n/.exec(bytes);
  if (!m) return bytes;
  const headEnd = bytes.indexOf('\r\n\r\n');
  const head = headEnd >= 0 ? bytes.slice(0, headEnd) : bytes;
  if (/\r\nauthorization:/i.test(head)) return bytes;
  return bytes.slice(0, m[0].length) + `Authorization: Bearer ${token}\r\n` + bytes.slice(m[0].length);
}

/** A short description of a response for assertion messages. */
export function show(res) {
  return `HTTP ${res.status} ${res.text?.slice(0, 600)}`;
}

// --- raw sockets ------------------------------------------------------------

/**
 * Send bytes on a fresh TCP connection and return the raw response text.
 * Resolves when one complete response has arrived (by Content-Length or the
 * chunked terminator), when the server closes, or after timeoutMs (with what
 * arrived, possibly ''). Socket errors (reset, broken pipe) end the exchange
 * quietly: the caller checks what came back. bytes may be a string, a Buffer,
 * or an array of them written in turn.
 */
export function rawRequest(port, bytes, { host = '127.0.0.1', timeoutMs = 5000, anonymous = false } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const chunks = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on('connect', () => {
      const parts = Array.isArray(bytes) ? [...bytes] : [bytes];
      parts[0] = withDefaultAuth(port, parts[0], anonymous);
      for (const p of parts) sock.write(p);
    });
    sock.on('data', (d) => {
      chunks.push(d);
      if (responseComplete(Buffer.concat(chunks))) finish();
    });
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', finish);
  });
}

/**
 * Byte length of the first complete HTTP response in buf, or -1 if incomplete.
 */
export function responseLength(buf) {
  const s = buf.toString('latin1');
  const he = s.indexOf('\r\n\r\n');
  if (he < 0) return -1;
  const head = s.slice(0, he);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
  const bodyStart = he + 4;
  if ((status >= 100 && status < 200) || status === 204 || status === 304) return bodyStart;
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) {
    const n = Number(cl[1]);
    return s.length >= bodyStart + n ? bodyStart + n : -1;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let i = bodyStart;
    for (;;) {
      const le = s.indexOf('\r\n', i);
      if (le < 0) return -1;
      const size = parseInt(s.slice(i, le), 16);
      if (Number.isNaN(size)) return -1;
      if (size === 0) {
        const end = s.indexOf('\r\n\r\n', le);
        return end < 0 ? -1 : end + 4;
      }
      i = le + 2 + size + 2;
      if (i > s.length) return -1;
    }
  }
  return -1; // read until close
}

function responseComplete(buf) {
  return responseLength(buf) >= 0;
}

/** Parse a raw response text: {status, headers, body} (status 0 if none). */
export function parseRawResponse(text) {
  const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text);
  if (!m) return { status: 0, headers: {}, body: text };
  const he = text.indexOf('\r\n\r\n');
  const head = he >= 0 ? text.slice(0, he) : text;
  const headers = {};
  for (const line of head.split('\r\n').slice(1)) {
    const c = line.indexOf(':');
    if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  let body = he >= 0 ? text.slice(he + 4) : '';
  if (/chunked/i.test(headers['transfer-encoding'] || '')) {
    let out = '';
    let i = 0;
    for (;;) {
      const le = body.indexOf('\r\n', i);
      if (le < 0) break;
      const size = parseInt(body.slice(i, le), 16);
      if (!size) break;
      out += body.slice(le + 2, le + 2 + size);
      i = le + 2 + size + 2;
    }
    body = out;
  }
  return { status: Number(m[1]), headers, body: Buffer.from(body, 'latin1').toString('utf8') };
}

/**
 * A keep-alive connection: send(bytes) resolves with the next complete
 * response text (or what arrived before close/timeout).
 */
export async function rawSession(port, { host = '127.0.0.1', anonymous = false } = {}) {
  const sock = net.connect({ host, port });
  await new Promise((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  let buf = Buffer.alloc(0);
  let closed = false;
  let waiter = null;
  const check = () => {
    if (!waiter) return;
    const n = responseLength(buf);
    if (n >= 0 || closed) {
      const take = n >= 0 ? n : buf.length;
      const out = buf.subarray(0, take).toString('latin1');
      buf = buf.subarray(take);
      const w = waiter;
      waiter = null;
      clearTimeout(w.timer);
      w.resolve(out);
    }
  };
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    check();
  });
  const onClose = () => {
    closed = true;
    check();
  };
  sock.on('close', onClose);
  sock.on('end', onClose);
  sock.on('error', onClose);
  return {
    send(bytes, timeoutMs = 5000) {
      return new Promise((resolve) => {
        waiter = {
          resolve,
          timer: setTimeout(() => {
            waiter = null;
            resolve(buf.toString('latin1'));
          }, timeoutMs),
        };
        if (!closed) sock.write(withDefaultAuth(port, bytes, anonymous));
        check();
      });
    },
    isClosed: () => closed,
    close: () => sock.destroy(),
  };
}

// --- assertions ---------------------------------------------------------------

const CJK = /[\u3400-\u9fff]/;

/**
 * Assert an error response: the status, JSON content type, and
 * {"error":{"code","message"(Chinese),"field"?}}. code may be a string or an
 * array of acceptable codes; opts.field requires error.field. Returns error.
 */
export function assertError(res, status, code, { field } = {}) {
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(res.status), `want status ${statuses.join('|')}, got ${show(res)}`);
  assertErrorShape(res);
  const err = res.json.error;
  if (code !== undefined) {
    const codes = Array.isArray(code) ? code : [code];
    assert.ok(codes.includes(err.code), `want error.code ${codes.join('|')}, got ${show(res)}`);
  }
  if (field !== undefined) assert.equal(err.field, field, `error.field; ${show(res)}`);
  return err;
}

/** The error body shape alone (any 4xx/5xx). */
export function assertErrorShape(res) {
  assert.ok(res.status >= 400, `want an error status, got ${show(res)}`);
  assert.match(res.headers['content-type'] || '', /^application\/json/i, `error content type; ${show(res)}`);
  assert.ok(res.json && typeof res.json === 'object', `error body is JSON; ${show(res)}`);
  const err = res.json.error;
  assert.ok(err && typeof err === 'object', `body has "error" object; ${show(res)}`);
  assert.equal(typeof err.code, 'string', `error.code is a string; ${show(res)}`);
  assert.match(err.code, /^[a-z_]+$/, `error.code is a snake_case code; ${show(res)}`);
  assert.equal(typeof err.message, 'string', `error.message is a string; ${show(res)}`);
  assert.match(err.message, CJK, `error.message is Chinese; ${show(res)}`);
  if ('field' in err && err.field !== null) assert.equal(typeof err.field, 'string');
}

/**
 * Assert a 422 validation_failed holding exactly the given field errors
 * (order-insensitive), each with field/code/message, error.field the first.
 * expected: [[field, code], ...]. With {exact:false} the listed ones must be
 * present among possibly more.
 */
export function assertFieldErrors(res, expected, { exact = true } = {}) {
  const err = assertError(res, 422, 'validation_failed');
  assert.ok(Array.isArray(err.errors), `error.errors is an array; ${show(res)}`);
  for (const e of err.errors) {
    assert.equal(typeof e.field, 'string', `errors[].field; ${show(res)}`);
    assert.equal(typeof e.code, 'string', `errors[].code; ${show(res)}`);
    assert.equal(typeof e.message, 'string', `errors[].message; ${show(res)}`);
    assert.match(e.message, CJK, `errors[].message is Chinese; ${show(res)}`);
  }
  assert.ok(err.errors.length > 0, 'at least one field error');
  assert.equal(err.field, err.errors[0].field, `error.field is the first error's field; ${show(res)}`);
  const got = err.errors.map((e) => `${e.field}:${e.code}`).sort();
  const want = expected.map(([f, c]) => `${f}:${c}`).sort();
  if (exact) assert.deepEqual(got, want, `field errors; ${show(res)}`);
  else for (const w of want) assert.ok(got.includes(w), `field error ${w} among ${got.join(', ')}`);
  return err;
}

/** RFC 3339 UTC instant ("...Z"). */
export function assertInstant(v, what = 'instant') {
  assert.equal(typeof v, 'string', `${what} is a string`);
  assert.match(v, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `${what} is RFC 3339 UTC: ${v}`);
  assert.ok(!Number.isNaN(Date.parse(v)), `${what} parses: ${v}`);
}

/**
 * Masks as security.md shows them (ID `120101********123X`, phone
 * `138****5678`, bank `**** 1234`). Sensitive fields may come masked when the
 * caller may not see them; equalOrMasked accepts the clear value or its mask
 * (same leading and trailing characters, '*' between).
 */
export function equalOrMasked(actual, clear) {
  if (actual === clear) return true;
  if (typeof actual !== 'string' || typeof clear !== 'string' || !actual.includes('*')) return false;
  const a = actual.replace(/\s/g, '');
  const head = /^[^*]*/.exec(a)[0];
  const tail = /[^*]*$/.exec(a)[0];
  return clear.startsWith(head) && clear.endsWith(tail) && head.length + tail.length < clear.length;
}

export function assertEqualOrMasked(actual, clear, what) {
  assert.ok(equalOrMasked(actual, clear), `${what}: want ${clear} (or its mask), got ${JSON.stringify(actual)}`);
}

// --- database snapshots ---------------------------------------------------------

/**
 * The list of an entity as {total, versions: Map(id -> version)} (up to 500
 * rows, sorted by id).
 */
export async function snapshot(srv, entity = 'sample_cases') {
  const r = await srv.api('GET', `/api/v1/${entity}?size=500&sort=id`);
  assert.equal(r.status, 200, `list for snapshot; ${show(r)}`);
  const versions = new Map();
  for (const row of r.json.items) versions.set(row.id, row.version);
  return { total: r.json.total, versions };
}

/** Assert the entity's rows are what snapshot() saw: same total, same ids and versions. */
export async function assertUnchanged(srv, before, entity = 'sample_cases') {
  const now = await snapshot(srv, entity);
  assert.equal(now.total, before.total, `${entity}: total unchanged`);
  assert.deepEqual([...now.versions.entries()], [...before.versions.entries()], `${entity}: ids and versions unchanged`);
}

// --- synthetic data ------------------------------------------------------------
// All numbers below are computed, never taken from real people or bodies. ID
// numbers use 和平区 (120101) and a 1960-2000 birth date.

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** GB 11643 check character for the first 17 digits. */
export function idCheckDigit(first17) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i];
  return ID_CHECK[sum % 11];
}

let idCounter = 0;
const DAY_MS = 86400000;
const ID_BIRTH_FROM = Date.UTC(1960, 0, 1);
const ID_BIRTH_DAYS = Math.round((Date.UTC(2000, 11, 31) - ID_BIRTH_FROM) / DAY_MS) + 1;

/**
 * A synthetic valid 18-character ID number in 和平区. Each call gives a new one
 * (birth 1960-2000 and sequence vary with a counter); options fix parts:
 * {birth:'1975-06-01', seq: 123 (3 digits; odd last digit = male), area:'120101'}.
 */
export function makeIdNumber({ birth, seq, area = '120101' } = {}) {
  const n = idCounter++;
  if (!birth) {
    const day = (n * 7919 + 1234) % ID_BIRTH_DAYS;
    birth = new Date(ID_BIRTH_FROM + day * DAY_MS).toISOString().slice(0, 10);
  }
  if (seq === undefined) seq = 100 + ((n * 37 + Math.floor(n / ID_BIRTH_DAYS)) % 900);
  const first17 = area + birth.replaceAll('-', '') + String(seq).padStart(3, '0');
  return first17 + idCheckDigit(first17);
}

/** The same ID number with a wrong check character. */
export function withBadIdCheck(id) {
  const good = id[17];
  const bad = ID_CHECK.split('').find((c) => c !== good);
  return id.slice(0, 17) + bad;
}

/** The 15-digit (first generation) form of an 18-character ID born in 19xx. */
export function toId15(id18) {
  assert.equal(id18.slice(6, 8), '19', '15-digit IDs exist only for births in 19xx');
  return id18.slice(0, 6) + id18.slice(8, 17);
}

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = Array.from({ length: 17 }, (_, i) => Number(3n ** BigInt(i) % 31n));
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];

/** GB 11714 organisation code check for 8 characters (digits here). */
export function orgCodeCheck(first8) {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += USCC_CHARS.indexOf(first8[i]) * ORG_WEIGHTS[i];
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/** GB 32100 check character for the first 17 characters. */
export function usccCheck(first17) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_CHARS.indexOf(first17[i]) * USCC_WEIGHTS[i];
  return USCC_CHARS[(31 - (sum % 31)) % 31];
}

let usccCounter = 0;
/** A synthetic valid USCC: "91" (enterprise) + 120101 + org code (8 digits + check) + check. */
export function makeUscc() {
  const n = usccCounter++;
  const org8 = String(10000000 + ((n * 7477 + 31) % 89999999)).slice(0, 8);
  const first17 = '91' + '120101' + org8 + orgCodeCheck(org8);
  return first17 + usccCheck(first17);
}

/** The same USCC with a wrong final check character. */
export function withBadUsccCheck(code) {
  const good = code[17];
  const bad = USCC_CHARS.split('').find((c) => c !== good);
  return code.slice(0, 17) + bad;
}

/** Luhn check digit for a digit string (the payload without the check digit). */
export function luhnCheckDigit(payload) {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

let cardCounter = 0;
/** A synthetic 16-digit card number passing Luhn. */
export function makeBankCard() {
  const n = cardCounter++;
  const payload = '622202' + String(100000000 + ((n * 104729) % 899999999)).slice(0, 9);
  return payload + luhnCheckDigit(payload);
}

/** The same card with its last digit changed (fails Luhn). */
export function withBadLuhn(card) {
  const d = Number(card.at(-1));
  return card.slice(0, -1) + String((d + 1) % 10);
}

let phoneCounter = 0;
/** A mobile number 1380000xxxx (new each call). */
export function makePhone() {
  return '1380000' + String(phoneCounter++ % 10000).padStart(4, '0');
}

let codeCounter = 0;
/** A fresh value for sample_cases.code (^[A-Z]{2}[0-9]{4}$). */
export function makeCode(prefix = 'TC') {
  return prefix + String(codeCounter++ % 10000).padStart(4, '0');
}

/**
 * A valid sample_cases body with the required fields (title, apply_date,
 * division). Overrides replace fields; an override of undefined removes it.
 */
export function validCase(overrides = {}) {
  const body = {
    title: '测试案件',
    apply_date: '2024-03-01',
    division: '120101001001',
  };
  return applyOverrides(body, overrides);
}

/** A sample_cases body with every client-settable field set to a valid value. */
export function fullCase(overrides = {}) {
  const body = {
    title: '困难家庭临时救助',
    code: makeCode(),
    applicant_id: makeIdNumber(),
    phone: makePhone(),
    amount_fen: 123456,
    apply_date: '2024-03-01',
    division: '120101001001',
    kind: 'b',
    members: 3,
    urgent: true,
    org_uscc: makeUscc(),
    bank_card: makeBankCard(),
    visited_at: '2024-03-02T08:30:00Z',
    extra: { note: '附加，"信息"', list: [1, 2, 3] },
  };
  return applyOverrides(body, overrides);
}

function applyOverrides(body, overrides) {
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete body[k];
    else body[k] = v;
  }
  return body;
}

/** Create a sample case (201 required) and return the row. */
export async function createCase(srv, overrides = {}, { full = false } = {}) {
  const body = full ? fullCase(overrides) : validCase(overrides);
  const r = await srv.api('POST', '/api/v1/sample_cases', body);
  assert.equal(r.status, 201, `create case; ${show(r)}`);
  return r.json;
}

// --- Assistance ------------------------------------------------------------------

/**
 * 低保 cases being paid from October 2025, as the payroll and reconciliation
 * suites need them. Each spec { name, birth, income, division, account = true,
 * child = false, seq } makes a person (and a child of 2015 when asked) and a case
 * from 2025-10 walked up to publicise on the server's day (start it with
 * MZ_TEST_TODAY 2025-10-01); then the server is restarted on the same database
 * on 2025-10-08, past the publicity period, and each case approved and set paying.
 * Returns the restarted server and the cases as created.
 */
export async function payingDibaoCases(srv, specs) {
  const want = async (res, status) => {
    assert.equal(res.status, status, show(res));
    return res.json;
  };
  const CASES = '/api/v1/assistance_cases';
  const act = (s, id, action) => s.api('POST', `${CASES}/${id}/actions/${action}`, { comment: '测试' });
  const cases = [];
  for (const { name, birth, income, division, account = true, child = false, seq, childSeq } of specs) {
    const p = await want(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth, seq }), name, hukou_division: division }), 201);
    const members = [{ person_id: p.id, monthly_income_fen: income, authorisation_scan: 'scan' }];
    if (child) {
      const k = await want(await srv.api('POST', '/api/v1/persons', { id_number: makeIdNumber({ birth: '2015-06-06', seq: childSeq }), name: `${name}子`, hukou_division: division }), 201);
      members.push({ person_id: k.id, relation: 'child', monthly_income_fen: 0, categories: ['minor'] });
    }
    const c = await want(await srv.api('POST', CASES, {
      program: 'dibao', applicant_person_id: p.id, division, start_month: '2025-10', members,
      ...(account ? { bank_account: makeBankCard() } : {}),
    }), 201);
    for (const a of ['accept', 'investigate', 'verify', 'deliberate', 'review', 'publicise']) await want(await act(srv, c.id, a), 200);
    cases.push(c);
  }
  await srv.stop({ keepDir: true });
  const later = await startServer({ db: srv.dbPath, env: { MZ_TEST_TODAY: '2025-10-08' } });
  for (const c of cases) {
    await want(await act(later, c.id, 'approve'), 200);
    await want(await act(later, c.id, 'pay'), 200);
  }
  return { srv: later, cases };
}

// --- CSV --------------------------------------------------------------------------

/** Parse RFC 4180 CSV text (BOM stripped) into an array of rows of strings. */
export function parseCsv(text) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows = [];
  let row = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      cell += c;
      i++;
      continue;
    }
    if (c === '"') {
      quoted = true;
      i++;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
      i++;
    } else if (c === '\r' || c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      cell += c;
      i++;
    }
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** Quote one CSV cell when needed. */
export function csvCell(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Build CSV text (CRLF, no BOM) from rows of values. */
export function toCsv(rows) {
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/** Sleep ms. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
