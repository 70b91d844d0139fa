// noticeDivisions.js - the divisions a visitor of 救助公示 may choose without
// logging in (GET /divisions needs a session): Tianjin's current districts
// (src/registry/divisions.c) and their streets from the same NBS list the
// server compiles in (data/tianjin-streets.csv). Communities come from the
// notices themselves. Only the notices page imports this (its own chunk).
import streetsCsv from '../../../../data/tianjin-streets.csv?raw';

export const DISTRICTS = [
  ['120101', '和平区'], ['120102', '河东区'], ['120103', '河西区'], ['120104', '南开区'],
  ['120105', '河北区'], ['120106', '红桥区'], ['120110', '东丽区'], ['120111', '西青区'],
  ['120112', '津南区'], ['120113', '北辰区'], ['120114', '武清区'], ['120115', '宝坻区'],
  ['120116', '滨海新区'], ['120117', '宁河区'], ['120118', '静海区'], ['120119', '蓟州区'],
].map(([code, name]) => ({ code, name }));

/** district code (6 digits) -> [{code (9 digits), name}] */
export const STREETS = (() => {
  const m = new Map();
  for (const line of streetsCsv.split(/\r?\n/).slice(1)) {
    const [code, name, district] = line.split(',');
    if (!code || !district) continue;
    if (!m.has(district)) m.set(district, []);
    m.get(district).push({ code, name });
  }
  return m;
})();
