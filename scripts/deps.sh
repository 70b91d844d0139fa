#!/bin/sh
# Install the Debian packages minzheng needs that are missing. Idempotent and
# quiet when everything is present. Runs apt-get as root, or through sudo.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3 libsodium-dev libcmocka-dev
libxlsxwriter-dev libzip-dev libexpat1-dev libcsv-dev unicode-data bzip2 libssl-dev
nodejs npm curl wrk fonts-noto-cjk chromium
postgresql libpq-dev libopencc-dev
libpango1.0-dev libcairo2-dev poppler-utils"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# node/npm may come from outside Debian's packages on some machines.
case " $missing " in *" nodejs "*) command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//');; esac
case " $missing " in *" npm "*) command -v npm >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ npm//');; esac
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
