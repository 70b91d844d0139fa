#!/bin/sh
# make run: create var/demo.db with a synthetic Tianjin if it does not exist,
# then serve on 127.0.0.1:8080 (MZ_LISTEN overrides) with the demo accounts.
#
# The demo accounts share one password, generated on the first run and kept in
# var/demo-password (mode 0600) so every later `make run` can print it again.
set -eu
cd "$(dirname "$0")/.."
mkdir -p var
BIN=build/minzheng
PWFILE=var/demo-password
if [ ! -f var/demo.db ]; then
    if [ ! -s "$PWFILE" ]; then
        umask 077
        printf 'Demo-%s-津\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$PWFILE"
    fi
    echo "minzheng: creating var/demo.db (a synthetic Tianjin; demo data only) ..."
    "$BIN" demo --db var/demo.db --persons "${MZ_DEMO_PERSONS:-100000}" --password "$(head -1 "$PWFILE")"
fi
cat <<EOT

  minzheng is serving http://${MZ_LISTEN:-127.0.0.1:8080}   (Ctrl-C to stop)

  Demo accounts (password: $(head -1 "$PWFILE" 2>/dev/null || echo 'see var/demo-password')):
    sysadmin      系统管理员 (users, configuration)        city
    secadmin      安全管理员 (roles, permissions)          city
    auditadmin    审计管理员 (audit log)                   city
    city_officer  市级业务                                 120000
    heping_officer / hexi_officer   区级业务               120101 / 120103
    heping_street      街道业务 (劝业场街道)               120101001
    heping_community   社区工作人员                        120101001001

EOT
exec "$BIN" serve --db var/demo.db --listen "${MZ_LISTEN:-127.0.0.1:8080}" --access-log var/access.log
