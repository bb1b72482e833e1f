"""The Evidently HTML report: our methods, the BH threshold, our summary on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from attrition.config import Settings
from attrition.data.generator import generate_workforce
from attrition.drift import run_drift_analysis
from attrition.drift import statistics as st
from attrition.drift.evidently_report import build_drift_report, write_html_report
from attrition.drift.windows import Window

ROWS = 600


@pytest.fixture
def report_settings() -> Settings:
    settings = Settings()
    settings.monitoring.domain_classifier = False
    return settings


def test_report_uses_our_methods_and_the_bh_cutoff(report_settings: Settings) -> None:
    reference = generate_workforce(ROWS, 1)
    current = generate_workforce(ROWS, 2, drift="reorg")
    result = run_drift_analysis(Window(reference, "reference"), Window(current, "current"), report_settings)
    report = build_drift_report(result, report_settings.monitoring)
    preset = report.metrics[0]
    methods = preset.per_column_method
    assert methods["MonthlyIncome"] == "ks"
    assert methods["JobRole"] == "chisquare" and methods["JobSatisfaction"] == "chisquare"
    assert set(methods) == {f.column for f in result.features if f.tested}
    cutoff = st.bh_cutoff([f.p_value for f in result.features if f.tested], 0.05)
    assert all(v == pytest.approx(cutoff) for v in preset.per_column_threshold.values())
    assert set(preset.per_column_threshold) == set(methods)
    psi_panels = {m.column for m in report.metrics[1:]}
    assert psi_panels == set(result.drifted_features) and {"Department", "JobRole"} <= psi_panels


@pytest.mark.slow
def test_html_report_is_written_with_our_summary_first(tmp_path: Path, report_settings: Settings) -> None:
    reference = generate_workforce(ROWS, 3)
    current = generate_workforce(ROWS, 4, drift="overtime_surge")
    result = run_drift_analysis(Window(reference, "reference"), Window(current, "current"), report_settings)
    path = write_html_report(
        reference, current, result, tmp_path / "out" / "drift.html", report_settings.monitoring
    )
    html = path.read_text(encoding="utf-8")
    summary = html.index('id="attrition-drift-summary"')
    assert summary < html.index("</body>")
    assert html.index("<body") < summary
    assert "Attrition drift check: MODERATE" in html
    assert "OverTime" in html[summary : summary + 5000]  # the drifted column in our table
    # Evidently's own report (its widgets sit as JSON in a script): the drift table over
    # every tested column, agreeing with our count, and a PSI panel for the drifted one.
    tested = sum(1 for f in result.features if f.tested)
    assert result.drifted_features == ["OverTime"]
    assert f"Drift is detected for {round(100 / tested, 3)}% of columns (1 out of {tested})." in html
    assert "Drift in column 'OverTime'" in html


def test_insufficient_data_report_is_the_summary_alone(tmp_path: Path, report_settings: Settings) -> None:
    reference = generate_workforce(ROWS, 5)
    small = generate_workforce(50, 6)
    result = run_drift_analysis(Window(reference, "reference"), Window(small, "current"), report_settings)
    html = write_html_report(
        reference, small, result, tmp_path / "d.html", report_settings.monitoring
    ).read_text()
    assert "INSUFFICIENT DATA" in html and "at least 200 rows" in html
    assert "Drift in column" not in html
