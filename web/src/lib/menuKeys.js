// menuKeys.js - v-menu-keys: the keyboard for Element Plus's vertical el-menu, which
// has none of its own (its items are tabindex="-1" and ignore Enter). Every menu item
// and group title becomes focusable (Tab), Enter or Space opens it, ArrowUp/ArrowDown
// move between the visible items, Home/End go to the first/last.
const ITEMS = '.el-menu-item, .el-sub-menu__title';

function visibleItems(root) {
  return [...root.querySelectorAll(ITEMS)].filter((e) => e.offsetParent !== null);
}
function focusable(root) {
  for (const e of root.querySelectorAll(ITEMS)) if (e.getAttribute('tabindex') !== '0') e.setAttribute('tabindex', '0');
}
function onKey(ev) {
  const root = ev.currentTarget;
  const item = ev.target.closest?.(ITEMS);
  if (!item || !root.contains(item)) return;
  const list = visibleItems(root);
  const i = list.indexOf(item);
  let to = null;
  switch (ev.key) {
    case 'Enter':
    case ' ':
      ev.preventDefault();
      item.click();
      return;
    case 'ArrowDown':
      to = list[Math.min(i + 1, list.length - 1)];
      break;
    case 'ArrowUp':
      to = list[Math.max(i - 1, 0)];
      break;
    case 'Home':
      to = list[0];
      break;
    case 'End':
      to = list[list.length - 1];
      break;
    default:
      return;
  }
  ev.preventDefault();
  to?.focus();
}

export const vMenuKeys = {
  mounted(el) {
    focusable(el);
    el._mzMenuObserver = new MutationObserver(() => focusable(el));
    el._mzMenuObserver.observe(el, { childList: true, subtree: true });
    el.addEventListener('keydown', onKey);
  },
  unmounted(el) {
    el._mzMenuObserver?.disconnect();
    el.removeEventListener('keydown', onKey);
  },
};
