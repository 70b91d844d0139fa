// meta.js - everything the generic screens derive from GET /api/v1/meta:
// entities and fields, dictionary labels, value formatting, form rules and
// list filters. No entity is named here: screens are generated from metadata.
import { session } from './session.js';

export function entityMeta(name) {
  return session.meta?.entities?.find((e) => e.name === name) || null;
}

// Dictionaries by name, and each one's labels by code, built once per /meta
// document (tables look a label up for every cell).
const dictIndex = new WeakMap(); // meta -> Map(name -> {items, labels: Map(code -> zh)})
function dict(name) {
  const meta = session.meta;
  if (!meta) return null;
  let byName = dictIndex.get(meta);
  if (!byName) {
    byName = new Map((meta.dictionaries || []).map((d) => [d.name, { items: d.items || [], labels: null }]));
    dictIndex.set(meta, byName);
  }
  return byName.get(name) || null;
}

export function dictItems(name) {
  return dict(name)?.items || [];
}

export function dictLabel(dictName, code) {
  if (code === null || code === undefined || code === '') return '';
  const d = dict(dictName);
  if (!d) return String(code);
  d.labels = d.labels || new Map(d.items.map((i) => [i.code, i.zh]));
  return d.labels.get(String(code)) ?? String(code);
}

/** The label shown for a field; money fields are entered and shown in 元. */
export function fieldLabel(f) {
  const zh = f.zh || f.name;
  if (f.type === 'money') {
    if (/（分）$|\(分\)$/.test(zh)) return zh.replace(/（分）$|\(分\)$/, '（元）');
    return zh + '（元）';
  }
  return zh;
}

export function stateLabel(ent, state) {
  const s = ent?.workflow?.states?.find((x) => x.name === state);
  return s ? s.zh : state || '';
}

export function stateIsFinal(ent, state) {
  return !!ent?.workflow?.states?.find((x) => x.name === state)?.final;
}

/** Fields shown in forms (create: not readonly; edit: immutable ones disabled). */
export function formFields(ent) {
  return ent.fields.filter((f) => !f.readonly);
}

/** Fields that make sense as list columns by default. */
export function defaultColumns(ent) {
  return ent.fields
    .filter((f) => !f.hidden && f.type !== 'json' && !f.multiline)
    .slice(0, 8)
    .map((f) => f.name);
}

export function columnCandidates(ent) {
  return ent.fields.filter((f) => f.type !== 'json');
}

/** Fields offered as list filters (not hidden, not JSON). */
export function filterFields(ent) {
  return ent.fields.filter((f) => !f.hidden && f.type !== 'json' && !f.multiline);
}

export function fenToYuan(fen) {
  if (fen === null || fen === undefined || fen === '') return null;
  return Number(fen) / 100;
}
export function yuanToFen(yuan) {
  if (yuan === null || yuan === undefined || yuan === '') return null;
  return Math.round(Number(yuan) * 100);
}
export function formatMoney(fen) {
  if (fen === null || fen === undefined || fen === '') return '';
  const n = Number(fen);
  if (!Number.isFinite(n)) return String(fen);
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  const yuan = Math.floor(a / 100).toLocaleString('zh-CN');
  return `${sign}¥${yuan}.${String(a % 100).padStart(2, '0')}`;
}

