"""The outcome of one drift analysis and its renderings: JSON dict, Markdown, HTML."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from attrition.drift.domain import DomainClassifierResult
from attrition.drift.fairness_drift import FairnessDrift
from attrition.drift.features import FeatureDrift, SchemaCheck
from attrition.drift.performance import PerformanceResult
from attrition.drift.prediction_drift import PredictionDrift
from attrition.drift.severity import drifted_share

Status = Literal["ok", "insufficient_data"]


def json_safe(value: Any) -> Any:
    """Plain JSON types: numpy scalars unwrapped, NaN/inf as None, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


@dataclass
class DriftResult:
    """Everything one drift analysis found; ``severity`` is None without a verdict."""

    status: Status
    severity: str | None
    reference_rows: int
    current_rows: int
    parameters: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    message: str = ""
    features: list[FeatureDrift] = field(default_factory=list)
    schema: SchemaCheck | None = None
    domain: DomainClassifierResult | None = None
    prediction: PredictionDrift | None = None
    performance: PerformanceResult | None = None
    estimated_performance: PerformanceResult | None = None
    fairness: FairnessDrift | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def drifted_features(self) -> list[str]:
        return [f.column for f in self.features if f.drifted]

    @property
    def drifted_share(self) -> float:
        return drifted_share(self.features)

    @property
    def by_column(self) -> dict[str, FeatureDrift]:
        """Per-column results by name."""
        return {f.column: f for f in self.features}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (what the JSON report and the ``drift_runs`` row hold)."""
        schema = self.schema
        return json_safe(
            {
                "status": self.status,
                "severity": self.severity,
                "created_at": self.created_at,
                "reference_rows": self.reference_rows,
                "current_rows": self.current_rows,
                "message": self.message,
                "reasons": self.reasons,
                "parameters": self.parameters,
                "drifted_features": self.drifted_features,
                "drifted_share": self.drifted_share,
                "features": [f.to_dict() for f in self.features],
                "schema": None
                if schema is None
                else {
                    "missing_in_current": schema.missing_in_current,
                    "missing_in_reference": schema.missing_in_reference,
                    "extra_in_current": schema.extra_in_current,
                },
                "domain_classifier": self.domain.to_dict() if self.domain else None,
                "prediction": self.prediction.to_dict() if self.prediction else None,
                "performance": self.performance.to_dict() if self.performance else None,
                "estimated_performance": self.estimated_performance.to_dict()
                if self.estimated_performance
                else None,
                "fairness": self.fairness.to_dict() if self.fairness else None,
            }
        )

    @property
    def verdict(self) -> str:
        return "INSUFFICIENT DATA" if self.severity is None else self.severity.upper()

    def to_markdown(self) -> str:
        """The summary a person reads first (GitHub issue, alert): verdict, then details."""
        lines = [f"## Attrition drift check: {self.verdict}", ""]
        if self.status != "ok":
            lines.append(self.message)
            return "\n".join(lines) + "\n"
        tested = sum(1 for f in self.features if f.tested)
        lines.append(
            f"Reference {self.reference_rows:,} rows, current {self.current_rows:,} rows; "
            f"{tested} features tested, {len(self.drifted_features)} drifted "
            f"(importance-weighted share {self.drifted_share:.2f}); "
            f"BH false discovery rate {self.parameters.get('false_discovery_rate')}, "
            f"min PSI {self.parameters.get('min_psi')}, "
            f"min normalised Wasserstein {self.parameters.get('min_wasserstein')}, "
            f"min Jensen-Shannon {self.parameters.get('min_jensen_shannon')}."
        )
        lines.append("")
        if self.reasons:
            lines += ["**Why:**", *[f"- {r}" for r in self.reasons], ""]
        lines += self._drifted_table()
        lines += self._quality_lines()
        lines += self._model_lines()
        return "\n".join(lines) + "\n"

    def _drifted_table(self) -> list[str]:
        drifted = sorted((f for f in self.features if f.drifted), key=lambda f: -(f.psi or 0))
        if not drifted:
            return ["**Drifted columns:** none.", ""]
        lines = [
            "### Drifted columns",
            "",
            "| column | kind | test | p (BH) | PSI | Wasserstein | JS | weight | change |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for f in drifted:
            lines.append(
                f"| {f.column} | {f.kind} | {f.test} | {_p(f.p_adjusted)} | {_fmt(f.psi)} | "
                f"{_fmt(f.wasserstein)} | {_fmt(f.jensen_shannon)} | {_fmt(f.weight, 2)} | {f.change} |"
            )
        return [*lines, ""]

    def _quality_lines(self) -> list[str]:
        lines = []
        schema = self.schema
        if schema and schema.missing_in_current:
            lines.append(f"- Feature columns absent from current: {', '.join(schema.missing_in_current)}")
        if schema and schema.missing_in_reference:
            lines.append(f"- Feature columns absent from reference: {', '.join(schema.missing_in_reference)}")
        if schema and schema.extra_in_current:
            lines.append(f"- Columns not in the contract (ignored): {', '.join(schema.extra_in_current)}")
        for f in self.features:
            if f.note:
                lines.append(f"- {f.column}: {f.note}")
            if f.new_values:
                lines.append(
                    f"- {f.column}: new value(s) {', '.join(repr(v) for v in f.new_values)} "
                    f"({f.new_value_rate:.1%} of current rows)"
                )
            if f.current_out_of_contract_rate > 0:
                lines.append(f"- {f.column}: {f.current_out_of_contract_rate:.1%} out-of-contract values")
            if f.current_missing_rate > f.reference_missing_rate and f.current_rows > 0:
                lines.append(
                    f"- {f.column}: missing rate {f.reference_missing_rate:.1%} -> {f.current_missing_rate:.1%}"
                )
        return ["### Data quality", "", *lines, ""] if lines else ["**Data quality:** no issues.", ""]

    def _model_lines(self) -> list[str]:
        lines = []
        if self.domain is not None:
            lines.append(
                f"**Multivariate:** domain classifier ROC-AUC {self.domain.roc_auc:.3f} "
                f"({self.domain.reference_rows:,} + {self.domain.current_rows:,} rows, {self.domain.folds}-fold)."
            )
        p = self.prediction
        if p is None:
            lines.append("**Predictions:** not compared (no champion probabilities given).")
        else:
            lines.append(
                f"**Predictions:** {'drifted' if p.drifted else 'stable'}; mean probability "
                f"{p.reference_mean:.3f} -> {p.current_mean:.3f}, KS p {_p(p.ks_p_value)}, PSI {p.psi:.3f}; "
                f"risk bands PSI {p.band_psi:.3f}, chi-square p {_p(p.band_p_value)}."
            )
        for perf in (self.performance, self.estimated_performance):
            if perf is not None:
                lines.append(_performance_line(perf))
        if self.performance is None and self.prediction is not None:
            lines.append("**Performance (realised):** no outcomes for the current window yet.")
        if self.fairness is not None:
            lines.append(_fairness_line(self.fairness))
        return [line + "\n" for line in lines]


def _performance_line(perf: PerformanceResult) -> str:
    level = f"{perf.confidence_level:.0%}"
    count = (
        f"{perf.positives:,.0f} leavers"
        if perf.kind == "realised"
        else f"{perf.positives:,.1f} expected leavers"
    )
    parts = []
    for name, m in perf.metrics.items():
        ref = f" vs {m.reference:.3f} reference" if m.reference is not None else ""
        parts.append(f"{name} {m.value:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}]{ref}")
    body = "; ".join(parts) if parts else "not computable"
    return (
        f"**Performance ({perf.kind}, {count}, {level} interval, threshold {perf.threshold:.3f}):** {body}."
    )


def _fairness_line(fairness: FairnessDrift) -> str:
    shifted = [g for g in fairness.groups if g.shifted]
    if not shifted:
        text = f"no protected group's selection rate shifted ({len(fairness.groups)} groups compared)"
    else:
        text = "selection rate shifted for " + ", ".join(
            f"{g.attribute}={g.group} {g.reference_rate:.1%} -> {g.current_rate:.1%}" for g in shifted
        )
    for eod in fairness.equal_opportunity:
        reference = "" if eod.reference_difference is None else f", reference {eod.reference_difference:.3f}"
        flag = f", above the {eod.limit:.2f} limit" if eod.above_limit else ""
        text += f"; {eod.attribute} equal opportunity difference {eod.difference:.3f}{reference}{flag}"
    return f"**Fairness:** {text}."


def summary_html(result: DriftResult) -> str:
    """Our verdict as an HTML block (put at the top of the Evidently report)."""
    esc = html.escape
    parts = [
        '<section id="attrition-drift-summary" style="font-family:sans-serif;padding:1em 2em;'
        'border-bottom:2px solid #888">',
        f"<h2>Attrition drift check: {esc(result.verdict)}</h2>",
    ]
    if result.status != "ok":
        parts.append(f"<p>{esc(result.message)}</p></section>")
        return "".join(parts)
    parts.append(
        f"<p>Reference {result.reference_rows:,} rows, current {result.current_rows:,} rows; "
        f"{len(result.drifted_features)} feature(s) drifted, weighted share {result.drifted_share:.2f}. "
        "The per-column tests below use the Benjamini-Hochberg cut-off as their p-value threshold; "
        "our verdict also requires the effect-size minimum.</p>"
    )
    if result.reasons:
        parts.append("<ul>" + "".join(f"<li>{esc(r)}</li>" for r in result.reasons) + "</ul>")
    drifted = [f for f in result.features if f.drifted]
    if drifted:
        header = "".join(
            f"<th>{h}</th>" for h in ("column", "test", "p (BH)", "PSI", "Wasserstein", "change")
        )
        rows = "".join(
            f"<tr><td>{esc(f.column)}</td><td>{esc(str(f.test))}</td><td>{_p(f.p_adjusted)}</td>"
            f"<td>{_fmt(f.psi)}</td><td>{_fmt(f.wasserstein)}</td><td>{esc(f.change)}</td></tr>"
            for f in drifted
        )
        parts.append(f"<table border='1' cellpadding='4'><tr>{header}</tr>{rows}</table>")
    parts.append("</section>")
    return "".join(parts)
