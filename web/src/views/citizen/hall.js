// hall.js - what the citizen pages share: the matters of the hall and the
// account naming rule of POST /api/v1/public/register (username "c<phone>").

/** A phone number is turned into the citizen's username; anything else is used as typed. */
export function citizenUsername(input) {
  const s = String(input || '').trim();
  return /^1\d{10}$/.test(s) ? 'c' + s : s;
}

/**
 * The matters one can apply for. `entity` names the engine entity that takes
 * the application once its module is online; `open` is true only for what
 * works today.
 */
export const matters = [
  { key: 'register', zh: '公众账号注册', dept: '天津市民政局', desc: '使用身份证号和手机号注册，登录后可查看本人办件。', open: true, to: '/hall/register' },
  { key: 'policy', zh: '政策文件查询', dept: '天津市民政局', desc: '查阅民政政策文件及其解读。', open: true, to: '/portal' },
  { key: 'mine', zh: '我的办件', dept: '天津市民政局', desc: '查看本人提交的申请及办理进度。', open: true, to: '/hall/mine' },
  { key: 'dibao', zh: '最低生活保障申请', dept: '街道（乡镇）', desc: '城乡居民最低生活保障（低保）待遇申请。', open: false },
  { key: 'tekun', zh: '特困人员救助供养申请', dept: '街道（乡镇）', desc: '特困人员认定及救助供养。', open: false },
  { key: 'linshi', zh: '临时救助申请', dept: '街道（乡镇）', desc: '遭遇突发困难家庭的临时救助。', open: false },
  { key: 'marriage', zh: '婚姻登记预约', dept: '区婚姻登记处', desc: '结婚、离婚登记的网上预约。', open: false },
  { key: 'elderly', zh: '高龄津贴申领', dept: '街道（乡镇）', desc: '八十周岁以上老年人高龄津贴。', open: false },
  { key: 'disability', zh: '残疾人两项补贴申请', dept: '街道（乡镇）', desc: '困难残疾人生活补贴和重度残疾人护理补贴。', open: false },
  { key: 'org', zh: '社会组织成立登记', dept: '天津市民政局', desc: '社会团体、民办非企业单位的成立登记。', open: false },
];
