// prefs.js - per-browser preferences (localStorage): 长者模式 and 简/繁.
import { reactive, watch } from 'vue';

const KEY = 'mz.prefs';
function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || '{}');
  } catch {
    return {};
  }
}
const saved = load();
export const prefs = reactive({
  elder: !!saved.elder,
  script: saved.script === 'hant' ? 'hant' : 'hans',
});

function apply() {
  document.documentElement.classList.toggle('elder-mode', prefs.elder);
  document.documentElement.lang = prefs.script === 'hant' ? 'zh-Hant' : 'zh-Hans';
}
apply();
watch(
  () => ({ ...prefs }),
  (v) => {
    try {
      localStorage.setItem(KEY, JSON.stringify(v));
    } catch {
      // private mode: not remembered
    }
    apply();
  },
);

/** Column choices per entity, remembered per browser. */
export function loadColumns(entity) {
  try {
    const v = JSON.parse(localStorage.getItem('mz.cols.' + entity) || 'null');
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}
export function saveColumns(entity, cols) {
  try {
    localStorage.setItem('mz.cols.' + entity, JSON.stringify(cols));
  } catch {
    // ignore
  }
}
