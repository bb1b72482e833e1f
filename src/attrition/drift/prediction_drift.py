"""Prediction drift: has the champion's output distribution moved?

Probabilities: KS test and PSI over reference deciles. Risk bands: chi-square
(sparse bands pooled) and PSI over the bands. Each counts as drifted when its
p-value is below ``false_discovery_rate`` (two tests, so no further correction
is worth its complexity) AND its PSI reaches ``min_psi``, the same two-part rule
as the features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from attrition.config import MonitoringSettings
from attrition.drift import statistics as st


@dataclass
class PredictionDrift:
    """Probability and risk-band shift between the windows."""

    reference_rows: int
    current_rows: int
    reference_mean: float
    current_mean: float
    ks_statistic: float
    ks_p_value: float
    psi: float
    probabilities_drifted: bool
    band_chi2: float | None
    band_p_value: float | None
    band_psi: float
    bands_drifted: bool
    reference_band_shares: dict[str, float] = field(default_factory=dict)
    current_band_shares: dict[str, float] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return self.probabilities_drifted or self.bands_drifted

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drifted": self.drifted}


def _shares(counts: st.Counts, which: np.ndarray) -> dict[str, float]:
    shares = st.proportions(which)
    return {str(v): float(s) for v, s in zip(counts.values, shares, strict=True)}


def prediction_drift(
    reference_probabilities: np.ndarray,
    current_probabilities: np.ndarray,
    reference_bands: np.ndarray,
    current_bands: np.ndarray,
    settings: MonitoringSettings,
) -> PredictionDrift:
    """Compare the champion's probabilities and risk bands of two windows."""
    alpha = settings.false_discovery_rate
    probabilities = st.counts_from_arrays(reference_probabilities, current_probabilities)
    ks_statistic, ks_p = st.ks_test(probabilities)
    prob_psi = st.psi(*st.quantile_bins(probabilities, settings.psi_bins), settings.psi_epsilon)
    band_counts = st.counts_from_series(
        pd.Series(reference_bands, dtype=object), pd.Series(current_bands, dtype=object)
    )
    band_chi2, band_p = st.chi_square_test(band_counts, settings.min_expected_count)
    band_psi = st.psi(band_counts.reference, band_counts.current, settings.psi_epsilon)
    band_testable = not np.isnan(band_p)
    return PredictionDrift(
        reference_rows=probabilities.n_reference,
        current_rows=probabilities.n_current,
        reference_mean=st.weighted_mean(probabilities.values, probabilities.reference),
        current_mean=st.weighted_mean(probabilities.values, probabilities.current),
        ks_statistic=ks_statistic,
        ks_p_value=ks_p,
        psi=prob_psi,
        probabilities_drifted=bool(ks_p < alpha and prob_psi >= settings.min_psi),
        band_chi2=band_chi2 if band_testable else None,
        band_p_value=band_p if band_testable else None,
        band_psi=band_psi,
        bands_drifted=bool(band_testable and band_p < alpha and band_psi >= settings.min_psi),
        reference_band_shares=_shares(band_counts, band_counts.reference),
        current_band_shares=_shares(band_counts, band_counts.current),
    )
