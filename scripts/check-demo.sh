#!/usr/bin/env bash
# Fresh-clone check of `make demo` / `make stop`: the demo starts, its four services answer
# (UI, API, MLflow, the drift service's status file), and stop leaves no process behind.
# Small by default (DEMO_ROWS=1500 DEMO_TRIALS=3); override them, or the DEMO_*_PORT variables.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEMO_ROWS=${DEMO_ROWS:-1500} DEMO_TRIALS=${DEMO_TRIALS:-3}
PYTHON=.venv/bin/python
API=http://127.0.0.1:${DEMO_API_PORT:-8000}
UI=http://127.0.0.1:${DEMO_UI_PORT:-8501}
MLFLOW=http://127.0.0.1:${DEMO_MLFLOW_PORT:-5000}
VAR=${DEMO_VAR_DIR:-${ATTRITION_DATA_DIR:-var}}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

fail() {
  echo "check-demo: $*" >&2
  make --no-print-directory stop || true
  exit 1
}

begin=$(date +%s)
make --no-print-directory demo 2>&1 | tee "$out" || fail "make demo failed"
started=$(date +%s)

for url in "$UI" "$API/docs" "$MLFLOW"; do
  grep -qF "$url" "$out" || fail "make demo did not print $url"
done
grep -q "sign in as: *demo / " "$out" || fail "make demo did not print the demo sign-in"

"$PYTHON" - "$API" "$UI" "$MLFLOW" "$VAR/monitoring_status.json" <<'PY' || fail "a service does not answer"
import json, sys, urllib.request
api, ui, mlflow, status = sys.argv[1:]
def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()
assert json.loads(get(api + "/ready"))["status"] == "ready", "API not ready"
get(api + "/docs")
get(ui + "/_stcore/health")
names = [m["name"] for m in json.loads(get(mlflow + "/api/2.0/mlflow/registered-models/search"))["registered_models"]]
assert names, "MLflow lists no registered model"
state = json.loads(open(status).read())["state"]
assert state in {"starting", "running", "sleeping"}, f"drift service state {state!r}"
print(f"check-demo: API ready, UI healthy, MLflow lists {names}, drift service {state}")
PY

ids=$(cat "$VAR"/*.pid | tr '\n' ' ')
make --no-print-directory stop
alive() {  # live (not zombie, exited but not yet reaped) members of process group $1
  ps -eo pgid=,stat=,pid=,args= | awk -v g="$1" '$1 == g && $2 !~ /^Z/'
}
for group in $ids; do
  left=$(alive "$group")
  if [ -n "$left" ]; then fail "process group $group is still running after make stop: $left"; fi
done
ls "$VAR"/*.pid >/dev/null 2>&1 && fail "pid files are left in $VAR"
make --no-print-directory stop >/dev/null || fail "a second make stop failed"
echo "check-demo: ok (make demo $((started - begin)) s, checks and stop $(($(date +%s) - started)) s)"
