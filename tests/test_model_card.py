"""The model card describes the champion truthfully, as Markdown and as strict JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest_model import ModelEnv
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import Settings
from attrition.model_card import build_card, render_markdown, to_json, write_card
from attrition.schema import ALL_COLUMNS
from attrition.serving.loader import ModelNotAvailable

runner = CliRunner()


def test_card_states_metrics_data_threshold_fairness_and_factors(model_env: ModelEnv) -> None:
    result = model_env.result
    card = build_card(model_env.settings)

    assert card["model"]["version"] == model_env.version and card["model"]["alias"] == "champion"
    assert card["model"]["family"] == result.best_family
    assert card["metrics"]["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    assert card["metrics"]["brier"] == pytest.approx(result.metrics["brier"])
    low, high = card["intervals"]["roc_auc"]["low"], card["intervals"]["roc_auc"]["high"]
    assert low <= card["metrics"]["roc_auc"] <= high
    assert card["cross_validation"]["roc_auc"] == pytest.approx(result.metrics["cv_roc_auc"])
    assert card["confusion"] == result.confusion
    threshold = card["threshold"]
    assert (threshold["rule"], threshold["value"]) == ("f2", result.model.threshold)
    assert "F2" in threshold["description"]
    data = card["data"]
    assert data["rows_total"] == len(model_env.employees)
    assert (data["rows_train"], data["rows_holdout"]) == (len(result.train_frame), len(result.holdout_frame))
    assert data["fingerprint"] == result.data_fingerprint
    assert data["source"] == "employees@2026-10-31"
    assert card["fairness"]["passed"] is True
    assert set(card["fairness"]["attributes"]) == {"Gender"}
    assert card["protected_attributes"]["attributes"] == ["Gender"]
    assert card["protected_attributes"]["excluded_from_inputs"] is True
    assert "Gender" not in card["inputs"]
    factors = [f["feature"] for f in card["top_factors"]]
    assert factors and set(factors) <= set(ALL_COLUMNS)
    assert factors[0] == next(iter(result.global_importance))
    assert len(card["limitations"]) >= 3
    history = card["search"]["history"]
    trials = result.study.trials
    assert [h["number"] for h in history] == [t.number for t in trials]
    assert [h["state"] for h in history] == [t.state.name.lower() for t in trials]
    best = max((h for h in history if h["state"] == "complete"), key=lambda h: h["cv_roc_auc"])
    assert best["cv_roc_auc"] == pytest.approx(result.study.best_value, abs=1e-5)
    assert best["family"] == result.best_family
    assert all(h["seconds"] is not None and "family" not in h["params"] for h in history)
    assert card["model"]["experiment_id"] is not None
    json.loads(to_json(card))  # strict JSON: no NaN


def test_markdown_is_written_and_readable(model_env: ModelEnv, tmp_path: Path) -> None:
    settings = model_env.settings.model_copy(update={"reports_dir": tmp_path / "reports"})
    card = build_card(settings)
    path = write_card(settings, card)
    text = path.read_text()
    assert path == tmp_path / "reports" / "model_card.md" and text == render_markdown(card)
    assert (tmp_path / "reports" / "model_card.json").exists()
    for heading in (
        "# Model card",
        "## Data it saw",
        "## Holdout metrics",
        "## Decision threshold",
        "## Fairness",
    ):
        assert heading in text
    assert f"| roc_auc | {card['metrics']['roc_auc']:.3f} |" in text
    assert "Fairness gate: **PASSED**" in text
    assert "Protected attributes Gender are NOT model inputs" in text
    assert f"`{model_env.result.data_fingerprint}`" in text


def test_no_champion_means_no_card(empty_env: Settings) -> None:
    with pytest.raises(ModelNotAvailable, match="attrition train --promote"):
        build_card(empty_env)


def test_cli_model_card(model_env: ModelEnv, cli_env: Callable[..., None], tmp_path: Path) -> None:
    cli_env(model_env.settings.model_copy(update={"reports_dir": tmp_path}))

    as_json = runner.invoke(app, ["model-card", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    card = json.loads(as_json.stdout)
    assert card["metrics"]["roc_auc"] == pytest.approx(model_env.result.metrics["roc_auc"])

    as_markdown = runner.invoke(app, ["model-card"])
    assert as_markdown.exit_code == 0
    assert as_markdown.stdout.startswith(f"# Model card: attrition-classifier version {model_env.version}")
    assert (tmp_path / "model_card.md").read_text() in as_markdown.stdout

    wrong = runner.invoke(app, ["model-card", "--format", "pdf"])
    assert wrong.exit_code == 2 and "expected markdown or json" in wrong.output


def test_cli_model_card_without_champion(empty_env: Settings, cli_env: Callable[..., None]) -> None:
    cli_env(empty_env)
    result = runner.invoke(app, ["model-card"])
    assert result.exit_code == 2 and "attrition train --promote" in result.output


def test_the_model_card_shows_the_proxy_table(model_env: ModelEnv) -> None:
    card = build_card(model_env.settings)
    (gender,) = [a for a in card["proxies"]["attributes"] if a["attribute"] == "Gender"]
    assert 0.0 <= gender["value"] <= 1.0 and len(gender["top_inputs"]) == 5
    text = render_markdown(card)
    assert "## Proxies of the protected attributes" in text
    assert f"| Gender | no | ROC-AUC {gender['value']:.3f} |" in text
