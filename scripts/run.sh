#!/bin/sh
# make run: create var/demo.db if missing and serve on 127.0.0.1:8080.
set -eu
cd "$(dirname "$0")/.."
mkdir -p var
BIN=build/minzheng
if [ ! -f var/demo.db ]; then
    if "$BIN" demo --help >/dev/null 2>&1; then
        "$BIN" demo --db var/demo.db
    else
        "$BIN" init --db var/demo.db
    fi
fi
echo "minzheng: serving http://127.0.0.1:8080  (Ctrl-C to stop)"
exec "$BIN" serve --db var/demo.db --listen "${MZ_LISTEN:-127.0.0.1:8080}" --access-log var/access.log
