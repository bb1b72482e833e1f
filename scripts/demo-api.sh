#!/usr/bin/env bash
# Starts (or restarts) the prediction API in the background for `make demo`, waits until it
# answers, and prints a fresh demo key. `scripts/demo-api.sh stop` stops it.
# State lives in var/: api.pid, api.log.
set -euo pipefail
cd "$(dirname "$0")/.."

ATTRITION=${ATTRITION:-.venv/bin/attrition}
PORT=${DEMO_API_PORT:-8000}
PYTHON=${PYTHON:-.venv/bin/python}
PID_FILE=var/api.pid
LOG_FILE=var/api.log

ready() {  # the API answers /ready with 200 (no curl needed on the machine)
  "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1
}

stop() {
  if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    kill "$(cat "$PID_FILE")" && echo "stopped the API (pid $(cat "$PID_FILE"))"
    for _ in $(seq 1 50); do kill -0 "$(cat "$PID_FILE")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PID_FILE"
}

if [ "${1:-start}" = stop ]; then stop; exit 0; fi

stop
mkdir -p var
nohup "$ATTRITION" serve api --port "$PORT" --no-access-log >"$LOG_FILE" 2>&1 &
echo $! >"$PID_FILE"
for _ in $(seq 1 60); do
  if ready; then break; fi
  if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    echo "the API did not start; its log ($LOG_FILE):" >&2; tail -n 20 "$LOG_FILE" >&2; exit 1
  fi
  sleep 0.5
done
ready || { echo "the API is not ready; see $LOG_FILE" >&2; exit 1; }

key=$("$ATTRITION" keys create --name "demo-$(date +%Y%m%dT%H%M%S)" --role admin | tail -n 1)
cat <<MSG

The prediction API runs at http://127.0.0.1:$PORT (docs: http://127.0.0.1:$PORT/docs, log: $LOG_FILE,
stop it with: make stop). A demo key with the admin role, shown once:

  $key

Try it:
  curl -s -H "X-API-Key: $key" http://127.0.0.1:$PORT/v1/employees/sample > /tmp/employee.json
  curl -s -H "X-API-Key: $key" -H "Content-Type: application/json" \\
       -d @/tmp/employee.json "http://127.0.0.1:$PORT/v1/predict?explain=true"
  curl -s -H "X-API-Key: $key" http://127.0.0.1:$PORT/v1/drift/latest
MSG
