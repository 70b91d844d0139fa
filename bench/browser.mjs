// bench/browser.mjs - the workbench measured in a real browser (issue 5's
// performance goals), run by scripts/bench.sh against the demo-city server:
//
//   first_load  a fresh browser context (empty HTTP cache) holding a logged-in
//               session opens "/": navigation start -> the 工作台's key figures
//               visible (the first .home-figure element in the DOM and laid out).
//               Goal < 1 s.
//   nav         on a loaded workbench, a click on one list's menu entry ->
//               that list's heading shown and its rows rendered (the loading
//               mask gone, "共 N 条" filled), alternating between two entity
//               lists (人员信息 and 家庭信息 by default). Goal < 200 ms.
//
// Times are taken inside the page (performance.now(), a MutationObserver on the
// DOM), so playwright's own round trips are not counted. Each measurement runs
// --runs times (default 7) after one unmeasured warm-up; the median is the result.
// Beside the wall times, the renderer's own work is reported from chromium's
// Performance domain (CDP getMetrics): TaskDuration (the page's main thread
// busy), ScriptDuration (JavaScript), LayoutDuration and RecalcStyleDuration,
// per first load and per navigation, medians in ms - on a loaded machine the
// wall time includes waiting for a CPU, these mostly do not.
// Chromium is Debian's (/usr/bin/chromium or $MZ_CHROMIUM), headless, no sandbox,
// no background networking - as tests/e2e/browser.mjs; playwright-core comes from
// web/node_modules. Only the given loopback server is contacted.
//
// Usage: node bench/browser.mjs --base http://127.0.0.1:PORT --user NAME
//            --password-file FILE [--runs 7] [--lists persons,households]
// Prints one JSON line: {"first_load_ms":{"median","min","max","runs":[...]}, "nav_ms":{...},
// "first_load_cpu_ms":{"task","script","layout","style"}, "nav_cpu_ms":{...}, ...}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const base = args.base;
const user = args.user;
const password = fs.readFileSync(args['password-file'], 'utf8').split('\n')[0];
const runs = Number(args.runs || 7);
const lists = (args.lists || 'persons,households').split(',');
if (!base || !user) {
  console.error('usage: node bench/browser.mjs --base URL --user NAME --password-file FILE [--runs N] [--lists a,b]');
  process.exit(2);
}

const require = createRequire(path.join(ROOT, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const r = (x) => Math.round(x * 10) / 10;
  return { median: r(median), min: r(s[0]), max: r(s[s.length - 1]), runs: s.map(r) };
};

const browser = await chromium.launch({
  executablePath: process.env.MZ_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const contextOptions = { locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1366, height: 900 } };

// Log in once through the API; every context gets the session cookie.
const login = await fetch(base + '/api/v1/auth/login', {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: user, password }),
});
if (login.status !== 200) throw new Error(`login answered ${login.status}`);
const m = /mz_session=([^;]+)/.exec(login.headers.get('set-cookie') || '');
if (!m) throw new Error('login set no mz_session cookie');
const cookie = { name: 'mz_session', value: m[1], url: base };

// The renderer's cumulative work so far (ms) from CDP Performance.getMetrics.
const METRICS = { task: 'TaskDuration', script: 'ScriptDuration', layout: 'LayoutDuration', style: 'RecalcStyleDuration' };
async function work(cdp) {
  const m = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((x) => [x.name, x.value]));
  return Object.fromEntries(Object.entries(METRICS).map(([k, n]) => [k, (m[n] || 0) * 1000]));
}
const minus = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k] - b[k]]));
const medians = (list) => Object.fromEntries(Object.keys(METRICS).map((k) => [k, stats(list.map((x) => x[k])).median]));

