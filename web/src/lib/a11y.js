// a11y.js - accessible names for the few Element Plus internals that render without one,
// wherever they appear (lists in the workbench and the portal): the page-size select and
// the page jumper of el-pagination. Checked by tests/e2e/a11y.test.mjs (axe-core).
const FIXES = [
  ['.el-pagination__sizes input', '每页条数'],
  ['.el-pagination__jump input', '跳转到第几页'],
];

function fix(root) {
  if (root.nodeType !== 1) return;
  for (const [sel, label] of FIXES) {
    for (const el of root.querySelectorAll(sel)) if (!el.hasAttribute('aria-label')) el.setAttribute('aria-label', label);
  }
}

const observer = new MutationObserver((list) => {
  for (const m of list) for (const n of m.addedNodes) fix(n);
});
observer.observe(document.body, { childList: true, subtree: true });
fix(document.body);
