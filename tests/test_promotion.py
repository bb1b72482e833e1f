"""Promotion gates, rollback, the audit trail, reference data and the lifecycle CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest_model import ModelEnv, training_settings
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import CHALLENGER, CHAMPION, Settings
from attrition.data.generator import write_csv
from attrition.db.engine import get_engine
from attrition.db.repositories import list_audit
from attrition.reference import read_reference
from attrition.registry.aliases import ACTION_REFUSED, promote, rollback
from attrition.registry.runs import log_and_register
from attrition.registry.store import RegistryError, alias_version, configure
from attrition.schema import ATTRITION_NO, ATTRITION_YES, TARGET
from attrition.training.pipeline import train_model

runner = CliRunner()


def _aliases(settings: Settings) -> tuple[str | None, str | None]:
    client = configure(settings)
    name = settings.model_name
    return alias_version(client, name, CHAMPION), alias_version(client, name, CHALLENGER)


def _versions(settings: Settings) -> list[str]:
    client = configure(settings)
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{settings.model_name}'"))


def _train(frame: pd.DataFrame, **overrides: object):  # type: ignore[no-untyped-def]
    return train_model(frame.drop(columns="snapshot_date"), training_settings(**overrides))


def test_challenger_below_the_floor_is_refused(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    shuffled = champion_env.employees.copy()
    shuffled[TARGET] = shuffled[TARGET].sample(frac=1.0, random_state=3).to_numpy()
    weak = _train(shuffled, trials=2)
    version = log_and_register(weak, settings, actor="alice")

    decision = promote(settings, actor="alice")

    assert not decision.promoted
    assert any("below the floor" in r for r in decision.reasons), decision.reasons
    assert _aliases(settings) == (champion_env.version, version)
    refused = list_audit(get_engine(settings.db_url), action=ACTION_REFUSED)
    assert len(refused) == 1 and refused[0]["actor"] == "alice"
    assert refused[0]["detail"]["version"] == version
    tags = configure(settings).get_model_version(settings.model_name, version).tags
    assert "below the floor" in tags["promotion_refused_reason"]


@pytest.mark.slow
def test_worse_challenger_is_refused_on_the_same_holdout(champion_env: ModelEnv) -> None:
    # A floor low enough that only the comparison with the champion can refuse it.
    floor = champion_env.settings.training.model_copy(update={"min_roc_auc": 0.5})
    settings = champion_env.settings.model_copy(update={"training": floor})
    worse = _train(champion_env.employees, trials=1, families=["random_forest"], seed=3)
    assert worse.fairness.passed and worse.metrics["roc_auc"] >= settings.training.min_roc_auc
    version = log_and_register(worse, settings)

    decision = promote(settings)

    assert not decision.promoted
    checks = decision.checks
    assert checks["champion_version"] == champion_env.version
    assert checks["roc_auc_drop"] > settings.training.max_roc_auc_drop
    assert checks["challenger_roc_auc_on_holdout"] == pytest.approx(worse.metrics["roc_auc"])
    assert any(f"below champion version {champion_env.version}" in r for r in decision.reasons)
    assert _aliases(settings) == (champion_env.version, version)


def test_biased_model_fails_the_fairness_gate_and_is_not_promoted(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    biased_data = champion_env.employees.copy()
    women = biased_data["Gender"] == "Female"
    biased_data.loc[women, TARGET] = np.where(
        biased_data.loc[women, TARGET] == ATTRITION_YES, ATTRITION_NO, ATTRITION_YES
    )
    biased = _train(biased_data, trials=2, exclude_protected_from_features=False)
    assert not biased.fairness.passed
    gender = biased.fairness.to_dict()["attributes"]["Gender"]
    assert gender["demographic_parity_difference"] > 0.5, gender
    version = log_and_register(biased, settings)

    decision = promote(settings)

    assert not decision.promoted
    assert decision.checks["fairness_passed"] is False
    assert any(r.startswith("fairness gate failed") and "Gender" in r for r in decision.reasons), (
        decision.reasons
    )
    assert _aliases(settings) == (champion_env.version, version)


def test_rollback_restores_the_previous_champion(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    first = champion_env.version
    second = log_and_register(champion_env.result, settings, actor="bob")
    assert promote(settings, actor="bob", reason="weekly retrain").promoted
    assert _aliases(settings) == (second, None)
    assert read_reference(settings)[1]["model_version"] == second

    decision = rollback(settings, actor="carol", reason="complaints from HR")

    assert (decision.version, decision.previous_champion) == (first, second)
    assert _aliases(settings)[0] == first
    assert read_reference(settings)[1]["model_version"] == first
    moves = [
        (
            e["action"],
            e["actor"],
            e["detail"]["from_version"],
            e["detail"]["to_version"],
            e["detail"]["reason"],
        )
        for e in list_audit(get_engine(settings.db_url))
        if e["subject"].endswith(f"@{CHAMPION}")
    ]
    assert moves[:2] == [
        ("rollback", "carol", second, first, "complaints from HR"),
        ("promote", "bob", first, second, "weekly retrain"),
    ]
    client = configure(settings)
    assert client.get_model_version(settings.model_name, second).tags["rolled_back_by"] == "carol"
    assert (
        client.get_model_version(settings.model_name, first).tags[f"{CHAMPION}_set_reason"]
        == "complaints from HR"
    )
    # Version 1 replaced nothing, so there is nothing further back.
    with pytest.raises(RegistryError, match="no previous champion"):
        rollback(settings, actor="dan")
    (refused,) = [
        e for e in list_audit(get_engine(settings.db_url), action="rollback") if e["outcome"] != "ok"
    ]
    assert (refused["actor"], refused["outcome"]) == ("dan", "refused")
    assert "no previous champion" in refused["detail"]["reason"]


def test_promotion_edge_cases(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    with pytest.raises(RegistryError, match="no challenger"):
        promote(settings)
    with pytest.raises(RegistryError, match="no version '99'"):
        promote(settings, version=99)
    again = promote(settings, version=champion_env.version)
    assert not again.promoted and "already the champion" in again.reasons[0]
    # each attempt that moved nothing is in the audit log with how it ended
    attempts = list_audit(get_engine(settings.db_url), action="promotion_refused")
    assert [e["outcome"] for e in attempts] == ["refused", "not_found", "refused"]
    assert "already the champion" in attempts[0]["detail"]["reason"]
    assert (
        "no version '99'" in attempts[1]["detail"]["reason"]
        and "no challenger" in attempts[2]["detail"]["reason"]
    )


def test_reference_data_follows_the_champion(model_env: ModelEnv) -> None:
    frame, meta = read_reference(model_env.settings)
    model = model_env.result.model
    assert meta["model_version"] == model_env.version
    assert meta["threshold"] == model.threshold
    assert meta["data_fingerprint"] == model_env.result.data_fingerprint
    assert meta["metrics"]["roc_auc"] == pytest.approx(model_env.result.metrics["roc_auc"])
    assert meta["global_importance"] and meta["rows"] == len(frame) == len(model_env.employees)
    assert set(frame["split"]) == {"train", "holdout"}
    np.testing.assert_array_equal(frame["probability"].to_numpy(), model.predict_proba(frame))
    assert set(frame["risk_band"]) <= {"low", "medium", "high", "critical"}
    readme = (Path(model_env.settings.reference_dir) / "PROVENANCE.md").read_text()
    assert f"version {model_env.version}" in readme and meta["run_id"] in readme
    assert meta["snapshot_dates"] == ["2026-10-31"] and "2026-10-31" in readme


# --- CLI ------------------------------------------------------------------------------------


def _bad_frames(employees: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, str]]:
    data = employees.drop(columns="snapshot_date")
    return {
        "one_class": (data.assign(**{TARGET: ATTRITION_NO}), "one class only"),
        "too_few_rows": (data.head(50), "at least 200 are needed"),
        "missing_column": (data.drop(columns="OverTime"), "missing required column(s): OverTime"),
    }


@pytest.mark.parametrize("case", ["one_class", "too_few_rows", "missing_column"])
def test_cli_train_on_bad_data_exits_2_and_moves_nothing(
    case: str, champion_env: ModelEnv, cli_env: Callable[..., None], tmp_path: Path
) -> None:
    frame, message = _bad_frames(champion_env.employees)[case]
    path = tmp_path / f"{case}.csv"
    frame.to_csv(path, index=False)
    cli_env(champion_env.settings)
    before = (_aliases(champion_env.settings), _versions(champion_env.settings))

    result = runner.invoke(app, ["train", "--csv", str(path), "--promote"])

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert (_aliases(champion_env.settings), _versions(champion_env.settings)) == before


def test_cli_train_with_no_employees_says_how_to_get_some(
    empty_env: Settings, cli_env: Callable[..., None]
) -> None:
    cli_env(empty_env)
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2
    assert "attrition ingest" in result.output


@pytest.mark.slow
def test_cli_train_promote_rollback(
    empty_env: Settings, cli_env: Callable[..., None], workforce: pd.DataFrame, tmp_path: Path
) -> None:
    csv = tmp_path / "workforce.csv"
    write_csv(workforce.drop(columns="snapshot_date"), csv)
    # The gates have tests of their own; here every model may pass so the wiring is what is tested.
    gates = {"max_roc_auc_drop": "1.0", "max_equal_opportunity_difference": "1.0"}
    cli_env(empty_env, trials="3", max_demographic_parity_difference="1.0", **gates)

    first = runner.invoke(app, ["train", "--csv", str(csv), "--promote", "--actor", "dana"])
    assert first.exit_code == 0, first.output
    assert "registered attrition-classifier version 1 as challenger" in first.output
    assert "version 1 promoted to champion" in first.output
    assert _aliases(empty_env) == ("1", None)

    second = runner.invoke(app, ["train", "--csv", str(csv), "--seed", "8", "--trials", "2"])
    assert second.exit_code == 0, second.output
    assert _aliases(empty_env) == ("1", "2")

    promoted = runner.invoke(app, ["promote", "--actor", "dana"])
    assert promoted.exit_code == 0, promoted.output
    assert _aliases(empty_env) == ("2", None)
    refused = runner.invoke(app, ["promote"])
    assert refused.exit_code == 1 and "no challenger" in refused.output

    rolled = runner.invoke(app, ["rollback", "--actor", "erin", "--reason", "v2 flags too many in Sales"])
    assert rolled.exit_code == 0, rolled.output
    assert "version 2 -> 1" in rolled.output
    assert _aliases(empty_env)[0] == "1"
    events = list_audit(get_engine(empty_env.db_url))
    actions = [(e["action"], e["actor"]) for e in events if e["outcome"] == "ok"]
    assert actions[:2] == [("rollback", "erin"), ("promote", "dana")]
    # the promote without a challenger moved nothing: recorded as refused, between the two moves
    assert (events[1]["action"], events[1]["outcome"]) == ("promotion_refused", "refused")
    assert "no challenger" in events[1]["detail"]["reason"]
    assert list_audit(get_engine(empty_env.db_url))[0]["detail"]["reason"] == "v2 flags too many in Sales"
    assert [a for a, _ in actions].count("set_challenger") == 2
    meta = json.loads((Path(empty_env.reference_dir) / "reference.json").read_text())
    assert meta["model_version"] == "1"
