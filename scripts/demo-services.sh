#!/usr/bin/env bash
# Starts (or restarts) the demo services in the background for `make demo`, waits until each
# answers, signs in a demo user and prints where everything is. `demo-services.sh stop` stops them.
# Each service runs in its own process group (setsid), so stop ends it with all its children.
# State lives in var/: <service>.pid (the process group id), <service>.log, token_secret.
set -euo pipefail
cd "$(dirname "$0")/.."

ATTRITION=${ATTRITION:-.venv/bin/attrition}
PYTHON=${PYTHON:-.venv/bin/python}
API_PORT=${DEMO_API_PORT:-8000}
UI_PORT=${DEMO_UI_PORT:-8501}
API=http://127.0.0.1:$API_PORT
UI=http://127.0.0.1:$UI_PORT
DEMO_USER=demo
CHECKOUT=$(pwd -P)

names=() urls=()

# start NAME HEALTH_URL COMMAND...: run COMMAND as its own process group; wait_all waits for HEALTH_URL.
start() {
  local name=$1 url=$2
  shift 2
  setsid "$@" >"var/$name.log" 2>&1 </dev/null &
  echo $! >"var/$name.pid"  # not a group leader when forked, so setsid made it one: pid = group id
  names+=("$name") urls+=("$url")
}

answers() {  # the URL answers 200 (no curl needed on the machine)
  "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" >/dev/null 2>&1
}

wait_all() {
  local i name
  for i in "${!names[@]}"; do
    name=${names[$i]}
    for _ in $(seq 1 120); do
      if answers "${urls[$i]}"; then break; fi
      if ! kill -0 "$(cat "var/$name.pid")" 2>/dev/null; then
        echo "demo: the $name service did not start; the end of var/$name.log:" >&2
        tail -n 20 "var/$name.log" >&2
        stop >/dev/null
        exit 1
      fi
      sleep 0.5
    done
    answers "${urls[$i]}" || { echo "demo: $name does not answer ${urls[$i]}; see var/$name.log" >&2; stop; exit 1; }
  done
}

ours() {  # the process (group) has a member started from this checkout, so the id is not a recycled one
  local pid
  for pid in "$1" $(pgrep -g "$1" || true); do
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$CHECKOUT" ] && return 0
  done
  return 1
}

stop() {  # every service with a pid file: TERM its group, KILL what is left after 5 s
  local file name group
  for file in var/*.pid; do
    [ -e "$file" ] || continue
    name=$(basename "$file" .pid)
    group=$(cat "$file")
    if ours "$group"; then
      kill -TERM -- "-$group" 2>/dev/null || kill -TERM "$group" 2>/dev/null || true  # a group, else one process
      for _ in $(seq 1 50); do ours "$group" || break; sleep 0.1; done
      if ours "$group"; then
        echo "demo: $name did not stop within 5 s; killing it"
        kill -KILL -- "-$group" 2>/dev/null || kill -KILL "$group" 2>/dev/null || true
        sleep 0.2
      fi
      if ours "$group"; then echo "demo: process group $group ($name) is still running" >&2; return 1; fi
      echo "stopped $name"
    fi
    rm -f "$file"
  done
}

if [ "${1:-start}" = stop ]; then stop; exit 0; fi

stop
mkdir -p var
# One signing secret across API restarts, so a signed-in demo session survives them.
if [ ! -s var/token_secret ]; then
  (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' >var/token_secret)
fi

ATTRITION_SERVING__TOKEN_SECRET=$(cat var/token_secret) \
  start api "$API/ready" "$ATTRITION" serve api --port "$API_PORT" --no-access-log
start ui "$UI/_stcore/health" "$ATTRITION" serve ui --port "$UI_PORT" --api-url "$API"
wait_all

# The demo user: reset the password when it exists, else create it. The password is the last line.
if ! out=$("$ATTRITION" users reset-password --name "$DEMO_USER" --generate 2>/dev/null); then
  out=$("$ATTRITION" users create --name "$DEMO_USER" --role admin --generate)
fi
password=$(tail -n 1 <<<"$out")
key=$("$ATTRITION" keys create --name "demo-$(date +%Y%m%dT%H%M%S)" --role admin | tail -n 1)

cat <<MSG

The demo is running (logs: var/api.log, var/ui.log; stop it with: make stop)

  UI for HR analysts:  $UI
    sign in as:        $DEMO_USER / $password   (an admin, for this demo only)
  API docs:            $API/docs
    admin API key:     $key   (shown once)

Try the API:
  curl -s -H "X-API-Key: $key" $API/v1/employees/sample > /tmp/employee.json
  curl -s -H "X-API-Key: $key" -H "Content-Type: application/json" \\
       -d @/tmp/employee.json "$API/v1/predict?explain=true"
MSG
