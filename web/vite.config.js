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

export default defineConfig({
  base: '/',
  plugins: [
    vue(),
    AutoImport({
      resolvers: [ElementPlusResolver({ importStyle: 'css' })],
      dts: false,
    }),
    Components({
      resolvers: [ElementPlusResolver({ importStyle: 'css' })],
      dts: false,
    }),
    precompress(),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    manifest: true,
    chunkSizeWarningLimit: 1200,
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/api': process.env.MZ_API || 'http://127.0.0.1:8080' },
  },
});
