#!/usr/bin/env bash
# The core install (no extras) can load a champion and score: what the API image and batch
# scoring rely on, and what breaks silently when serving code starts importing a training or
# drift dependency. A champion is trained with the full .venv into a temp data dir; then a
# throwaway venv holding only the package and its core dependencies (versions from
# requirements.lock) must score it, byte for byte as the full install does.
# Usage: scripts/check-core-install.sh   (after `make venv`; PY=... to use another full venv)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
given="${PY:-.venv/bin/python}"
py="$(cd "$repo" && cd "$(dirname "$given")" && pwd)/$(basename "$given")"
uv=("$py" -m uv)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

export ATTRITION_DATA_DIR="$tmp/var" ATTRITION_REPORTS_DIR="$tmp/reports"
export ATTRITION_REFERENCE_DIR="$tmp/reference" ATTRITION_CONFIG_DIR="$repo/configs"
unset ATTRITION_DATABASE_URL ATTRITION_MLFLOW_TRACKING_URI ATTRITION_MLFLOW_ARTIFACT_ROOT
cd "$tmp"   # neither venv may see the checkout's api/, monitoring/ or ./var

# Run a command quietly: print its output lines matching $1, or all of it if it fails.
run() {
    local show=$1 out status=0
    shift
    out="$("$@" 2>&1)" || status=$?
    if [ $status -ne 0 ]; then printf '%s\n' "$out" >&2; echo "failed ($status): $*" >&2; exit 1; fi
    [ -z "$show" ] || printf '%s\n' "$out" | grep -v ' INFO ' | grep -E "$show" || true
}

echo "== champion, trained with the full install"
full="$(dirname "$py")/attrition"
run "" "$full" db upgrade
run "" "$full" generate --rows 1500 --seed 7 --snapshot-date 2026-10-31 --out "$tmp/workforce.csv"
run "" "$full" ingest "$tmp/workforce.csv"
run "champion|gate" "$full" train --trials 2 --seed 7 --promote
run "^scored" "$full" score --out "$tmp/scores_full.csv"

echo "== core venv: the wheel (built from an sdist) + core dependencies pinned by the lock"
"${uv[@]}" build -q -o "$tmp/dist" "$repo"
"${uv[@]}" venv -q --python "$("$py" -c 'import sys; print(sys._base_executable)')" "$tmp/core"
"${uv[@]}" pip install -q --python "$tmp/core/bin/python" -c "$repo/requirements.lock" "$tmp"/dist/*.whl
echo "core venv: $(du -sh "$tmp/core" | cut -f1), $("${uv[@]}" pip list -q --python "$tmp/core/bin/python" | tail -n +3 | wc -l) packages"

echo "== core venv: nothing from the extras, then load the champion and score"
"$tmp/core/bin/python" - "$tmp/workforce.csv" "$tmp/scores_full.csv" <<'EOF'
import importlib.util
import sys

import numpy as np
import pandas as pd

# fastapi, uvicorn and matplotlib are not in this list: mlflow itself requires them.
extras = ["optuna", "fairlearn", "evidently", "streamlit", "plotly", "croniter",
          "prometheus_client", "psycopg", "pyodbc", "pytest", "api", "monitoring", "frontend"]
present = [name for name in extras if importlib.util.find_spec(name) is not None]
assert not present, f"the core install holds extra packages: {present}"

from attrition.config import get_settings
from attrition.schema import ID_COLUMN
from attrition.serving.loader import Predictor

predictor = Predictor.load(get_settings())
records = pd.read_csv(sys.argv[1]).head(50)
scored = predictor.predict_frame(records, top_k=3)
full = pd.read_csv(sys.argv[2]).set_index(ID_COLUMN)["probability"]
expected = full.loc[records[ID_COLUMN]].to_numpy()
assert np.allclose(scored["probability"].to_numpy(), expected, rtol=0, atol=1e-12), "probabilities differ"
assert all(len(factors) == 3 for factors in scored["top_factors"]), "explanations missing"
loaded = [m for m in ("attrition.training", "attrition.drift") if m in sys.modules]
assert not loaded, f"loading and scoring imported {loaded}"
print(f"Predictor.load: version {predictor.model_version}, 50 records scored and explained")
EOF
run "^scored" "$tmp/core/bin/attrition" score --out "$tmp/scores_core.csv"
cmp "$tmp/scores_full.csv" "$tmp/scores_core.csv"

echo "== core venv: a command that needs an extra names it"
status=0
out="$("$tmp/core/bin/attrition" train --trials 1 2>&1)" || status=$?
if [ $status -ne 2 ] || ! grep -qF "pip install 'attrition[train]'" <<<"$out"; then
    printf '%s\n' "$out" >&2
    echo "attrition train without the train extra: exit $status, expected 2 naming the extra" >&2
    exit 1
fi
printf '%s\n' "$out" | tail -n 1
echo "core install OK: attrition score output equals the full install's ($((SECONDS - start)) s)"
