// i18n/hant.js - Simplified -> Traditional (OpenCC standard, e.g. 工作台 -> 工作臺)
// of the rendered page. A lazy chunk: loaded only when the user picks 繁.
//
// Every text node (outside script/style/textarea/code and any element with
// the class ignore-opencc or the attribute data-no-convert) and the attributes
// below are converted; the original is remembered per node so disable() puts
// the Simplified text back. The MutationObserver converts whatever Vue renders
// later. Converting is idempotent (Traditional text stays as it is), so our own
// writes, which the observer also sees, end there. Form values (what the user
// types) are never touched: they are not text nodes.
import { ConverterFactory } from 'opencc-js/core';
import cn from 'opencc-js/from/cn';

const convert = ConverterFactory(cn);
const HAN = /[\u3400-\u9fff\uf900-\ufaff]/;
const ATTRS = ['placeholder', 'aria-label', 'title', 'alt', 'aria-placeholder', 'aria-valuetext'];
const SKIP = new Set(['SCRIPT', 'STYLE', 'TEXTAREA', 'NOSCRIPT', 'CODE', 'PRE', 'svg']);
const texts = new WeakMap(); // Text -> {orig, conv}
const attrs = new WeakMap(); // Element -> Map(name -> {orig, conv})
let observer = null;

function skipped(el) {
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
    if (SKIP.has(e.tagName) || e.isContentEditable || e.classList.contains('ignore-opencc') || e.hasAttribute('data-no-convert')) return true;
  }
  return false;
}

function convText(n) {
  const v = n.data;
  if (!HAN.test(v)) return;
  const rec = texts.get(n);
  if (rec && rec.conv === v) return;
  if (skipped(n.parentElement)) return;
  const c = convert(v);
  if (c === v) return;
  texts.set(n, { orig: v, conv: c });
  n.data = c;
}

function convAttr(el, name) {
  const v = el.getAttribute(name);
  if (!v || !HAN.test(v)) return;
  let m = attrs.get(el);
  const rec = m?.get(name);
  if (rec && rec.conv === v) return;
  if (skipped(el)) return;
  const c = convert(v);
  if (c === v) return;
  if (!m) attrs.set(el, (m = new Map()));
  m.set(name, { orig: v, conv: c });
  el.setAttribute(name, c);
}

function walk(root) {
  if (root.nodeType === 3) return convText(root);
  if (root.nodeType !== 1 && root.nodeType !== 9 && root.nodeType !== 11) return;
  if (root.nodeType === 1 && skipped(root)) return;
  const tw = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.nodeType === 1 && SKIP.has(n.tagName) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  for (let n = root.nodeType === 1 ? root : tw.nextNode(); n; n = tw.nextNode()) {
    if (n.nodeType === 3) convText(n);
    else for (const a of ATTRS) if (n.hasAttribute(a)) convAttr(n, a);
  }
}

function onMutations(list) {
  for (const m of list) {
    if (m.type === 'characterData') convText(m.target);
    else if (m.type === 'attributes') convAttr(m.target, m.attributeName);
    else for (const n of m.addedNodes) if (n.isConnected) walk(n);
  }
}

/** Convert the page now and keep converting what is rendered later. */
export function enable() {
  if (observer) return;
  walk(document.documentElement);
  observer = new MutationObserver(onMutations);
  observer.observe(document.documentElement, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ATTRS });
}

/** Stop converting and put the Simplified originals back. */
export function disable() {
  if (!observer) return;
  observer.takeRecords();
  observer.disconnect();
  observer = null;
  const tw = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  for (let n = tw.currentNode; n; n = tw.nextNode()) {
    if (n.nodeType === 3) {
      const rec = texts.get(n);
      if (rec && rec.conv === n.data) n.data = rec.orig;
      texts.delete(n);
    } else {
      const m = attrs.get(n);
      if (!m) continue;
      for (const [name, rec] of m) if (n.getAttribute(name) === rec.conv) n.setAttribute(name, rec.orig);
      attrs.delete(n);
    }
  }
}

/** The converter itself (Simplified -> Traditional), for text that is not in the DOM (exports, titles). */
export { convert };
