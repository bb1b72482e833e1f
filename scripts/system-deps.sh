#!/usr/bin/env bash
# Installs the Debian packages the project needs (ODBC driver manager + MariaDB ODBC
# driver for the mysql+pyodbc path) and starts the local database servers if they
# are installed but stopped. Safe to run again: does nothing when all is in place.
set -uo pipefail

packages=(unixodbc odbc-mariadb)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: missing ${missing[*]} (install them to test the MariaDB/pyodbc path)" >&2
  fi
fi

if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; then
  if ! mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
    echo "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
fi
for _ in $(seq 1 30); do
  pg_ok=0; my_ok=0
  ! command -v pg_isready >/dev/null || pg_isready -h 127.0.0.1 -p 5432 -q && pg_ok=1
  ! command -v mariadb-admin >/dev/null || mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 && my_ok=1
  [ $pg_ok = 1 ] && [ $my_ok = 1 ] && break
  sleep 1
done
exit 0
