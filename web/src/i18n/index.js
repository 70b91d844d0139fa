// i18n/index.js - the 简体/繁体 switch of every page.
//
// The UI is written in Simplified Chinese. When prefs.script is 'hant' the
// converter chunk (./hant.js with opencc-js and its dictionaries, ~450 KB
// gzipped) is loaded on demand - never part of the first screen for a 简体
// reader - and converts the rendered page: text nodes and the placeholder,
// aria-label, title and alt attributes, now and whenever the DOM changes
// (route changes, dialogs, messages) through a MutationObserver. Switching back
// restores the original text. <html lang> is zh-Hans or zh-Hant (prefs.js).
import { watch } from 'vue';
import { prefs } from '../lib/prefs.js';

let mod = null; // the loaded ./hant.js
let want = 'hans';

async function apply(script) {
  want = script;
  if (script === 'hant') {
    mod = mod || (await import('./hant.js'));
    if (want === 'hant') mod.enable();
  } else if (mod) {
    mod.disable();
  }
}

/** Resolves once the page shows the requested script (tests and screens may await it). */
export const scriptReady = { promise: Promise.resolve() };

function run(script) {
  scriptReady.promise = apply(script).catch((e) => {
    console.warn('繁体转换不可用', e);
  });
  return scriptReady.promise;
}

run(prefs.script);
watch(() => prefs.script, run);
