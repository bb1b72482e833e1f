#!/usr/bin/env bash
# Installs the Debian packages the project needs and starts the local database servers if
# they are installed but stopped. Safe to run again: quiet, and does nothing, when all is in place.
#   - unixodbc, odbc-mariadb: the ODBC driver manager and MariaDB driver (the mysql+pyodbc path)
#   - chromium, chromium-driver: the browser Playwright drives in the UI's browser test (Debian's
#     build, launched by path: no `playwright install` download); fonts-liberation for its text
#   - nginx: only its `nginx -t`, which checks the compose stack's proxy configuration (the
#     package's own service is not started: no init system runs here)
#   - shellcheck: actionlint checks the workflows' run: scripts with it, as on GitHub's runners
set -euo pipefail

missing=()
for p in unixodbc odbc-mariadb; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ -x /usr/bin/chromium ] || missing+=(chromium chromium-driver fonts-liberation)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v wrk >/dev/null || missing+=(wrk) # load benchmark client: benchmarks/bench_load.py, tests/test_load_short.py
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]}"
    # No recommends: they are a desktop's (upower, notification daemon, printer set-up).
    # apt's chatter (debconf notes) only when it fails.
    if ! out=$({ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } 2>&1); then
      echo "$out" >&2
      echo "warning: could not install ${missing[*]}; the tests that need them fail or are skipped" >&2
    fi
  else
    echo "warning: missing ${missing[*]} (as root: apt-get install ${missing[*]});" \
      "the MariaDB/pyodbc tests and the browser test need them" >&2
  fi
fi

if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    versions=(/etc/postgresql/*/)
    pg_ctlcluster --skip-systemctl-redirect "$(basename "${versions[0]}")" main start || true
  fi
fi
if command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; then
  if ! mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
    echo "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
fi
pg_up() { ! command -v pg_isready >/dev/null || pg_isready -h 127.0.0.1 -p 5432 -q; }
my_up() { ! command -v mariadb-admin >/dev/null || mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; }
for _ in $(seq 1 30); do
  if pg_up && my_up; then break; fi
  sleep 1
done
exit 0
