#!/usr/bin/env bash
# Starts (or restarts) the demo services in the background for `make demo`: the API, the UI, the
# drift service (python -m monitoring --interval) and an MLflow server over the demo's store; waits
# until each answers, signs in a demo user and prints where everything is. `demo-services.sh stop`
# stops them. Each service runs in its own process group (setsid) and carries DEMO_SERVICES_ID in
# its environment, so stop ends the group and then finds any descendant that left it (its own
# setsid) by that variable; it fails loudly when something survives.
# State lives in $DEMO_VAR_DIR (default: the data dir, var/): <service>.pid (the process group
# id), <service>.log, token_secret.
set -euo pipefail
cd "$(dirname "$0")/.."

ATTRITION=${ATTRITION:-.venv/bin/attrition}
PYTHON=${PYTHON:-.venv/bin/python}
MLFLOW=${MLFLOW:-.venv/bin/mlflow}
VAR=${DEMO_VAR_DIR:-${ATTRITION_DATA_DIR:-var}}
API_PORT=${DEMO_API_PORT:-8000}
UI_PORT=${DEMO_UI_PORT:-8501}
MLFLOW_PORT=${DEMO_MLFLOW_PORT:-5000}
DRIFT_INTERVAL=${DEMO_DRIFT_INTERVAL:-3600}
# MLflow's job execution (huey consumers for GenAI judges / online scoring) is not used by this
# project and costs ~8 more processes (~2 GB); DEMO_MLFLOW_JOBS=true turns it on.
MLFLOW_JOBS=${DEMO_MLFLOW_JOBS:-false}
API=http://127.0.0.1:$API_PORT
UI=http://127.0.0.1:$UI_PORT
MLFLOW_UI=http://127.0.0.1:$MLFLOW_PORT
DEMO_USER=demo
mkdir -p "$VAR"
ID=$(cd "$VAR" && pwd -P)  # marks every process of this demo (and only this one's) in its environment

names=() checks=()

# start NAME CHECK COMMAND...: run COMMAND as its own process group; wait_all runs CHECK until it passes.
start() {
  local name=$1 check=$2
  shift 2
  DEMO_SERVICES_ID=$ID setsid "$@" >"$VAR/$name.log" 2>&1 </dev/null &
  echo $! >"$VAR/$name.pid"  # not a group leader when forked, so setsid made it one: pid = group id
  names+=("$name") checks+=("$check")
}

answers() {  # the URL answers 200 (no curl needed on the machine)
  "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" >/dev/null 2>&1
}

passes() {  # a check is a URL that must answer, or "file:PATH": the drift service's status file is fresh
  case $1 in
    file:*) "$PYTHON" deploy/drift_healthcheck.py "${1#file:}" 2>/dev/null ;;
    *) answers "$1" ;;
  esac
}

wait_all() {
  local i name
  for i in "${!names[@]}"; do
    name=${names[$i]}
    for _ in $(seq 1 180); do
      if passes "${checks[$i]}"; then break; fi
      if ! kill -0 "$(cat "$VAR/$name.pid")" 2>/dev/null; then
        echo "demo: the $name service did not start; the end of $VAR/$name.log:" >&2
        tail -n 20 "$VAR/$name.log" >&2
        stop >/dev/null || true
        exit 1
      fi
      sleep 0.5
    done
    if ! passes "${checks[$i]}"; then
      echo "demo: $name does not pass its check (${checks[$i]}); see $VAR/$name.log" >&2
      stop || true
      exit 1
    fi
  done
}

tagged() {  # pids of the processes carrying this demo's DEMO_SERVICES_ID, wherever their group is
  grep -lzxF "DEMO_SERVICES_ID=$ID" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$" || true
}

ours() {  # the group has a member of this demo, so the id in the pid file is not a recycled one
  local pid
  for pid in $(pgrep -g "$1" || true); do
    grep -qzxF "DEMO_SERVICES_ID=$ID" "/proc/$pid/environ" 2>/dev/null && return 0
  done
  return 1
}

huey_dirs() {  # the temp dirs MLflow's job execution made for its queues (it never removes them)
  local pid
  for pid in $(pgrep -g "$1" || true); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^_MLFLOW_HUEY_STORAGE_PATH=//p'
  done | sort -u
}

stop_group() {  # NAME GROUP: TERM the group, KILL it after 10 s
  local name=$1 group=$2 dirs dir
  dirs=$(huey_dirs "$group")
  kill -TERM -- "-$group" 2>/dev/null || true
  for _ in $(seq 1 100); do ours "$group" || break; sleep 0.1; done
  if ours "$group"; then
    echo "demo: $name did not stop within 10 s; killing it"
    kill -KILL -- "-$group" 2>/dev/null || true
    sleep 0.3
  fi
  for dir in $dirs; do
    case $dir in /dev/shm/tmp* | /tmp/tmp*) rm -rf "$dir" ;; esac
  done
  echo "stopped $name"
}

