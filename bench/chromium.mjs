// bench/chromium.mjs - how the browser benchmarks (bench/browser.mjs, bench/browser_trace.mjs)
// start Debian's chromium and wait for the 工作台's first key figure.
//
// Flags: headless, no sandbox, GPU, QUIC or background networking, as the browser tests
// (tests/e2e/browser.mjs). And without the address bar's suggestion popup, which this
// chromium (156) builds as a WebUI page of its own (chrome://omnibox-popup.top-chrome, ~70
// JavaScript modules in a second renderer, served by the browser's main thread) for every
// new window - and playwright opens a new window for every browser context, i.e. for every
// first load measured. Measured in traces (bench/notes.md, fourth round): about half of the
// chromium CPU of a first load (1.4 of 2.9 s) went to that popup, concurrently with the page
// on the 2 cores. A user's window has its address bar up before they navigate (they type
// the address into it), so that work is not part of the page's first load.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_FLAGS } from '../tests/e2e/browser.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const CHROMIUM_ARGS = [...CHROMIUM_FLAGS, '--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup'];

/** A fresh context's options: as a staff member's browser (zh-CN, Beijing time, 1366x900). */
export const CONTEXT_OPTIONS = { locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1366, height: 900 } };

/** playwright-core from web/node_modules and the launched browser. */
export async function launchChromium() {
  const require = createRequire(path.join(ROOT, 'web', 'package.json'));
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: process.env.MZ_CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

/** Log in through the API; the session cookie for contexts on `base`. */
export async function sessionCookie(base, user, password) {
  const login = await fetch(base + '/api/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: user, password }),
  });
  if (login.status !== 200) throw new Error(`login on ${base} answered ${login.status}`);
  const m = /mz_session=([^;]+)/.exec(login.headers.get('set-cookie') || '');
  if (!m) throw new Error('login set no mz_session cookie');
  return { name: 'mz_session', value: m[1], url: base };
}

// The page reports the first key figure itself: an init script (run before the app) whose
// MutationObserver sees the first .home-figure in the DOM and laid out, notes
// performance.now() (ms since navigation start), sets the user-timing mark `mz-figure`
// (for traces) and logs `mz-figure <ms>` to the console. The harness waits for that console
// message rather than polling the page (waitForFunction): polling would first inject
// playwright's utility script into the page and run it during the load being measured
// (~20-60 ms of the page's main thread in traces).
const FIGURE = 'mz-figure';
export const FIGURE_SCRIPT = `(() => {
  const seen = () => { const el = document.querySelector('.home-figure'); return el && el.getBoundingClientRect().height > 0; };
  let done = false;
  const obs = new MutationObserver(() => {
    if (done || !seen()) return;
    done = true;
    obs.disconnect();
    const t = performance.now();
    performance.mark('${FIGURE}');
    console.debug('${FIGURE} ' + t);
  });
  document.addEventListener('DOMContentLoaded', () => obs.observe(document.body, { childList: true, subtree: true, attributes: true }));
})();`;

/**
 * Open `base`/ in `page` (its context holding the init script above) and resolve the
 * figure's time in ms from navigation start.
 */
export async function firstFigure(page, base, timeout = 30000) {
  const shown = page.waitForEvent('console', { predicate: (m) => m.text().startsWith(FIGURE + ' '), timeout });
  await page.goto(base + '/', { waitUntil: 'commit' });
  return Number((await shown).text().slice(FIGURE.length + 1));
}
