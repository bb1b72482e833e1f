"""The training acceptance run with the shipped configuration: ``attrition train --trials 30 --promote``.

Other tests loosen the fairness limits to keep their small fixtures promotable; this one
runs the command as an operator would, with ``configs/`` as shipped (gate on Gender at
0.10 beyond holdout noise, Age and marital status audited), on a 5,000-employee workforce.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import reset_settings
from attrition.data.generator import generate_workforce, write_csv
from attrition.db.engine import get_engine

pytestmark = pytest.mark.slow


def test_train_30_trials_with_shipped_configs_promotes_a_good_fair_champion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "DATA_DIR": tmp_path / "var",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "REPORTS_DIR": tmp_path / "reports",
        "REFERENCE_DIR": tmp_path / "reference_data",
        "CONFIG_DIR": Path(__file__).resolve().parents[1] / "configs",
    }.items():
        monkeypatch.setenv(f"ATTRITION_{name}", str(value))
    reset_settings()
    get_engine.cache_clear()
    csv = tmp_path / "workforce.csv"
    write_csv(generate_workforce(5000, seed=7), csv)
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        trained = runner.invoke(app, ["train", "--csv", str(csv), "--trials", "30", "--promote"])
        assert trained.exit_code == 0, trained.output
        assert "promoted to champion" in trained.output
        card = runner.invoke(app, ["model-card", "--format", "json"])
        assert card.exit_code == 0, card.output
        data = json.loads(card.stdout)
    finally:
        reset_settings()
        get_engine.cache_clear()
    assert data["metrics"]["roc_auc"] >= 0.80
    fairness = data["fairness"]
    assert fairness["passed"] and fairness["limits"]["max_equal_opportunity_difference"] == 0.10
    gated = {name: a["gated"] for name, a in fairness["attributes"].items()}
    assert gated == {"Gender": True, "Age": False, "MaritalStatus": False}
    assert (tmp_path / "reference_data" / "reference.parquet").is_file()
