// bench/browser_trace.mjs - the workbench's first load on one or more servers (the same
// database; e.g. an old and a new build), alternated, each load traced by chromium:
// the renderer main thread's CPU (thread time of its top-level tasks, navigation start
// -> the first 工作台 key figure laid out, as bench/browser.mjs's first load), the wall time
// to that figure and the requests made before it; medians per server. Unlike CDP
// getMetrics, read after the figure, the thread time stops at the figure and is little
// moved by other processes' load. Used for the before/after pairs in bench/notes.md.
//
// Usage: node bench/browser_trace.mjs --user NAME --password-file FILE [--rounds 6] BASE...
// Chromium is Debian's ($MZ_CHROMIUM or /usr/bin/chromium), headless, loopback servers only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf('--' + name); return i >= 0 ? argv.splice(i, 2)[1] : def; };
const user = opt('user', 'bench');
const pwfile = opt('password-file');
const rounds = Number(opt('rounds', 6));
const bases = argv;
if (!pwfile || !bases.length) {
  console.error('usage: node bench/browser_trace.mjs --user NAME --password-file FILE [--rounds N] BASE...');
  process.exit(2);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-trace-'));
const password = fs.readFileSync(pwfile, 'utf8').split('\n')[0];
const browser = await chromium.launch({ executablePath: process.env.MZ_CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const cookies = {};
for (const base of bases) {
  const login = await fetch(base + '/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: user, password }) });
  cookies[base] = { name: 'mz_session', value: /mz_session=([^;]+)/.exec(login.headers.get('set-cookie'))[1], url: base };
}
const watch = `(() => {
  const seen = () => { const el = document.querySelector('.home-figure'); return el && el.getBoundingClientRect().height > 0; };
  const obs = new MutationObserver(() => { if (window.__mzVisible === undefined && seen()) { window.__mzVisible = performance.now(); performance.mark('mz-figure'); obs.disconnect(); } });
  document.addEventListener('DOMContentLoaded', () => obs.observe(document.body, { childList: true, subtree: true, attributes: true }));
})();`;
function mainCpu(file) {
  const ev = JSON.parse(fs.readFileSync(file, 'utf8')).traceEvents;
  const mark = ev.find((e) => e.name === 'mz-figure');
  const key = mark.pid + ':' + mark.tid;
  const t0 = ev.find((e) => e.name === 'navigationStart' && e.args?.data?.isLoadingMainFrame && e.pid + ':' + e.tid === key)?.ts
    ?? Math.min(...ev.filter((e) => e.pid + ':' + e.tid === key && e.ts).map((e) => e.ts));
  const xs = ev.filter((e) => e.pid + ':' + e.tid === key && e.ph === 'X' && e.dur !== undefined && e.ts >= t0 && e.ts <= mark.ts).sort((a, b) => a.ts - b.ts);
  let end = 0, thr = 0, wall = 0;
  for (const e of xs) { if (e.ts >= end) { thr += e.tdur ?? 0; wall += e.dur; end = e.ts + e.dur; } }
  return { thr: thr / 1000, busy: wall / 1000 };
}
const res = Object.fromEntries(bases.map((b) => [b, []]));
async function one(base, trace, i) {
  const ctx = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1366, height: 900 } });
  await ctx.addCookies([cookies[base]]);
  await ctx.addInitScript(watch);
  const page = await ctx.newPage();
  let reqs = 0;
  page.on('request', () => reqs++);
  const file = path.join(tmp, `trace-${i}.json`);
  if (trace) await browser.startTracing(page, { path: file, categories: ['toplevel', 'devtools.timeline', 'blink.user_timing'] });
  await page.goto(base + '/');
  await page.waitForFunction(() => window.__mzVisible !== undefined, null, { timeout: 30000 });
  const t = await page.evaluate(() => window.__mzVisible);
  const n = reqs;
  if (trace) await browser.stopTracing();
  await ctx.close();
  if (!trace) return;
  const c = mainCpu(file);
  fs.unlinkSync(file);
  res[base].push({ t, ...c, reqs: n });
}
for (const b of bases) await one(b, false, 0);
for (let r = 0; r < rounds; r++) for (const [k, b] of bases.entries()) await one(b, true, k);
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const b of bases) {
  const xs = res[b];
  console.log(`${b}: figure ${med(xs.map((x) => x.t)).toFixed(0)} ms, main-thread CPU ${med(xs.map((x) => x.thr)).toFixed(0)} ms (busy ${med(xs.map((x) => x.busy)).toFixed(0)} ms), requests ${med(xs.map((x) => x.reqs))}; CPU runs ${xs.map((x) => x.thr.toFixed(0)).join(' ')}`);
}
await browser.close();
fs.rmSync(tmp, { recursive: true, force: true });
