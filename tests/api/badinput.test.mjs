// badinput.test.mjs - hostile and malformed input at the HTTP and JSON layers.
// Every case gets a clean 4xx (or, for protocol garbage, a closed connection),
// the server keeps answering, and the database is unchanged at the end.
// Reference: docs/api.md ("Errors"), /work/shared/docs/security.md
// ("Input and protocol"), include/mz/json.h (what the decoder rejects).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startServer, assertError, assertErrorShape, rawRequest, rawSession, parseRawResponse, snapshot,
  assertUnchanged, createCase, validCase, show,
} from './lib.mjs';

const CASES = '/api/v1/sample_cases';
let srv;
let initial; // snapshot after seeding; every test must leave it as is

before(async () => {
  srv = await startServer();
  for (const t of ['坏输入一', '坏输入二', '坏输入三']) await createCase(srv, { title: t });
  initial = await snapshot(srv);
});
after(async () => {
  await srv?.stop();
});

/** POST raw bytes as JSON to the collection. */
const postRaw = (bytes, type = 'application/json') =>
  srv.api('POST', CASES, bytes, { raw: true, headers: { 'Content-Type': type } });

/** A request head for raw sockets. */
function head(method, path, headers = {}) {
  const h = { Host: `127.0.0.1:${srv.port}`, ...headers };
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** The server still answers /health with ok. */
async function assertAlive() {
  assert.ok(srv.alive(), 'server process running');
  const r = await srv.api('GET', '/api/v1/health');
  assert.equal(r.status, 200, show(r));
  assert.equal(r.json.status, 'ok');
}

/**
 * Send a head, then up to `total` body bytes (raw, or chunked), stopping as
 * soon as a response arrives or the server closes. Returns the response text.
 */
function sendLarge(headText, total, { chunked = false } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port: srv.port });
    const got = [];
    let stop = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      stop = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(got).toString('latin1'));
    };
    const timer = setTimeout(finish, 20000);
    sock.on('data', (d) => {
      got.push(d);
      stop = true;
      // Give the rest of the response a moment to arrive.
      setTimeout(finish, 300);
    });
    sock.on('close', finish);
    sock.on('error', () => {
      stop = true;
      setTimeout(finish, 100);
    });
    sock.on('connect', async () => {
      sock.write(headText);
      await new Promise((r) => setTimeout(r, 150)); // a server may answer from the head alone
      const piece = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      while (!stop && sent < total) {
        const n = Math.min(piece.length, total - sent);
        const data = chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from('\r\n')]) : piece.subarray(0, n);
        sent += n;
        if (!sock.write(data)) await new Promise((r) => sock.once('drain', r).once('close', r));
      }
      if (!stop && chunked) sock.write('0\r\n\r\n');
    });
  });
}

describe('malformed JSON bodies (400 bad_json)', () => {
  const good = JSON.stringify(validCase({ title: '合法' })).slice(1, -1); // members without braces
  const cases = [
    ['truncated', '{"title":"截断",'],
    ['unquoted keys', '{title:"abc"}'],
    ['single quotes', "{'title':'abc'}"],
    ['trailing garbage', `{${good}} x`],
    ['trailing comma', `{${good},}`],
    ['empty body', ''],
    ['duplicate keys', `{${good},"title":"重复键"}`],
    ['duplicate keys, same value', '{"title":"ab","title":"ab","apply_date":"2024-03-01","division":"120101001001"}'],
    ['integer 2^63', `{${good},"amount_fen":9223372036854775808}`],
    ['integer -2^63-1', `{${good},"members":-9223372036854775809}`],
    ['huge integer', `{${good},"amount_fen":123456789012345678901234567890}`],
    ['nesting deeper than 32', `{${good},"extra":${'['.repeat(40)}${']'.repeat(40)}}`],
    ['very deep nesting', `{${good},"extra":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`],
    ['NUL escaped in a string', `{${good},"extra":"a\\u0000b"}`],
  ];
  for (const [what, text] of cases) {
    it(what, async () => {
      const r = await postRaw(Buffer.from(text, 'utf8'));
      assertError(r, 400, 'bad_json');
      await assertUnchanged(srv, initial);
    });
  }

  // Invalid UTF-8 inside a string: lone continuation, truncated sequence, overlong, surrogate, 0xFF.
  const badUtf8 = [
    ['C3 28', [0xc3, 0x28]],
    ['lone 80', [0x80]],
    ['truncated E4 B8', [0xe4, 0xb8]],
    ['overlong C0 AF', [0xc0, 0xaf]],
    ['UTF-16 surrogate ED A0 80', [0xed, 0xa0, 0x80]],
    ['FF', [0xff]],
  ];
  for (const [what, bytes] of badUtf8) {
    it(`invalid UTF-8 in a string (${what})`, async () => {
      const body = Buffer.concat([Buffer.from('{"title":"坏'), Buffer.from(bytes), Buffer.from('字","apply_date":"2024-03-01","division":"120101001001"}')]);
      assertError(await postRaw(body), 400, 'bad_json');
      await assertUnchanged(srv, initial);
    });
  }

  // The largest int64 is valid JSON; it is then a field error (too_large), not bad_json.
  it('int64 max parses, and fails validation as too_large', async () => {
    const r = await postRaw(Buffer.from(`{${good},"amount_fen":9223372036854775807}`));
    assert.equal(r.status, 422, show(r));
    assert.ok(r.json.error.errors.some((e) => e.field === 'amount_fen' && e.code === 'too_large'), show(r));
  });
});

