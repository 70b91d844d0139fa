// hall.js - what the citizen pages share: the hall's fixed entries, the
// presentation of the matters the server lists (GET /public/hall/matters),
// the account naming rule of POST /api/v1/public/register (username
// "c<phone>") and money in 元 for fen values.

/** A phone number is turned into the citizen's username; anything else is used as typed. */
export function citizenUsername(input) {
  const s = String(input || '').trim();
  return /^1\d{10}$/.test(s) ? 'c' + s : s;
}

/** Entries that are always there (not matters of a module). */
export const fixedMatters = [
  { key: 'register', zh: '公众账号注册', dept: '天津市民政局', desc: '使用身份证号和手机号注册，登录后可网上申请、预约并查看本人办件。', open: true, to: '/hall/register' },
  { key: 'policy', zh: '政策文件查询', dept: '天津市民政局', desc: '查阅民政政策文件及其解读。', open: true, to: '/portal' },
  { key: 'mine', zh: '我的办件', dept: '天津市民政局', desc: '查看本人提交的申请、预约及办理进度。', open: true, to: '/hall/mine' },
  { key: 'track', zh: '办件进度查询', dept: '天津市民政局', desc: '不登录，凭申请编号和身份证号码查询办理进度。', open: true, to: '/hall/track' },
];

/** A server matter as a hall entry: apply matters go to the form, booking ones to the booking page. */
export function matterEntry(m) {
  const booking = m.kind === 'booking';
  return {
    key: m.code,
    zh: m.name,
    dept: booking ? '街道（乡镇）便民服务中心' : '街道（乡镇）受理，区民政局审批',
    desc: m.description || (booking ? '网上预约，按时到窗口办理。' : '网上提交申请，进度可在“我的办件”查看。'),
    open: !!m.online,
    to: booking ? { path: '/hall/booking', query: { matter: m.code } } : `/hall/apply/${m.code}`,
  };
}

/** fen -> "1234.56" (元). */
export function yuan(fen) {
  const n = Number(fen || 0);
  return `${Math.floor(n / 100)}.${String(Math.abs(n) % 100).padStart(2, '0')}`;
}
