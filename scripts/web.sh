#!/bin/sh
# Build the web app (web/ -> web/dist) when it exists: npm ci, then vite build.
# Skips the install when node_modules matches the lockfile, and the build when
# dist is newer than every source file.
set -eu
cd "$(dirname "$0")/.."
[ -f web/package.json ] || exit 0
cd web
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
if [ -f dist/index.html ] && [ -z "$(find src public scripts index.html package.json package-lock.json vite.config.* -newer dist/index.html 2>/dev/null | head -1)" ]; then
    exit 0
fi
npm run --silent build
