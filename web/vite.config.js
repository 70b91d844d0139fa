// Vite build of the staff workbench: web/ -> web/dist (served by build/minzheng --web web/dist).
// Element Plus components and ElMessage/ElMessageBox are imported on demand
// (unplugin-vue-components / unplugin-auto-import), so only what a screen uses is bundled.
// Every text asset is also written precompressed as <file>.gz; the server sends it to
// clients that accept gzip (src/core/static.c).
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';
import AutoImport from 'unplugin-auto-import/vite';
import Components from 'unplugin-vue-components/vite';
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

function precompress() {
  let outDir = 'dist';
  return {
    name: 'mz-precompress',
    apply: 'build',
    configResolved(c) {
      outDir = path.resolve(c.root, c.build.outDir);
    },
    closeBundle() {
      const walk = (dir) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else if (/\.(js|css|html|svg|json|txt|map)$/.test(e.name)) {
            const data = fs.readFileSync(p);
            if (data.length < 1024) continue;
            fs.writeFileSync(p + '.gz', zlib.gzipSync(data, { level: 9 }));
          }
        }
      };
      walk(outDir);
    },
  };
}

// The first screens' chunks. Rollup's own splitting makes one chunk per set of
// importers: the layout and 工作台 alone came to ~40 JS and ~20 CSS files, each a
// request (six at a time over HTTP/1.1) and a <link> the page must process before
// it can mount (bench/notes.md, "first load"). Instead every module that a first
// screen imports statically goes into that screen's chunk, beyond what the entry
// (chunk `index`) and the screens before it already hold:
//   common     the login page (every first screen needs it: it is the login's alone),
//   workbench  the staff layout and the 工作台 (with their Element Plus components and CSS).
// Other screens keep Rollup's splitting and import from these; dynamic imports
// (ECharts, the 繁体 converter) stay lazy.
const FIRST_SCREENS = [
  ['common', [/\/src\/views\/LoginView\.vue$/]],
  ['workbench', [/\/src\/components\/AppLayout\.vue$/, /\/src\/views\/HomeView\.vue$/]],
];

function firstScreenChunks() {
  let owner = null; // module id -> chunk name
  const assign = ({ getModuleIds, getModuleInfo }) => {
    const ids = [...getModuleIds()];
    const taken = new Set(); // modules already given to a chunk
    // The static import closure of roots, less what is taken.
    const walk = (roots, into) => {
      const stack = [...roots];
      while (stack.length) {
        const id = stack.pop();
        if (taken.has(id) || into.has(id)) continue;
        into.add(id);
        for (const dep of getModuleInfo(id)?.importedIds || []) stack.push(dep);
      }
      return into;
    };
    owner = new Map();
    // The entry's static closure is named too: Rollup would otherwise pull the
    // modules a named chunk imports (Vue, the router) into that chunk.
    for (const id of walk(ids.filter((i) => getModuleInfo(i)?.isEntry), new Set())) {
      owner.set(id, 'index');
      taken.add(id);
    }
    for (const [name, patterns] of FIRST_SCREENS) {
      const roots = ids.filter((i) => patterns.some((re) => re.test(i)));
      if (roots.length !== patterns.length) throw new Error(`first screen ${name}: root modules not found`);
      for (const id of walk(roots, new Set())) {
        owner.set(id, name);
        taken.add(id);
      }
    }
  };
  return (id, meta) => {
    if (!owner) assign(meta);
    return owner.get(id);
  };
}

// Element Plus components straight from their own module (element-plus/es/
// components/<dir>/index.mjs) rather than the package's index, which re-exports
// every component: the first screens' chunks above follow static imports, and
// through that index every screen would seem to import all of Element Plus.
// The resolver's own answer is kept (name, styles); only `from` changes.
const EP_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules/element-plus/es/components');
const epModuleOf = new Map(); // 'ElButton' -> 'element-plus/es/components/button/index.mjs'
for (const dir of fs.existsSync(EP_DIR) ? fs.readdirSync(EP_DIR) : []) {
  const index = path.join(EP_DIR, dir, 'index.mjs');
  if (!fs.existsSync(index)) continue;
  for (const m of fs.readFileSync(index, 'utf8').matchAll(/^export \{([^}]*)\}/gm)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().split(/\s+as\s+/).pop();
      if (/^(El|v)[A-Z]/.test(name) && !epModuleOf.has(name)) epModuleOf.set(name, `element-plus/es/components/${dir}/index.mjs`);
    }
  }
}
if (!epModuleOf.has('ElButton')) throw new Error(`vite.config.js: no Element Plus components found in ${EP_DIR}`);
function elementPlusDirect(options) {
  return ElementPlusResolver(options).map((r) => ({
    ...r,
    resolve: async (name) => {
      const got = await r.resolve(name);
      if (got && got.from === 'element-plus/es' && epModuleOf.has(got.name || name)) {
        return { ...got, from: epModuleOf.get(got.name || name) };
      }
      return got;
    },
  }));
}

export default defineConfig({
  base: '/',
  plugins: [
    vue(),
    AutoImport({
      resolvers: [elementPlusDirect({ importStyle: 'css' })],
      dts: false,
    }),
    Components({
      resolvers: [elementPlusDirect({ importStyle: 'css' })],
      dts: false,
    }),
    precompress(),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    manifest: true,
    chunkSizeWarningLimit: 1200,
    rollupOptions: { output: { manualChunks: firstScreenChunks() } },
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/api': process.env.MZ_API || 'http://127.0.0.1:8080' },
  },
});
