// verify.js - what the 经济状况核对 screens share: the declared sources (cached),
// labels of the report's figures, outcome tags, money in 元 from integer fen,
// the evidence tables' columns, and whether the server renders the report as PDF.
import { api } from '../../lib/api.js';
import { dictItems, dictLabel } from '../../lib/meta.js';

let sourcesPromise = null;
/** GET /verify/sources (columns, kinds, batch in force); cached until `fresh`. */
export function loadSources(fresh = false) {
  if (fresh || !sourcesPromise) {
    sourcesPromise = api.get('/verify/sources').then((r) => r.items);
    sourcesPromise.catch(() => {
      sourcesPromise = null;
    });
  }
  return sourcesPromise;
}

/** Integer fen as 元 with exactly two decimals ("1,234.56"), by integer arithmetic (no float drift). */
export function yuan(fen) {
  if (fen === null || fen === undefined || fen === '') return '';
  let n;
  try {
    n = BigInt(fen);
  } catch {
    return String(fen);
  }
  const neg = n < 0n;
  if (neg) n = -n;
  const int = (n / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const dec = (n % 100n).toString().padStart(2, '0');
  return `${neg ? '-' : ''}${int}.${dec}`;
}

export const programs = () => dictItems('assistance_program');
export const programLabel = (code) => dictLabel('assistance_program', code);
export const outcomeLabel = (code) => dictLabel('verify_outcome', code);
export const ruleLabel = (code) => dictLabel('verify_rule', code);

/** Element Plus tag type of an outcome. */
export function outcomeType(code) {
  return { pass: 'success', review: 'warning', ineligible: 'danger', unauthorised: 'info' }[code] || 'info';
}

/** The report's figures, in display order; money in fen. */
export const FIGURES = [
  { key: 'income_fen', zh: '核实家庭月收入', money: true },
  { key: 'financial_assets_fen', zh: '金融资产', money: true },
  { key: 'vehicles', zh: '汽车', unit: '辆' },
  { key: 'vehicle_value_max_fen', zh: '单车最高评估价值', money: true },
  { key: 'properties', zh: '住宅', unit: '套' },
  { key: 'businesses', zh: '工商登记', unit: '条' },
  { key: 'business_capital_max_fen', zh: '最高认缴出资', money: true },
  { key: 'public_employees', zh: '财政供养人员', unit: '人' },
  { key: 'staff_relatives', zh: '经办人员近亲属', unit: '人' },
  { key: 'deceased', zh: '死亡（火化）', unit: '人' },
];

/** [{key, zh, text}] for every figure of a report (unknown ones too). */
export function figureRows(figures) {
  const f = figures || {};
  const known = new Set(FIGURES.map((x) => x.key));
  const rows = FIGURES.filter((x) => x.key in f).map((x) => ({ key: x.key, zh: x.zh, text: x.money ? yuan(f[x.key]) + ' 元' : `${f[x.key]} ${x.unit}` }));
  for (const [k, v] of Object.entries(f)) {
    if (known.has(k)) continue;
    rows.push({ key: k, zh: k, text: /_fen$/.test(k) ? yuan(v) + ' 元' : String(v) });
  }
  return rows;
}

// Money (元) and areas (平方米) are integers in hundredths (fen, hundredths of a square metre).
const MONEY_COL = /（(元|平方米)）$|\((元|平方米)\)$/;
/**
 * The evidence of one rule as tables, one per source: {source, zh, columns:[{key, zh}], rows}.
 * Columns are the source's declared ones (person -> 身份证号码, masked), a kind column shows
 * its Chinese label (`<col>_zh`), money and area columns (declared "（元）", "（平方米）") are
 * hundredths, shown with two decimals.
 */
export function evidenceTables(evidence, sources) {
  const bySource = new Map();
  for (const row of evidence || []) {
    if (!bySource.has(row.source)) bySource.set(row.source, []);
    bySource.get(row.source).push(row);
  }
  const out = [];
  for (const [code, rows] of bySource) {
    const src = (sources || []).find((s) => s.source === code);
    const present = new Set(rows.flatMap((r) => Object.keys(r)));
    const skip = new Set(['source', 'source_zh', 'batch_id']);
    const columns = [];
    const seen = new Set();
    const add = (key, zh, money) => {
      if (seen.has(key)) return;
      seen.add(key);
      columns.push({ key, zh, money });
    };
    for (const c of src?.columns || []) {
      if (c.name === 'id_number') {
        if (present.has('person')) add('person', c.zh);
        continue;
      }
      if (!present.has(c.name)) continue;
      add(c.name, c.zh, MONEY_COL.test(c.zh));
    }
    for (const k of present) {
      if (skip.has(k) || seen.has(k) || /_zh$/.test(k)) continue;
      add(k, k === 'person' ? '身份证号码' : k === 'name' ? '姓名' : k, /_fen$/.test(k));
    }
    add('batch_id', '批次');
    // A column no row fills (an optional one the department left out) is not shown.
    const filled = (c) => c.key === 'person' || rows.some((r) => r[c.key] !== null && r[c.key] !== undefined && r[c.key] !== '');
    columns.splice(0, columns.length, ...columns.filter(filled));
    const cell = (r, c) => {
      if (r[c.key + '_zh']) return r[c.key + '_zh'];
      const v = r[c.key];
      if (v === null || v === undefined || v === '') return '';
      if (c.money) return yuan(v);
      if (c.key === 'batch_id') return '#' + v;
      return String(v);
    };
    out.push({
      source: code,
      zh: rows[0].source_zh || src?.zh || code,
      columns,
      rows: rows.map((r) => Object.fromEntries(columns.map((c) => [c.key, cell(r, c)]))),
    });
  }
  return out;
}

/** Today in the browser's time zone, YYYY-MM-DD. */
export function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

let pdfPromise = null;
/**
 * Does the server render a verification report as PDF
 * (GET /verify/requests/{id}/report.pdf)? Read once from /openapi.json, so the
 * link appears as soon as a server with that route is deployed.
 */
export function reportPdfAvailable() {
  if (!pdfPromise) {
    pdfPromise = api
      .get('/openapi.json')
      .then((d) => Object.keys(d?.paths || {}).some((p) => /^\/api\/v1\/verify\/requests\/\{[^}]+\}\/report\.pdf$/.test(p)))
      .catch(() => false);
  }
  return pdfPromise;
}
