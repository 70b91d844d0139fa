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
// per first load and per navigation, medians in ms. These are the wall times of the
// renderer's tasks: a task whose thread waits for a CPU (a loaded machine, or the
// browser's other processes on a small one) counts the wait too.
// Chromium is Debian's (/usr/bin/chromium or $MZ_CHROMIUM), headless, with the flags of
// bench/chromium.mjs (as tests/e2e/browser.mjs, and without the address bar's WebUI popup
// that chromium would build for every new window, i.e. every context); playwright-core
// comes from web/node_modules. Only the given loopback server is contacted.
//
// Usage: node bench/browser.mjs --base http://127.0.0.1:PORT --user NAME
//            --password-file FILE [--runs 7] [--lists persons,households]
// Prints one JSON line: {"first_load_ms":{"median","min","max","runs":[...]}, "nav_ms":{...},
// "first_load_cpu_ms":{"task","script","layout","style"}, "nav_cpu_ms":{...}, ...}.
// The first load's CPU figures are read when the figure has been reported, so they also
// hold what the page did in the few ms after it (and before navigation start: the context's
// about:blank); bench/browser_trace.mjs gives the main thread's CPU up to the figure.
import fs from 'node:fs';
import { CONTEXT_OPTIONS, FIGURE_SCRIPT, firstFigure, launchChromium, sessionCookie } from './chromium.mjs';

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

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const r = (x) => Math.round(x * 10) / 10;
  return { median: r(median), min: r(s[0]), max: r(s[s.length - 1]), runs: s.map(r) };
};

const browser = await launchChromium();
const contextOptions = CONTEXT_OPTIONS;

// Log in once through the API; every context gets the session cookie.
const cookie = await sessionCookie(base, user, password);

// The renderer's cumulative work so far (ms) from CDP Performance.getMetrics.
const METRICS = { task: 'TaskDuration', script: 'ScriptDuration', layout: 'LayoutDuration', style: 'RecalcStyleDuration' };
async function work(cdp) {
  const m = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((x) => [x.name, x.value]));
  return Object.fromEntries(Object.entries(METRICS).map(([k, n]) => [k, (m[n] || 0) * 1000]));
}
const minus = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k] - b[k]]));
const medians = (list) => Object.fromEntries(Object.keys(METRICS).map((k) => [k, stats(list.map((x) => x[k])).median]));

async function firstLoad() {
  const ctx = await browser.newContext(contextOptions);
  await ctx.addCookies([cookie]);
  await ctx.addInitScript(FIGURE_SCRIPT);
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  const t = await firstFigure(page, base);
  const w = await work(cdp); // read once the figure is reported: a little later than t
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