// Records, in the page, when the first element matching `sel` is in the DOM
// with a size (performance.now(), ms since navigation start).
const watchScript = (sel) => `(() => {
  const seen = () => { const el = document.querySelector(${JSON.stringify(sel)}); return el && el.getBoundingClientRect().height > 0; };
  const obs = new MutationObserver(() => { if (window.__mzVisible === undefined && seen()) { window.__mzVisible = performance.now(); obs.disconnect(); } });
  document.addEventListener('DOMContentLoaded', () => obs.observe(document.body, { childList: true, subtree: true, attributes: true }));
})();`;

async function firstLoad() {
  const ctx = await browser.newContext(contextOptions);
  await ctx.addCookies([cookie]);
  await ctx.addInitScript(watchScript('.home-figure'));
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(base + '/');
  await page.waitForFunction(() => window.__mzVisible !== undefined, null, { timeout: 30000 });
  const t = await page.evaluate(() => window.__mzVisible);
  const w = await work(cdp); // read after the figure showed: a little later than t at most
  await ctx.close();
  return [t, w];
}

const first = [];
const firstWork = [];
await firstLoad(); // warm-up: the server's page cache, chromium's own start
for (let i = 0; i < runs; i++) {
  const [t, w] = await firstLoad();
  first.push(t);
  firstWork.push(w);
}

// Navigation between two lists through the side menu.
const ctx = await browser.newContext(contextOptions);
await ctx.addCookies([cookie]);
const page = await ctx.newPage();
const cdp = await ctx.newCDPSession(page);
await cdp.send('Performance.enable');
await page.goto(base + '/');
await page.locator('.home-figure').first().waitFor({ timeout: 30000 });
const labels = await page.evaluate(async (names) => {
  const r = await fetch('/api/v1/meta');
  const meta = await r.json();
  // The menu entry's label (/meta.menus) and the list's heading (the entity's name).
  return names.map((n) => {
    const zh = meta.entities.find((e) => e.name === n)?.zh;
    return zh && { menu: (meta.menus || []).find((x) => x.entity === n)?.zh || zh, heading: zh };
  });
}, lists);
if (labels.some((l) => !l)) throw new Error(`lists ${lists} not all in /meta`);

async function navigate(label, name) {
  return page.evaluate(
    ({ label, name }) =>
      new Promise((resolve, reject) => {
        const item = [...document.querySelectorAll('.el-menu-item')].find((el) => el.textContent.trim() === label.menu);
        if (!item) return reject(new Error('no menu item ' + label.menu));
        const done = () => {
          const h1 = document.querySelector('.mz-page-head h1');
          const total = document.querySelector('[data-testid="list-total"]');
          const mask = document.querySelector('.list-table .el-loading-mask');
          const rows = document.querySelectorAll('.list-table .el-table__body tr').length;
          return location.pathname === '/e/' + name && h1 && h1.textContent.trim() === label.heading && total && !/共 0 条/.test(total.textContent) && !mask && rows > 0;
        };
        const t0 = performance.now();
        const obs = new MutationObserver(() => {
          if (done()) {
            obs.disconnect();
            resolve(performance.now() - t0);
          }
        });
        obs.observe(document.body, { childList: true, subtree: true, attributes: true, characterData: true });
        item.click();
        setTimeout(() => { obs.disconnect(); reject(new Error('list ' + name + ' did not show within 20 s')); }, 20000);
      }),
    { label, name },
  );
}
const nav = [];
const navWork = [];
await navigate(labels[0], lists[0]); // warm-up: the list chunks and first queries
await navigate(labels[1], lists[1]);
for (let i = 0; i < runs; i++) {
  const k = (i + 1) % 2 === 1 ? 0 : 1;
  const w0 = await work(cdp);
  nav.push(await navigate(labels[k], lists[k]));
  navWork.push(minus(await work(cdp), w0));
}
await ctx.close();
const version = browser.version();
await browser.close();
console.log(
  JSON.stringify({
    first_load_ms: stats(first),
    nav_ms: stats(nav),
    first_load_cpu_ms: medians(firstWork),
    nav_cpu_ms: medians(navWork),
    lists,
    runs,
    chromium: version,
  }),
);
