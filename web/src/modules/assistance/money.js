// money.js - integer fen <-> 元 for the assistance screens, by integer (BigInt)
// arithmetic only: no float drift in what is shown or sent.

/** Integer fen as 元 with exactly two decimals ("1,234.56"); '' for empty. */
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
  return (neg ? '-' : '') + int + '.' + (n % 100n).toString().padStart(2, '0');
}

/**
 * A typed amount in 元 ("1234", "1,234.5", "0.07") as integer fen, or null when
 * it is not a non-negative amount with at most two decimals. Parsed as text.
 */
export function parseYuan(text) {
  const s = String(text ?? '').trim().replace(/[,，\s]/g, '');
  const m = /^(\d{1,13})(?:\.(\d{0,2}))?$/.exec(s);
  if (!m) return null;
  return Number(BigInt(m[1]) * 100n + BigInt((m[2] || '').padEnd(2, '0')));
}

/** Form rule: an amount in 元 (optional unless `required`). */
export function yuanRule(required = false) {
  return {
    trigger: 'blur',
    validator: (_r, v, cb) => {
      if (v === '' || v === null || v === undefined) return cb(required ? new Error('请输入金额') : undefined);
      cb(parseYuan(v) === null ? new Error('请输入金额（元），最多两位小数') : undefined);
    },
  };
}

export const PROGRAMS = [
  { code: 'dibao', zh: '低保' },
  { code: 'low_income', zh: '低收入' },
  { code: 'tekun', zh: '特困人员' },
  { code: 'temporary', zh: '临时救助' },
  { code: 'medical', zh: '医疗救助' },
];
