#!/usr/bin/env bash
# Prints the URL of a local PostgreSQL server for the suite's PostgreSQL pass (see
# tests/postgres.py), installing and starting Debian's package where this is a root shell
# with apt. Prints nothing when there is no server to be had, and the pass then skips.
set -uo pipefail
PASSWORD=gateway-tests
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
      >/dev/null 2>&1 || exit 0
  else
    exit 0
  fi
fi
[ "$(id -u)" = 0 ] || exit 0  # setting the password needs the postgres account
read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1) || exit 0
if [ "$status" != online ]; then
  pg_ctlcluster "$version" "$cluster" start >/dev/null 2>&1 || exit 0
fi
runuser -u postgres -- psql -q -p "$port" -c "ALTER USER postgres PASSWORD '$PASSWORD'" \
  >/dev/null 2>&1 || exit 0
echo "postgresql://postgres:$PASSWORD@127.0.0.1:$port"