stop_leftovers() {  # processes of this demo outside the groups (e.g. a worker that ran setsid itself)
  local left pid
  left=$(tagged)
  [ -n "$left" ] || return 0
  echo "demo: ending processes that left their service's group: $(paste -sd' ' <<<"$left")" >&2
  for pid in $left; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do [ -n "$(tagged)" ] || return 0; sleep 0.1; done
  for pid in $(tagged); do kill -KILL "$pid" 2>/dev/null || true; done
  sleep 0.3
}

stop() {  # every service with a pid file, then anything else of this demo; exit 1 if something survives
  local file name group left
  for file in "$VAR"/*.pid; do
    [ -e "$file" ] || continue
    name=$(basename "$file" .pid)
    group=$(cat "$file")
    if ours "$group"; then stop_group "$name" "$group"; fi
    rm -f "$file"
  done
  stop_leftovers
  left=$(tagged)
  if [ -n "$left" ]; then
    echo "demo: these processes of the demo are still running:" >&2
    ps -o pid,pgid,sid,cmd -p "$(paste -sd, <<<"$left")" >&2 || true
    return 1
  fi
}

if [ "${1:-start}" = stop ]; then stop; exit $?; fi

stop
# The MLflow store the CLI logged to (a SQLite file in the data dir unless configured) and the drift
# service's status file, as the settings resolve them.
resolved=$("$PYTHON" -c '
from attrition.config import get_settings
from monitoring.scheduler import default_status_path
s = get_settings()
print(s.tracking_uri, s.artifact_root, default_status_path(s).resolve(), sep="\n")')
{ read -r tracking; read -r artifacts; read -r status_file; } <<<"$resolved"
case $tracking in
  http:* | https:* | databricks*)
    echo "demo: MLflow tracking is the server $tracking, not a local store this demo can serve;" \
      "unset ATTRITION_MLFLOW_TRACKING_URI" >&2
    exit 1 ;;
esac
# One signing secret across API restarts, so a signed-in demo session survives them.
if [ ! -s "$VAR/token_secret" ]; then
  (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$VAR/token_secret")
fi
rm -f "$status_file"  # a status file left by an earlier run would pass the check before this one starts

# Runs logged by the CLI keep their file:// artifact URIs: the server reads those directly, so it
# serves no artifact proxy, and new experiments get the same root.
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=$MLFLOW_JOBS \
  start mlflow "$MLFLOW_UI/health" "$MLFLOW" server --backend-store-uri "$tracking" \
  --default-artifact-root "$artifacts" --no-serve-artifacts \
  --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1
ATTRITION_SERVING__TOKEN_SECRET=$(cat "$VAR/token_secret") \
  start api "$API/ready" "$ATTRITION" serve api --port "$API_PORT" --no-access-log
ATTRITION_UI__MLFLOW_URL=$MLFLOW_UI \
  start ui "$UI/_stcore/health" "$ATTRITION" serve ui --port "$UI_PORT" --api-url "$API"
start drift "file:$status_file" "$PYTHON" -m monitoring --interval "$DRIFT_INTERVAL" --status-file "$status_file"
wait_all

# The demo user: reset the password when it exists, else create it. The password is the last line.
if ! out=$("$ATTRITION" users reset-password --name "$DEMO_USER" --generate 2>/dev/null); then
  out=$("$ATTRITION" users create --name "$DEMO_USER" --role admin --generate)
fi
password=$(tail -n 1 <<<"$out")
key=$("$ATTRITION" keys create --name "demo-$(date +%Y%m%dT%H%M%S)" --role admin | tail -n 1)

cat <<MSG

The demo is running (logs: $VAR/{api,ui,mlflow,drift}.log; stop it with: make stop)

  UI for HR analysts:  $UI
    sign in as:        $DEMO_USER / $password   (an admin, for this demo only)
  API docs:            $API/docs
    admin API key:     $key   (shown once)
  MLflow UI:           $MLFLOW_UI   (runs, the registered model and its champion alias)
  Drift service:       a check every ${DRIFT_INTERVAL}s; status in $status_file

Try the API:
  curl -s -H "X-API-Key: $key" $API/v1/employees/sample > /tmp/employee.json
  curl -s -H "X-API-Key: $key" -H "Content-Type: application/json" \\
       -d @/tmp/employee.json "$API/v1/predict?explain=true"
MSG
