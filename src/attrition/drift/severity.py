"""Severity of a drift run: none < moderate < severe < critical.

The rule (thresholds in ``MonitoringSettings.severity``, configs/monitoring.yaml).
Each signal proposes a level; the run's severity is the highest proposal.

=====================  ==========================  ==========================  ===========================
signal                 moderate                    severe                      critical
=====================  ==========================  ==========================  ===========================
feature drift          >= 1 feature drifted        weighted drifted share      weighted drifted share
                                                   >= drift_share_severe       >= drift_share_critical
domain classifier      AUC >= domain_auc_moderate  AUC >= domain_auc_severe    -
predictions            probabilities or bands      probability PSI             -
                       drifted                     >= prediction_psi_severe
performance            confident drop              confident drop              confident drop
                       >= performance_drop_moderate >= ..._severe              >= ..._critical
fairness               a group's selection rate    -                           -
                       shifted
data quality           out-of-contract rate >       a feature absent from the   -
                       max_out_of_contract_rate,   current window or all of
                       missing rate up by >        its values missing
                       max_missing_rate_increase
=====================  ==========================  ==========================  ===========================

* "Drifted" means BH-significant AND past the effect-size minimum (see
  ``attrition.drift.features``). The weighted share sums the weights of the
  drifted features: the champion's global importance when given (normalised
  over the tested features), else equal weights.
* Performance uses realised metrics when outcomes exist, else the label-free
  estimate; "confident drop" = the drop minus z times the combined standard
  error of reference and current figure (ROC-AUC, recall, precision; the
  largest counts; see ``attrition.drift.performance``), so noise
  in a small window does not raise it.
* A window below ``min_rows`` gets no severity at all (status
  "insufficient_data").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from attrition.config import SEVERITIES, SeverityThresholds
from attrition.drift.domain import DomainClassifierResult
from attrition.drift.fairness_drift import FairnessDrift
from attrition.drift.features import FeatureDrift, SchemaCheck
from attrition.drift.performance import PerformanceResult
from attrition.drift.prediction_drift import PredictionDrift


@dataclass
class SeverityAssessment:
    """The level and the reasons that raised it (highest first)."""

    level: str = "none"
    reasons: list[str] = field(default_factory=list)

    def raise_to(self, level: str, reason: str) -> None:
        """Record a reason and lift the level if this one is higher."""
        self.reasons.append(f"{level}: {reason}")
        if SEVERITIES.index(level) > SEVERITIES.index(self.level):
            self.level = level

    def sorted_reasons(self) -> list[str]:
        return sorted(self.reasons, key=lambda r: -SEVERITIES.index(r.split(":", 1)[0]))


def drifted_share(features: list[FeatureDrift]) -> float:
    """Sum of the weights of the drifted features (weights sum to 1 over tested ones)."""
    return float(sum(f.weight for f in features if f.drifted))


def _features(assessment: SeverityAssessment, features: list[FeatureDrift], t: SeverityThresholds) -> None:
    drifted = [f.column for f in features if f.drifted]
    if not drifted:
        return
    share = drifted_share(features)
    level = "moderate"
    if share >= t.drift_share_critical:
        level = "critical"
    elif share >= t.drift_share_severe:
        level = "severe"
    assessment.raise_to(
        level, f"{len(drifted)} feature(s) drifted ({', '.join(drifted)}); weighted share {share:.2f}"
    )


def _quality(
    assessment: SeverityAssessment, features: list[FeatureDrift], schema: SchemaCheck, t: SeverityThresholds
) -> None:
    if schema.missing_in_current:
        assessment.raise_to(
            "severe", f"feature column(s) absent from current: {', '.join(schema.missing_in_current)}"
        )
    empty = [f.column for f in features if f.current_rows == 0]
    if empty:
        assessment.raise_to("severe", f"all values missing in current: {', '.join(empty)}")
    bad = [f.column for f in features if f.current_out_of_contract_rate > t.max_out_of_contract_rate]
    if bad:
        assessment.raise_to(
            "moderate", f"out-of-contract values above {t.max_out_of_contract_rate:.0%}: {', '.join(bad)}"
        )
    more_missing = [
        f.column
        for f in features
        if f.current_rows > 0
        and f.current_missing_rate - f.reference_missing_rate > t.max_missing_rate_increase
    ]
    if more_missing:
        assessment.raise_to(
            "moderate",
            f"missing-value rate up by more than {t.max_missing_rate_increase:.0%}: {', '.join(more_missing)}",
        )


def _performance(
    assessment: SeverityAssessment, performance: PerformanceResult, t: SeverityThresholds
) -> None:
    drop = performance.max_confident_drop
    for level, limit in (
        ("critical", t.performance_drop_critical),
        ("severe", t.performance_drop_severe),
        ("moderate", t.performance_drop_moderate),
    ):
        if drop >= limit:
            worst = max(performance.metrics.items(), key=lambda kv: kv[1].confident_drop)[0]
            assessment.raise_to(
                level, f"{performance.kind} {worst} below the reference by {drop:.3f} beyond the noise"
            )
            return


def assess_severity(
    features: list[FeatureDrift],
    schema: SchemaCheck,
    thresholds: SeverityThresholds,
    *,
    domain: DomainClassifierResult | None = None,
    prediction: PredictionDrift | None = None,
    performance: PerformanceResult | None = None,
    fairness: FairnessDrift | None = None,
) -> SeverityAssessment:
    """Apply the documented rule to every signal that was computed."""
    t = thresholds
    assessment = SeverityAssessment()
    _features(assessment, features, t)
    _quality(assessment, features, schema, t)
    if domain is not None and domain.roc_auc >= t.domain_auc_moderate:
        level = "severe" if domain.roc_auc >= t.domain_auc_severe else "moderate"
        assessment.raise_to(
            level, f"domain classifier tells the windows apart (ROC-AUC {domain.roc_auc:.3f})"
        )
    if prediction is not None and prediction.drifted:
        level = "severe" if prediction.psi >= t.prediction_psi_severe else "moderate"
        assessment.raise_to(
            level,
            f"prediction drift (probability PSI {prediction.psi:.3f}, band PSI {prediction.band_psi:.3f})",
        )
    if performance is not None:
        _performance(assessment, performance, t)
    if fairness is not None and fairness.shifted:
        assessment.raise_to(
            "moderate",
            "fairness shift: "
            + ", ".join(
                f"{g.attribute}={g.group} selection rate {g.reference_rate:.1%} -> {g.current_rate:.1%}"
                for g in fairness.groups
                if g.shifted
            ),
        )
    return assessment
