"""Reference data for drift monitoring, written whenever the champion changes.

The drift job compares current records and predictions against what the champion
learned from: a sample of its training + holdout records (contract columns, with a
``split`` column), scored by the champion (``probability``, ``label``, ``risk_band``).

Files in ``settings.reference_dir``:

* ``reference.parquet``: the scored sample.
* ``reference.json``: model name/version, run id, threshold, risk bands, holdout
  metrics, global importance, data fingerprint, row counts, created_at.
* ``PROVENANCE.md``: where these files came from and how to regenerate them (the
  tracked ``README.md`` beside them explains the folder).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from attrition.config import Settings

if TYPE_CHECKING:
    from attrition.serving.model import AttritionModel

logger = logging.getLogger(__name__)

REFERENCE_DATA = "reference.parquet"
REFERENCE_META = "reference.json"
REFERENCE_PROVENANCE = "PROVENANCE.md"


def write_reference(
    settings: Settings,
    model: AttritionModel,
    sample: pd.DataFrame,
    *,
    model_version: str,
    summary: Mapping[str, Any],
    run_id: str,
) -> Path:
    """Score ``sample`` with the champion and write the three reference files; returns the folder."""
    folder = Path(settings.reference_dir)
    folder.mkdir(parents=True, exist_ok=True)
    scored = pd.concat([sample.reset_index(drop=True), model.predict(sample.reset_index(drop=True))], axis=1)
    scored["model_version"] = str(model_version)
    meta = reference_meta(
        settings, model, scored, model_version=model_version, summary=summary, run_id=run_id
    )
    _atomic_write(folder / REFERENCE_DATA, lambda p: scored.to_parquet(p, index=False))
    _atomic_write(
        folder / REFERENCE_META,
        lambda p: p.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8"),
    )
    _atomic_write(
        folder / REFERENCE_PROVENANCE, lambda p: p.write_text(render_provenance(meta), encoding="utf-8")
    )
    logger.info("reference data for version %s written to %s (%d rows)", model_version, folder, len(scored))
    return folder


def reference_meta(
    settings: Settings,
    model: AttritionModel,
    scored: pd.DataFrame,
    *,
    model_version: str,
    summary: Mapping[str, Any],
    run_id: str,
) -> dict[str, Any]:
    """What ``reference.json`` holds."""
    data = summary.get("data", {})
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model_name": settings.model_name,
        "model_version": str(model_version),
        "run_id": run_id,
        "trained_at": summary.get("trained_at"),
        "threshold": float(model.threshold),
        "threshold_rule": model.threshold_rule,
        "risk_bands": model.risk_bands.model_dump(),
        "metrics": dict(summary.get("metrics", {})),
        "global_importance": dict(summary.get("global_importance", {})),
        "data_fingerprint": data.get("fingerprint"),
        "training_rows": data.get("rows_total"),
        "snapshot_dates": data.get("snapshot_dates", []),
        "rows": len(scored),
        "rows_by_split": {str(k): int(v) for k, v in scored["split"].value_counts().items()}
        if "split" in scored
        else {},
        "columns": list(scored.columns),
        "risk_band_counts": {str(k): int(v) for k, v in scored["risk_band"].value_counts().items()},
        "mean_probability": float(scored["probability"].mean()) if len(scored) else None,
    }


def read_reference(settings: Settings) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The reference sample and its metadata; FileNotFoundError says how to create them."""
    folder = Path(settings.reference_dir)
    data, meta = folder / REFERENCE_DATA, folder / REFERENCE_META
    if not data.exists() or not meta.exists():
        raise FileNotFoundError(
            f"no reference data in {folder}: it is written when a champion is promoted "
            "(`attrition train --promote` or `attrition promote`)"
        )
    return pd.read_parquet(data), json.loads(meta.read_text(encoding="utf-8"))


def render_provenance(meta: Mapping[str, Any]) -> str:
    """Provenance of the reference files, for someone who finds them in the repository."""
    metrics = meta.get("metrics", {})
    splits = ", ".join(f"{k}: {v}" for k, v in meta.get("rows_by_split", {}).items()) or "n/a"
    return f"""# Provenance of this reference data

Generated automatically when the champion model changed. Do not edit by hand:
promote a model (`attrition train --promote` or `attrition promote`) or roll back
(`attrition rollback`) to regenerate.

| | |
|---|---|
| model | `{meta["model_name"]}` version {meta["model_version"]} (MLflow run `{meta["run_id"]}`) |
| trained at | {meta.get("trained_at")} |
| written at | {meta["created_at"]} |
| training data fingerprint | `{meta.get("data_fingerprint")}` ({meta.get("training_rows")} rows) |
| snapshot dates | {", ".join(meta.get("snapshot_dates") or []) or "n/a (CSV or generated data)"} |
| rows here | {meta["rows"]} ({splits}) |
| threshold | {meta["threshold"]:.4f} ({meta["threshold_rule"]}) |
| holdout ROC-AUC | {metrics.get("roc_auc", float("nan")):.4f} |

## Files

- `{REFERENCE_DATA}`: a sample (at most 20,000 rows) of the records the champion was trained
  and evaluated on: every contract column, `split` (train / holdout), and the champion's
  `probability`, `label` (probability >= threshold), `risk_band` and `model_version`.
- `{REFERENCE_META}`: the model version, threshold, risk bands, holdout metrics, global
  feature importance and data fingerprint the drift job compares against.

The drift job (`attrition drift` / the drift container) compares the current window of
employees and logged predictions with this sample. The records are HR data: keep this
folder as access-controlled as the app database.
"""


def _atomic_write(path: Path, write: Any) -> None:
    """Write to a temp file and rename, so the drift job never reads a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    tmp.replace(path)