describe('JSON that is not an object (400 bad_request)', () => {
  for (const text of ['[]', '[{"title":"数组"}]', '"字符串"', '42', 'null', 'true']) {
    it(`body ${text}`, async () => {
      assertError(await postRaw(Buffer.from(text)), 400, 'bad_request');
      await assertUnchanged(srv, initial);
    });
  }
});

describe('content types', () => {
  // A JSON route with another Content-Type: 415.
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
    it(`${type} is 415 unsupported_media_type`, async () => {
      const r = await postRaw(Buffer.from(JSON.stringify(validCase({ title: '类型错误' }))), type);
      assertError(r, 415, 'unsupported_media_type');
      await assertUnchanged(srv, initial);
    });
  }
  it('a PATCH with text/plain is 415 too', async () => {
    const id = [...initial.versions.keys()][0];
    const r = await srv.api('PATCH', `${CASES}/${id}`, JSON.stringify({ version: 1, title: '改' }), { raw: true, headers: { 'Content-Type': 'text/plain' } });
    assertError(r, 415, 'unsupported_media_type');
    await assertUnchanged(srv, initial);
  });
  // Positive control: the charset parameter is fine. (Deleted again so the snapshot holds.)
  it('application/json; charset=utf-8 is accepted', async () => {
    const r = await postRaw(Buffer.from(JSON.stringify(validCase({ title: '字符集' }))), 'application/json; charset=utf-8');
    assert.equal(r.status, 201, show(r));
    assert.equal((await srv.api('DELETE', `${CASES}/${r.json.id}`)).status, 204);
    await assertUnchanged(srv, initial);
  });
});

