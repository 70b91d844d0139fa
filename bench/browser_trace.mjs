// bench/browser_trace.mjs - the workbench's first load on one or more servers (the same
// database; e.g. an old and a new build), alternated, each load traced by chromium:
// the renderer main thread's CPU (thread time of its top-level tasks, navigation start
// -> the first 工作台 key figure laid out, as bench/browser.mjs's first load), the wall time
// to that figure, the CPU of all chromium's threads in that time and the requests made
// before the figure; medians per server. Unlike CDP
// getMetrics, read after the figure, the thread time stops at the figure and is little
// moved by other processes' load. Used for the before/after pairs in bench/notes.md.
//
// Usage: node bench/browser_trace.mjs --user NAME --password-file FILE [--rounds 6] BASE...
// Chromium is Debian's ($MZ_CHROMIUM or /usr/bin/chromium), launched and waited on as in
// bench/browser.mjs (bench/chromium.mjs), loopback servers only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONTEXT_OPTIONS, FIGURE_SCRIPT, firstFigure, launchChromium, sessionCookie } from './chromium.mjs';

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
const browser = await launchChromium();
const cookies = {};
for (const base of bases) cookies[base] = await sessionCookie(base, user, password);
function mainCpu(file) {
  const ev = JSON.parse(fs.readFileSync(file, 'utf8')).traceEvents;
  const mark = ev.find((e) => e.name === 'mz-figure');
  const key = mark.pid + ':' + mark.tid;
  const t0 = ev.find((e) => e.name === 'navigationStart' && e.args?.data?.isLoadingMainFrame && e.pid + ':' + e.tid === key)?.ts
    ?? Math.min(...ev.filter((e) => e.pid + ':' + e.tid === key && e.ts).map((e) => e.ts));
  // Thread time of each thread's top-level tasks in [t0, figure]: the main thread's, and
  // every thread's of every chromium process (renderer workers, browser, GPU/compositor).
  const threads = new Map();
  for (const e of ev) {
    if (e.ph !== 'X' || e.dur === undefined || e.ts < t0 || e.ts > mark.ts) continue;
    const k = e.pid + ':' + e.tid;
    if (!threads.has(k)) threads.set(k, []);
    threads.get(k).push(e);
  }
  let all = 0, thr = 0, wall = 0;
  for (const [k, xs] of threads) {
    xs.sort((a, b) => a.ts - b.ts);
    let end = 0;
    for (const e of xs) {
      if (e.ts < end) continue;
      end = e.ts + e.dur;
      all += e.tdur ?? 0;
      if (k === key) { thr += e.tdur ?? 0; wall += e.dur; }
    }
  }
  return { thr: thr / 1000, busy: wall / 1000, all: all / 1000 };
}
const res = Object.fromEntries(bases.map((b) => [b, []]));
async function one(base, trace, i) {
  const ctx = await browser.newContext(CONTEXT_OPTIONS);
  await ctx.addCookies([cookies[base]]);
  await ctx.addInitScript(FIGURE_SCRIPT);
  const page = await ctx.newPage();
  let reqs = 0;
  page.on('request', () => reqs++);
  const file = path.join(tmp, `trace-${i}.json`);
  if (trace) await browser.startTracing(page, { path: file, categories: ['toplevel', 'devtools.timeline', 'blink.user_timing'] });
  const t = await firstFigure(page, base);
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
  console.log(`${b}: figure ${med(xs.map((x) => x.t)).toFixed(0)} ms, main-thread CPU ${med(xs.map((x) => x.thr)).toFixed(0)} ms (busy ${med(xs.map((x) => x.busy)).toFixed(0)} ms), all chromium threads' CPU ${med(xs.map((x) => x.all)).toFixed(0)} ms, requests ${med(xs.map((x) => x.reqs))}; CPU runs ${xs.map((x) => x.thr.toFixed(0)).join(' ')}`);
}
await browser.close();
fs.rmSync(tmp, { recursive: true, force: true });
