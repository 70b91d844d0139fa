// browser.mjs - shared set-up of the browser tests (tests/e2e/*.test.mjs).
//
// playwright-core (a devDependency of web/, resolved from web/node_modules)
// drives Debian's chromium at /usr/bin/chromium - never a downloaded browser -
// headless, without sandbox, GPU, QUIC or background networking, in a fresh
// user-data-dir. The server is the real binary (tests/api/lib.mjs startServer)
// serving the built app with --web web/dist.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { before, after } from 'node:test';
import { REPO_ROOT, binPath, startServer } from '../api/lib.mjs';

export const CHROMIUM = process.env.MZ_CHROMIUM || '/usr/bin/chromium';
export const WEB_DIST = path.join(REPO_ROOT, 'web', 'dist');

/** Why the browser tests cannot run here, or null. Only a missing chromium is a skip. */
export function skipReason() {
  if (!fs.existsSync(CHROMIUM)) return `browser tests skipped: ${CHROMIUM} is missing (make deps installs Debian's chromium)`;
  return null;
}

/** Fail loudly on what make should have produced. */
export function assertBuilt() {
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) throw new Error('web/dist/index.html missing: run make web');
  if (!fs.existsSync(path.join(REPO_ROOT, 'web', 'node_modules', 'playwright-core'))) throw new Error('web/node_modules/playwright-core missing: run make web (npm ci in web/)');
}

/**
 * The binary for the workbench tests: they use the sample module's entities
 * (测试案件), so when MZ_BIN names build/minzheng, its sibling
 * build/minzheng-sample is used.
 */
export function sampleBin() {
  const b = binPath();
  if (b.endsWith('-sample')) return b;
  return fs.existsSync(b + '-sample') ? b + '-sample' : b;
}

export async function startWebServer(opts = {}) {
  return startServer({ bin: sampleBin(), args: ['--web', WEB_DIST], ...opts });
}

/**
 * The set-up most browser test files share: the skip reason printed when there
 * is one; before the file's tests the build checked, a server started
 * (startWebServer(options)) and chromium launched, both handed to
 * ready({ srv, browser }) (which may prepare more, e.g. accounts); after the
 * tests both closed. Returns the skip reason (false when the tests run) for
 * test()'s options.
 */
export function browserSuite(options, ready) {
  const skip = skipReason() || false;
  if (skip) console.log('# ' + skip);
  let srv;
  let browser;
  before(async () => {
    if (skip) return;
    assertBuilt();
    srv = await startWebServer(options);
    browser = await launchBrowser();
    await ready({ srv, browser });
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
  });
  return skip;
}

/** Chromium's flags for tests and benchmarks (bench/chromium.mjs adds its own):
 * no sandbox, GPU, QUIC, first-run, background networking, updates or sync. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launch chromium with a fresh profile; returns {context, close}. */
export async function launchBrowser() {
  const require = createRequire(path.join(REPO_ROOT, 'web', 'package.json'));
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    viewport: { width: 1366, height: 900 },
    args: ['--headless', ...CHROMIUM_FLAGS],
  });
  context.setDefaultTimeout(15000);
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where the screenshots go: $MZ_E2E_SHOTS, default build/test-artifacts/screenshots (docs/testing.md). */
export const SHOTS_DIR = process.env.MZ_E2E_SHOTS || path.join(REPO_ROOT, 'build', 'test-artifacts', 'screenshots');

/** The path of screenshot `name` (.png) in SHOTS_DIR, created when missing. */
export function shotPath(name) {
  const dir = SHOTS_DIR;
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name + '.png');
}

/** Log in through the login page. */
export async function uiLogin(page, base, username, password) {
  await page.goto(base + '/');
  await page.waitForURL(/\/login/);
  await page.locator('#login-username').fill(username);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-password').press('Enter');
}

// --- accessibility (axe-core, a devDependency of web/) --------------------------------

let axeText = null;
/** axe.min.js's source, read once. */
function axeSource() {
  if (axeText === null) {
    const require = createRequire(path.join(REPO_ROOT, 'web', 'package.json'));
    axeText = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  }
  return axeText;
}

/** WCAG 2.0/2.1 A and AA rules. */
export const WCAG = { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] };
/** 长者模式 changes colours, sizes and spacing only: its pages are checked for contrast. */
export const CONTRAST = { type: 'rule', values: ['color-contrast', 'link-in-text-block'] };

/** Run axe on the page; the serious and critical violations, as readable lines. */
export async function axeAudit(page, what, runOnly = WCAG) {
  // Evaluated through the DevTools protocol: the app's CSP (script-src 'self') allows no inline script tag.
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource() + '\n;0');
  const res = await page.evaluate((runOnly) => window.axe.run(document, { runOnly, resultTypes: ['violations'] }), runOnly);
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const lines = bad.flatMap((v) => v.nodes.slice(0, 5).map((n) => `${what}: [${v.impact}] ${v.id} ${n.target.join(' ')} - ${n.failureSummary?.split('\n').slice(1, 2).join(' ')}`));
  return lines;
}

/** Wait until the page is quiet (network, fonts, Element Plus transitions). */
export async function settle(page) {
  await page.waitForLoadState('networkidle');
  await page.evaluate(() => document.fonts?.ready);
  // Element Plus transitions (menus, alerts) end before the check.
  await page.waitForFunction(() => !document.querySelector('.el-zoom-in-top-enter-active, .el-fade-in-linear-enter-active, .el-collapse-transition-enter-active, .el-skeleton'));
}