export function formatDateTime(v) {
  if (!v) return '';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A value as text for tables and details (masked values pass through as the server sent them). */
export function formatValue(f, v) {
  if (v === null || v === undefined || v === '') return '';
  switch (f.type) {
    case 'dict':
      return dictLabel(f.dict, v);
    case 'money':
      return formatMoney(v);
    case 'boolean':
      return v ? '是' : '否';
    case 'datetime':
      return formatDateTime(v);
    case 'json':
      return typeof v === 'string' ? v : JSON.stringify(v);
    default:
      return String(v);
  }
}

// --- national identifiers (client-side checks mirror the server's) ---------------------

const ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_C = '10X98765432';

/** Parse a GB 11643 18-digit ID number: {valid, birth, sex ('1' male, '2' female)}. */
export function parseIdNumber(s) {
  const v = String(s || '').trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(v)) return { valid: false };
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(v[i]) * ID_W[i];
  if (ID_C[sum % 11] !== v[17]) return { valid: false };
  const y = Number(v.slice(6, 10));
  const m = Number(v.slice(10, 12));
  const d = Number(v.slice(12, 14));
  const dt = new Date(Date.UTC(y, m - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== m - 1 || dt.getUTCDate() !== d) return { valid: false };
  return {
    valid: true,
    birth: `${v.slice(6, 10)}-${v.slice(10, 12)}-${v.slice(12, 14)}`,
    sex: Number(v[16]) % 2 === 1 ? '1' : '2',
  };
}

export function luhnOk(s) {
  if (!/^\d{12,19}$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    let d = Number(s[s.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
export function usccOk(s) {
  const v = String(s || '').toUpperCase();
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(v)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_CHARS.indexOf(v[i]) * USCC_W[i];
  const c = (31 - (sum % 31)) % 31;
  return USCC_CHARS[c] === v[17];
}

const isEmpty = (v) => v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);

/** Element Plus form rules mirroring the server's checks for one field. */
export function fieldRules(f) {
  const label = fieldLabel(f);
  const rules = [];
  if (f.required) {
    rules.push({
      required: true,
      validator: (_r, v, cb) => (isEmpty(v) ? cb(new Error(`请填写${label}`)) : cb()),
      trigger: ['blur', 'change'],
    });
  }
  rules.push({
    trigger: ['blur', 'change'],
    validator: (_r, v, cb) => {
      if (isEmpty(v)) return cb();
      const err = checkValue(f, v);
      return err ? cb(new Error(err)) : cb();
    },
  });
  return rules;
}

/** The message for a non-empty value that the server would refuse, or null. */
export function checkValue(f, v) {
  const label = fieldLabel(f);
  const hasMin = f.min !== null && f.min !== undefined;
  const hasMax = f.max !== null && f.max !== undefined;
  switch (f.type) {
    case 'text': {
      const len = [...String(v)].length;
      if (hasMin && len < f.min) return `${label}至少 ${f.min} 个字`;
      if (hasMax && len > f.max) return `${label}最多 ${f.max} 个字`;
      if (f.pattern) {
        let re = null;
        try {
          re = new RegExp(f.pattern, 'u');
        } catch {
          re = null; // a server regex the browser cannot read: the server decides
        }
        if (re && !re.test(String(v))) return `${label}格式不正确` + (f.pattern_zh ? `：应为${f.pattern_zh}` : '');
      }
      return null;
    }
    case 'integer':
    case 'money': {
      const n = f.type === 'money' ? yuanToFen(v) : Number(v);
      if (!Number.isFinite(n) || (f.type === 'integer' && !Number.isInteger(n))) return `${label}应为数字`;
      const show = (x) => (f.type === 'money' ? formatMoney(x) : x);
      if (hasMin && n < f.min) return `${label}不能小于 ${show(f.min)}`;
      if (hasMax && n > f.max) return `${label}不能大于 ${show(f.max)}`;
      return null;
    }
    case 'id_number':
      return parseIdNumber(v).valid ? null : `${label}不是有效的身份证号码（18 位，末位校验码）`;
    case 'phone':
      return /^1[3-9]\d{9}$/.test(String(v)) ? null : `${label}应为 11 位手机号码`;
    case 'bank_card':
      return luhnOk(String(v)) ? null : `${label}不是有效的银行卡号`;
    case 'uscc':
      return usccOk(v) ? null : `${label}不是有效的统一社会信用代码`;
    case 'division':
      return /^\d{6}(\d{3}(\d{3})?)?$/.test(String(v)) ? null : `${label}应为 6、9 或 12 位区划代码`;
    case 'json':
      try {
        JSON.parse(v);
        return null;
      } catch {
        return `${label}不是有效的 JSON`;
      }
    default:
      return null;
  }
}

/** The meaningful prefix of a 12-digit division code (segments 2,2,2,3,3; trailing zero segments dropped). */
export function divisionPrefix(code) {
  const c = String(code || '');
  if (!/^\d{12}$/.test(c)) return c;
  const segs = [c.slice(0, 2), c.slice(2, 4), c.slice(4, 6), c.slice(6, 9), c.slice(9, 12)];
  while (segs.length > 1 && /^0+$/.test(segs[segs.length - 1])) segs.pop();
  return segs.join('');
}
