"""Every Evidently call of the project, so the next Evidently API change touches one file.

Written against Evidently 0.7: ``Report([...]).run(current, reference)`` returns
a ``Snapshot`` (``get_html_str``, ``dict``); ``DataDriftPreset`` takes
``per_column_method`` / ``per_column_threshold``; ``ValueDrift`` tests one column.

The HTML report uses the methods our statistics use: "ks" for continuous
columns, "chisquare" for ordinal and categorical ones (declared categorical so
Evidently accepts the test), each with the Benjamini-Hochberg cut-off of this
run as its p-value threshold, so Evidently's per-column "drift detected"
matches our significance decision (up to its chi-square not pooling sparse
levels); a PSI panel per drifted column shows the effect size. Our own summary (the
verdict, which also needs the effect-size minimum) is inserted at the top.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift
from evidently.presets import DataDriftPreset

from attrition.config import MonitoringSettings
from attrition.drift import statistics as st
from attrition.drift.result import DriftResult, summary_html
from attrition.schema import SPECS

logger = logging.getLogger(__name__)

#: Evidently's name for each of our tests.
EVIDENTLY_METHODS = {"ks": "ks", "chi2": "chisquare"}


def _typed(frame: pd.DataFrame, numerical: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numbers as floats, categories as text: what Evidently's column types expect."""
    out = pd.DataFrame(index=frame.index)
    for column in numerical:
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in categorical:
        out[column] = frame[column].astype("string").astype(object)
    return out


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame


def build_drift_report(result: DriftResult, settings: MonitoringSettings) -> Report:
    """An Evidently report configured with our per-column methods and BH threshold."""
    tested = [f for f in result.features if f.tested and f.test in EVIDENTLY_METHODS]
    cutoff = st.bh_cutoff([float(f.p_value or 0.0) for f in tested], settings.false_discovery_rate)
    # Evidently flags p < threshold; BH rejects p <= cutoff.
    threshold = float(min(1.0, cutoff * (1 + 1e-9)))
    metrics: list[Any] = [
        DataDriftPreset(
            columns=[f.column for f in tested],
            per_column_method={f.column: EVIDENTLY_METHODS[str(f.test)] for f in tested},
            per_column_threshold={f.column: threshold for f in tested},
        )
    ]
    # PSI panels for the drifted columns only: the effect size where it matters, half the render time.
    metrics += [
        ValueDrift(column=f.column, method="psi", threshold=settings.min_psi) for f in tested if f.drifted
    ]
    return Report(metrics)


def write_html_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    result: DriftResult,
    path: Path,
    settings: MonitoringSettings,
    *,
    max_rows: int = 50_000,
) -> Path:
    """Write the Evidently drift report with our summary on top; returns the path.

    Windows over ``max_rows`` are sampled (seeded) for the report only: the
    verdict was computed on every row, the charts do not need them all.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tested = [f for f in result.features if f.tested and f.test in EVIDENTLY_METHODS]
    if result.status != "ok" or not tested:
        path.write_text(_page(summary_html(result)), encoding="utf-8")
        return path
    numerical = [f.column for f in tested if f.kind == "continuous"]
    categorical = [f.column for f in tested if f.kind != "continuous"]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    ref = _typed(_sample(reference, max_rows, settings.seed), numerical, categorical)
    cur = _typed(_sample(current, max_rows, settings.seed + 1), numerical, categorical)
    snapshot = build_drift_report(result, settings).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    page = _insert_at_top(snapshot.get_html_str(as_iframe=False), summary_html(result))
    path.write_text(page, encoding="utf-8")
    logger.info("wrote drift HTML report %s", path)
    return path


def _page(body: str) -> str:
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'


def _insert_at_top(page: str, block: str) -> str:
    """Put ``block`` right after the opening body tag (or first, if there is none)."""
    match = re.search(r"<body[^>]*>", page, flags=re.IGNORECASE)
    if match is None:
        return block + page
    return page[: match.end()] + block + page[match.end() :]


@dataclass
class EvidentlyDrift:
    """What Evidently's default DataDriftPreset decided (for side-by-side benchmarks)."""

    drifted_columns: list[str]
    drifted_share: float
    dataset_drift: bool


def evidently_default_drift(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]
) -> EvidentlyDrift:
    """Run ``DataDriftPreset()`` with all defaults (auto column types, per-column p < 0.05
    below 1,000 rows, distance thresholds above) and read its per-column decisions."""
    kept = [c for c in columns if c in SPECS]
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current[kept], reference[kept])
    content = snapshot.dict()
    prefix = "Value Drift for column "
    drifted = [
        test["name"][len(prefix) :]
        for test in content["tests"]
        if test["name"].startswith(prefix) and _status(test["status"]) == "FAIL"
    ]
    share = next(
        (
            m["value"]["share"]
            for m in content["metrics"]
            if m["metric_name"].startswith("DriftedColumnsCount")
        ),
        len(drifted) / max(len(kept), 1),
    )
    return EvidentlyDrift(drifted, float(share), bool(share >= 0.5))


def _status(status: Any) -> str:
    return str(getattr(status, "value", status))
