// shutdown.test.mjs - the process around the API: graceful stop on SIGTERM,
// command-line errors and --help, init idempotence and unusable paths, and the
// check-id / check-uscc commands.
// Reference: /work/shared/docs/contract.md ("Command line"), include/mz/cli.h
// (exit codes: 0 success, 1 negative answer, 2 usage error).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, runCli, binPath, rawSession, makeIdNumber, withBadIdCheck, idCheckDigit, makeUscc,
  withBadUsccCheck, createCase, show,
} from './lib.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-cli-'));
after(() => {
  if (!process.env.MZ_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Parse a command's stdout as one JSON document. */
function stdoutJson(r) {
  try {
    return JSON.parse(r.stdout.trim());
  } catch {
    assert.fail(`stdout is not JSON: ${JSON.stringify(r.stdout)} (stderr ${JSON.stringify(r.stderr)})`);
  }
}

describe('graceful shutdown', () => {
  // SIGTERM: exit code 0 (no signal) within 5 s; stop() enforces both.
  it('SIGTERM ends the server with exit code 0 within 5 s', async () => {
    const srv = await startServer();
    const r = await srv.api('GET', '/api/v1/health').catch(async (e) => {
      await srv.stop();
      throw e;
    });
    assert.equal(r.status, 200, show(r));
    const t0 = Date.now();
    await srv.stop();
    assert.ok(Date.now() - t0 < 5000, 'stopped within 5 s');
    assert.equal(srv.proc.exitCode, 0);
    assert.equal(srv.proc.signalCode, null);
  });

  // An idle keep-alive connection does not hold the shutdown up.
  it('SIGTERM with an idle keep-alive connection still exits 0 within 5 s', async () => {
    const srv = await startServer();
    const s = await rawSession(srv.port);
    let text;
    try {
      text = await s.send(`GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      const t0 = Date.now();
      await srv.stop();
      assert.ok(Date.now() - t0 < 5000, 'stopped within 5 s');
    } finally {
      s.close();
      await srv.stop();
    }
    assert.match(text, /^HTTP\/1\.1 200/);
  });

  // SIGINT (Ctrl-C) is a graceful stop too.
  it('SIGINT ends the server with exit code 0', async () => {
    const srv = await startServer();
    const exit = new Promise((r) => srv.proc.once('exit', (code, signal) => r({ code, signal })));
    srv.proc.kill('SIGINT');
    let timer;
    const timeout = new Promise((r) => (timer = setTimeout(() => r('timeout'), 5000)));
    const res = await Promise.race([exit, timeout]);
    clearTimeout(timer);
    assert.notEqual(res, 'timeout', 'exited within 5 s');
    assert.deepEqual(res, { code: 0, signal: null });
    await srv.stop(); // collects output, checks for sanitizer reports
  });

  // Acknowledged writes survive a restart on the same database (init again is a no-op).
  it('data written before SIGTERM is there after a restart', async () => {
    const srv = await startServer();
    let c;
    try {
      c = await createCase(srv, { title: '重启后仍在' });
    } finally {
      await srv.stop({ keepDir: true });
    }
    const again = await startServer({ db: srv.dbPath });
    try {
      const g = await again.api('GET', `/api/v1/sample_cases/${c.id}`);
      assert.equal(g.status, 200, show(g));
      assert.equal(g.json.title, '重启后仍在');
      assert.equal(g.json.version, 1);
    } finally {
      await again.stop();
      fs.rmSync(srv.dir, { recursive: true, force: true });
    }
  });
});

describe('command line', () => {
  // Unknown options are a usage error: exit 2 with a message.
  it('serve --bogus exits 2 with a message', () => {
    const r = runCli(['serve', '--db', path.join(tmp, 'bogus.db'), '--bogus']);
    assert.equal(r.status, 2, `exit status; stderr ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0, 'a message on stderr');
    const r2 = runCli(['serve', '--bogus']);
    assert.equal(r2.status, 2);
  });
  it('init --bogus exits 2', () => {
    assert.equal(runCli(['init', '--db', path.join(tmp, 'b2.db'), '--bogus']).status, 2);
  });
  it('an unknown command exits 2', () => {
    const r = runCli(['frobnicate']);
    assert.equal(r.status, 2);
    assert.ok(r.stderr.trim().length > 0, 'a message on stderr');
  });
  it('no command at all exits 2 (with usage)', () => {
    const r = runCli([]);
    assert.equal(r.status, 2);
    assert.ok((r.stdout + r.stderr).trim().length > 0, 'says something');
  });
  it('init without --db (and no MZ_DB) exits 2', () => {
    assert.equal(runCli(['init']).status, 2);
  });

  // --help on the binary and on each command: exit 0 with usage on stdout.
  for (const [args, mentions] of [
    [['--help'], ['init', 'serve', 'check-id']],
    [['init', '--help'], ['--db']],
    [['serve', '--help'], ['--db', '--listen']],
    [['check-id', '--help'], []],
    [['check-uscc', '--help'], []],
  ]) {
    it(`${args.join(' ')} exits 0 and prints usage`, () => {
      const r = runCli(args);
      assert.equal(r.status, 0, `exit status; stderr ${r.stderr}`);
      assert.match(r.stdout, /usage|用法/i, 'usage on stdout');
      for (const m of mentions) assert.ok(r.stdout.includes(m), `mentions ${m}`);
    });
  }

  // init is idempotent: twice on the same file, exit 0 both times.
  it('init twice is idempotent', () => {
    const db = path.join(tmp, 'twice.db');
    const a = runCli(['init', '--db', db]);
    assert.equal(a.status, 0, a.stderr);
    assert.ok(fs.existsSync(db), 'database file created');
    const b = runCli(['init', '--db', db]);
    assert.equal(b.status, 0, b.stderr);
  });

  // A path that cannot be created: exit 2 with a message, nothing created.
  it('init on /nonexistent/dir/x.db exits 2 with a message', () => {
    const r = runCli(['init', '--db', '/nonexistent/dir/x.db']);
    assert.equal(r.status, 2, `exit status; stderr ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0, 'a message on stderr');
    assert.ok(!fs.existsSync('/nonexistent/dir/x.db'));
  });

  it('serve on an unusable database path exits 2', () => {
    const r = runCli(['serve', '--db', '/nonexistent/dir/x.db', '--listen', '127.0.0.1:0'], { timeout: 10000 });
    assert.equal(r.status, 2, `exit status; stderr ${r.stderr}`);
  });

  it('serve with a malformed --listen exits 2', () => {
    const db = path.join(tmp, 'listen.db');
    assert.equal(runCli(['init', '--db', db]).status, 0);
    const r = runCli(['serve', '--db', db, '--listen', 'not-an-address'], { timeout: 10000 });
    assert.equal(r.status, 2, `exit status; stderr ${r.stderr}`);
  });

  // The spawned binary is the one under test (a sanity check of the harness).
  it('the binary under test exists and is executable', () => {
    fs.accessSync(binPath(), fs.constants.X_OK);
  });
});

describe('check-id', () => {
  // A valid synthetic number: {"valid":true,"birth","sex","division","division_name"}, exit 0.
  it('a valid ID number: exit 0 and its facts', () => {
    const id = makeIdNumber({ birth: '1975-06-01', seq: 123 }); // odd sequence: male
    const r = runCli(['check-id', id]);
    assert.equal(r.status, 0, r.stderr);
    const j = stdoutJson(r);
    assert.equal(j.valid, true);
    assert.equal(j.birth, '1975-06-01');
    assert.equal(j.sex, 'M');
    assert.equal(j.division, '120101');
    assert.equal(j.division_name, '和平区');
  });
  it('a female ID number (even sequence digit)', () => {
    const r = runCli(['check-id', makeIdNumber({ birth: '1990-12-31', seq: 224 })]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(stdoutJson(r).sex, 'F');
  });
  // Wrong check character: {"valid":false,"reason"}, exit 1.
  for (const [what, id] of [
    ['wrong check digit', withBadIdCheck(makeIdNumber())],
    ['impossible date', '12010119990231123' + idCheckDigit('12010119990231123')],
    ['too short', '12010119800101'],
    ['letters', 'ABCDEFGHIJKLMNOPQR'],
  ]) {
    it(`${what}: exit 1 with valid false and a reason`, () => {
      const r = runCli(['check-id', id]);
      assert.equal(r.status, 1, r.stderr);
      const j = stdoutJson(r);
      assert.equal(j.valid, false);
      assert.equal(typeof j.reason, 'string');
      assert.ok(j.reason.length > 0);
    });
  }
  it('no argument is a usage error (exit 2)', () => {
    assert.equal(runCli(['check-id']).status, 2);
  });
});

describe('check-uscc', () => {
  it('a valid credit code: exit 0, valid true', () => {
    const r = runCli(['check-uscc', makeUscc()]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(stdoutJson(r).valid, true);
  });
  for (const [what, code] of [
    ['wrong check character', withBadUsccCheck(makeUscc())],
    ['too short', '91120101'],
    ['forbidden letter I', 'I1120101MA05K1234X'],
  ]) {
    it(`${what}: exit 1 with valid false and a reason`, () => {
      const r = runCli(['check-uscc', code]);
      assert.equal(r.status, 1, r.stderr);
      const j = stdoutJson(r);
      assert.equal(j.valid, false);
      assert.equal(typeof j.reason, 'string');
    });
  }
  it('no argument is a usage error (exit 2)', () => {
    assert.equal(runCli(['check-uscc']).status, 2);
  });
});
