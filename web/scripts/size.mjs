// Measure the first screen's JavaScript and CSS, gzipped: the entry chunk of
// index.html and every chunk it imports statically (dynamic imports - the
// screens loaded by the router - are not part of the first screen).
// Prints a table; writes dist/size.json. Fails the build if the first screen's
// JavaScript is over the budget (600 KB gzipped).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const manifest = JSON.parse(fs.readFileSync(path.join(dist, '.vite', 'manifest.json'), 'utf8'));
const BUDGET = 600 * 1024;
const gz = (f) => zlib.gzipSync(fs.readFileSync(path.join(dist, f)), { level: 9 }).length;

const entryKey = Object.keys(manifest).find((k) => manifest[k].isEntry);
const seen = new Set();
const js = [];
const css = new Set();
(function walk(key) {
  if (seen.has(key)) return;
  seen.add(key);
  const c = manifest[key];
  js.push(c.file);
  for (const f of c.css || []) css.add(f);
  for (const i of c.imports || []) walk(i);
})(entryKey);

/**
 * JS and CSS files of a lazy screen and its static imports, beyond the entry's.
 * Each part is [source path regexp, chunk name]: a screen whose module went into
 * a named chunk (vite.config.js, FIRST_SCREENS) is found by that chunk's name.
 */
function screen(...parts) {
  const s2 = new Set(seen);
  const out = { js: [], css: new Set() };
  for (const [re, chunk] of parts) {
    const key =
      Object.keys(manifest).find((k) => re.test(k)) ||
      Object.keys(manifest).find((k) => manifest[k].name === chunk && k.endsWith('.js'));
    if (!key) throw new Error(`size.mjs: no chunk for ${re} or ${chunk}`);
    (function walk(k) {
      if (s2.has(k)) return;
      s2.add(k);
      const c = manifest[k];
      out.js.push(c.file);
      for (const f of c.css || []) out.css.add(f);
      for (const i of c.imports || []) walk(i);
    })(key);
  }
  return out;
}
// The login page is a new visitor's first screen; the workbench (layout + 工作台) the first after login.
const loginScreen = screen([/LoginView\.vue$/, 'common']);
const homeScreen = screen([/AppLayout\.vue$/, 'workbench'], [/HomeView\.vue$/, 'workbench']);
const loginJs = loginScreen.js;
const loginCss = loginScreen.css;
const sum = (files) => files.reduce((a, f) => a + gz(f), 0);
const raw = (files) => files.reduce((a, f) => a + fs.statSync(path.join(dist, f)).size, 0);
const firstJs = [...js, ...loginJs];
const firstCss = [...css, ...loginCss];
let allJs = [];
(function list(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) list(p);
    else if (e.name.endsWith('.js')) allJs.push(path.relative(dist, p));
  }
})(path.join(dist, 'assets'));
const report = {
  first_screen_js_gzip: sum(firstJs),
  first_screen_js_raw: raw(firstJs),
  first_screen_css_gzip: sum(firstCss),
  workbench_js_gzip: sum([...js, ...homeScreen.js]),
  workbench_css_gzip: sum([...css, ...homeScreen.css]),
  all_js_gzip: sum(allJs),
  all_js_raw: raw(allJs),
  budget_js_gzip: BUDGET,
  first_screen_files: [...firstJs, ...firstCss],
  workbench_files: [...js, ...css, ...homeScreen.js, ...homeScreen.css],
};
fs.writeFileSync(path.join(dist, 'size.json'), JSON.stringify(report, null, 2) + '\n');
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
console.log(`first screen JS  ${kb(report.first_screen_js_gzip)} gzipped (${kb(report.first_screen_js_raw)} raw), budget ${kb(BUDGET)}`);
console.log(`first screen CSS ${kb(report.first_screen_css_gzip)} gzipped`);
console.log(`workbench JS     ${kb(report.workbench_js_gzip)} gzipped (entry + layout + 工作台, without the lazy ECharts chunk)`);
console.log(`workbench CSS    ${kb(report.workbench_css_gzip)} gzipped; ${report.workbench_files.length} files for the 工作台 (JS and CSS)`);
console.log(`all JS           ${kb(report.all_js_gzip)} gzipped (${kb(report.all_js_raw)} raw, ${allJs.length} files)`);
if (report.first_screen_js_gzip > BUDGET || report.workbench_js_gzip > BUDGET) {
  console.error('first screen JavaScript over budget');
  process.exit(1);
}