describe('body size limits (413 body_too_large)', () => {
  const check413 = (text) => {
    const res = parseRawResponse(text);
    assert.equal(res.status, 413, `want 413, got: ${text.slice(0, 300)}`);
    if (res.body) assert.equal(JSON.parse(res.body).error.code, 'body_too_large');
  };
  it('10 MB with Content-Length', async () => {
    const total = 10 * 1024 * 1024;
    const text = await sendLarge(head('POST', CASES, { 'Content-Type': 'application/json', 'Content-Length': total, Connection: 'close' }), total);
    check413(text);
    await assertAlive();
    await assertUnchanged(srv, initial);
  });
  it('10 MB chunked', async () => {
    const text = await sendLarge(head('POST', CASES, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', Connection: 'close' }), 10 * 1024 * 1024, { chunked: true });
    check413(text);
    await assertAlive();
    await assertUnchanged(srv, initial);
  });
  // Just over the 1 MiB JSON cap, as a well-formed JSON document.
  it('a 2 MiB JSON document is 413', async () => {
    const doc = JSON.stringify(validCase({ extra: 'x'.repeat(2 * 1024 * 1024) }));
    const text = await sendLarge(head('POST', CASES, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(doc), Connection: 'close' }), Buffer.byteLength(doc));
    check413(text);
    await assertAlive();
  });
  // Under the cap but over the field's limit: a field error, not 413.
  it('a 600 KB title is 422 too_long', async () => {
    const r = await srv.api('POST', CASES, validCase({ title: '长'.repeat(200 * 1024) }));
    assert.equal(r.status, 422, show(r));
    assert.ok(r.json.error.errors.some((e) => e.field === 'title' && e.code === 'too_long'));
    await assertUnchanged(srv, initial);
  });
  it('a JSON field over 64 KiB is 422 too_long', async () => {
    const r = await srv.api('POST', CASES, validCase({ extra: 'x'.repeat(70000) }));
    assert.equal(r.status, 422, show(r));
    assert.ok(r.json.error.errors.some((e) => e.field === 'extra' && e.code === 'too_long'), show(r));
    await assertUnchanged(srv, initial);
  });
});

describe('header floods', () => {
  // 2000 headers, or one 100 KB header: a 4xx, or the connection closed without a reply.
  const acceptable = (text) => {
    if (text === '') return; // closed without a response
    const res = parseRawResponse(text);
    assert.ok(res.status >= 400 && res.status < 500, `want 4xx or close, got: ${text.slice(0, 200)}`);
  };
  it('2000 headers', async () => {
    const h = {};
    for (let i = 0; i < 2000; i++) h[`X-Flood-${i}`] = `value-${i}`;
    acceptable(await rawRequest(srv.port, head('GET', '/api/v1/health', { ...h, Connection: 'close' })));
    await assertAlive();
  });
  it('a 100 KB header', async () => {
    acceptable(await rawRequest(srv.port, head('GET', '/api/v1/health', { 'X-Big': 'a'.repeat(100 * 1024), Connection: 'close' })));
    await assertAlive();
  });
  // A long URL may also be served (a filter value that matches nothing).
  it('a 100 KB URL', async () => {
    const text = await rawRequest(srv.port, head('GET', `${CASES}?title=${'a'.repeat(100 * 1024)}`, { Connection: 'close' }));
    const res = parseRawResponse(text);
    if (res.status === 200) assert.equal(JSON.parse(res.body).total, 0);
    else acceptable(text);
    await assertAlive();
  });
});

describe('path traversal', () => {
  // Never the file, always 400 or 404.
  const paths = [
    '/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/..%2f..%2fetc/passwd',
    '/api/v1/../../../../etc/passwd',
    '/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/..\\..\\etc\\passwd',
    '/%252e%252e/%252e%252e/etc/passwd',
    '//etc/passwd',
    '/api/v1/sample_cases/..%2f..%2f..%2fetc%2fpasswd',
  ];
  for (const p of paths) {
    it(`GET ${p}`, async () => {
      const text = await rawRequest(srv.port, head('GET', p, { Connection: 'close' }));
      const res = parseRawResponse(text);
      // 400/404; or, when the web app is built, 200 with the app's own
      // index.html (the single-page app's fallback for unknown paths).
      const spa = res.status === 200 && /<!doctype html>/i.test(res.body) && /content-type: text\/html/i.test(text);
      assert.ok(res.status === 400 || res.status === 404 || spa, `want 400/404, got: ${text.slice(0, 200)}`);
      assert.doesNotMatch(text, /root:.*:0:0:/, 'no /etc/passwd content');
    });
  }
  it('a NUL in the path is 400 or 404', async () => {
    const r = await srv.api('GET', `${CASES}/1%00`);
    assertError(r, [400, 404]);
  });
});

describe('protocol', () => {
  // A body shorter than its Content-Length, then the client goes away.
  it('a truncated body (Content-Length 100, 10 bytes sent, closed) leaves the server alive', async () => {
    await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: srv.port }, () => {
        s.write(head('POST', CASES, { 'Content-Type': 'application/json', 'Content-Length': 100 }));
        s.end('{"title":"');
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 200);
      });
      s.on('error', resolve);
    });
    await assertAlive();
    await assertUnchanged(srv, initial);
  });

  // Methods the path does not have: 405 method_not_allowed.
  for (const [m, p] of [['PUT', CASES], ['PUT', `${CASES}/1`], ['DELETE', CASES], ['PATCH', CASES], ['POST', `${CASES}/1`], ['POST', '/api/v1/health']]) {
    it(`${m} ${p} is 405`, async () => {
      const r = await srv.api(m, p, m === 'DELETE' ? undefined : { title: 'x' });
      assertError(r, 405, 'method_not_allowed');
      await assertUnchanged(srv, initial);
    });
  }

  // Two requests on one connection, both answered.
  it('keep-alive: two requests on one connection', async () => {
    const s = await rawSession(srv.port);
    try {
      const a = parseRawResponse(await s.send(head('GET', '/api/v1/health')));
      assert.equal(a.status, 200);
      assert.equal(JSON.parse(a.body).status, 'ok');
      const b = parseRawResponse(await s.send(head('GET', `${CASES}?size=1`)));
      assert.equal(b.status, 200);
      assert.equal(JSON.parse(b.body).total, initial.total);
    } finally {
      s.close();
    }
  });

  // Garbage request lines: 400 or closed; the server survives.
  for (const line of ['GARBAGE\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET\r\n\r\n', '\x00\x01\x02\x03\r\n\r\n', 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcdefg']) {
    it(`bad request ${JSON.stringify(line.slice(0, 40))}`, async () => {
      const text = await rawRequest(srv.port, line, { timeoutMs: 3000 });
      if (text !== '') {
        const st = parseRawResponse(text).status;
        assert.ok(st >= 400 && st < 600 && st !== 500, `want 4xx/505 or close, got: ${text.slice(0, 200)}`);
      }
      await assertAlive();
    });
  }
});

describe('afterwards', () => {
  // Nothing above changed the data; the server is healthy.
  it('the database is unchanged and health is ok', async () => {
    await assertUnchanged(srv, initial);
    await assertAlive();
  });
  it('errors still have the shape', async () => {
    assertErrorShape(await srv.api('GET', `${CASES}/abc`));
  });
});
