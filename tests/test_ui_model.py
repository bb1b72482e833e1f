"""The Model page (the champion's model card) against a live API: AppTest, no mocked responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from ui_support import APP, DOWN_URL, PASSWORD, World, open_app, texts

from frontend.client import ApiClient, NotFound

TABS = ["Performance", "Fairness", "Explanations", "Search history"]


def _api(world: World) -> ApiClient:
    anonymous = ApiClient(world.api_url)
    session = anonymous.sign_in(World.user("viewer"), PASSWORD)
    anonymous.close()
    return ApiClient(world.api_url, session.token)


@pytest.fixture(scope="module")
def card(ui_world: World) -> dict[str, Any]:
    api = _api(ui_world)
    try:
        return api.model_card()
    finally:
        api.close()


@pytest.fixture
def page(ui_world: World) -> Iterator[AppTest]:
    app = open_app(ui_world.api_url, World.user("viewer"), "model.py")
    assert not app.exception, app.exception
    yield app


def _metric(app: AppTest, label: str) -> str:
    return next(str(m.value) for m in app.metric if m.label == label)


def _chart(app: AppTest, key: str) -> dict[str, Any]:
    found = [c for c in app.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert found, f"no chart {key!r}"
    spec: dict[str, Any] = json.loads(found[0].proto.spec)
    return spec


def _frame(app: AppTest, *columns: str) -> pd.DataFrame:
    return next(df.value for df in app.dataframe if set(columns) <= set(df.value.columns))


def test_header_shows_the_champion_its_data_and_threshold(page: AppTest, card: dict[str, Any]) -> None:
    model, data = card["model"], card["data"]
    assert _metric(page, "Version") == f"v{model['version']}"
    assert (
        _metric(page, "Model family")
        == "Logistic regression"
        == model["family"].replace("_", " ").capitalize()
    )
    assert _metric(page, "Trained") == model["trained_at"][:10]
    assert _metric(page, "Decision threshold") == f"{card['threshold']['value']:.3f}"
    shown = texts(page)
    assert f"**{data['rows_total']:,}** labelled records from snapshot **2026-10-31**" in shown
    assert f"{data['rows_holdout']:,} held out" in shown
    assert card["threshold"]["description"] in shown  # how the threshold was chosen
    assert [t.label for t in page.tabs][: len(TABS)] == TABS  # then "Versions" (its own test)


def test_headline_metrics_equal_the_card_with_their_intervals(page: AppTest, card: dict[str, Any]) -> None:
    metrics, intervals = card["metrics"], card["intervals"]
    assert _metric(page, "ROC-AUC") == f"{metrics['roc_auc']:.3f}"
    assert _metric(page, "PR-AUC") == f"{metrics['pr_auc']:.3f}"
    assert _metric(page, "Recall") == f"{metrics['recall'] * 100:.1f}%"
    assert _metric(page, "Precision") == f"{metrics['precision'] * 100:.1f}%"
    roc = intervals["roc_auc"]
    assert f"95% interval {roc['low']:.3f} – {roc['high']:.3f}" in texts(page)
    table = _frame(page, "Metric", "Holdout", "95% interval", "Cross-validated")
    row = table.set_index("Metric").loc["ROC-AUC"]
    assert row["Cross-validated"] == f"{card['cross_validation']['roc_auc']:.3f}"


def test_performance_charts_plot_the_cards_curves_and_confusion(page: AppTest, card: dict[str, Any]) -> None:
    charts = card["charts"]
    roc = _chart(page, "roc_chart")["data"]
    assert roc[0]["x"] == [p["x"] for p in charts["roc"]] and roc[0]["y"] == [p["y"] for p in charts["roc"]]
    assert roc[1]["x"] == [0, 1] and roc[1]["y"] == [0, 1]  # the chance diagonal
    pr = _chart(page, "pr_chart")["data"]
    assert pr[0]["x"] == [p["x"] for p in charts["precision_recall"]] and len(pr) == 1
    calibration = _chart(page, "calibration_chart")["data"]
    assert calibration[0]["y"] == [p["y"] for p in charts["calibration"]] and calibration[1]["y"] == [0, 1]
    heat = _chart(page, "confusion_chart")["data"][0]
    cm = charts["confusion"]
    assert heat["z"] == [[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]]
    assert heat["y"] == ["stayed", "left"] and heat["x"] == ["predicted: stayed", "predicted: left"]
    assert f"On the {charts['holdout_rows']} held-out employees" in texts(page)


def test_fairness_tab_shows_each_attribute_its_groups_and_the_gate(
    page: AppTest, card: dict[str, Any]
) -> None:
    fairness = card["fairness"]
    assert fairness["attributes"], "the fixture's champion has a fairness audit"
    shown = texts(page)
    assert ":green-badge[:material/verified: gate passed]" in shown  # overall gate, then per attribute
    for name, audit in fairness["attributes"].items():
        assert name in [s.value for s in page.subheader]
        groups = _frame(page, "group", "size", "selection_rate", "tpr")
        expected = pd.DataFrame(audit["groups"])
        assert groups["group"].tolist() == expected["group"].tolist()
        assert groups["size"].tolist() == expected["size"].tolist()
        assert groups["tpr"].tolist() == expected["tpr"].tolist()
        gap = f"{audit['demographic_parity_difference'] * 100:.1f}%"
        assert _metric(page, "Selection-rate gap") == gap
        limit = fairness["limits"]["max_demographic_parity_difference"]
        bound = audit["demographic_parity_lower_bound"]
        assert f"Lower confidence bound {bound * 100:.1f}% · limit {limit * 100:.1f}%" in shown


def test_fairness_tab_shows_how_well_the_inputs_predict_each_protected_attribute(
    page: AppTest, card: dict[str, Any]
) -> None:
    measured = [a for a in card["proxies"]["attributes"] if "value" in a]
    assert measured, "the fixture's champion has a proxy report"
    assert "Proxies of the protected attributes" in [s.value for s in page.subheader]
    table = _frame(page, "Attribute", "Predicted from the inputs")
    assert table["Attribute"].tolist() == [a["attribute"] for a in measured]
    first = measured[0]
    assert table["Predicted from the inputs"].iloc[0] == f"ROC-AUC {first['value']:.2f}"
    assert table["Inputs carrying it most"].iloc[0].startswith(first["top_inputs"][0]["column"])


def test_explanations_plot_the_global_importance_largest_on_top(page: AppTest, card: dict[str, Any]) -> None:
    bars = _chart(page, "importance_chart")["data"][0]
    top = card["top_factors"][:15]
    assert bars["orientation"] == "h"
    assert bars["y"] == [f["feature"] for f in reversed(top)]  # plotly draws the last bar on top
    assert bars["y"][-1] == top[0]["feature"] == "OverTime"
    assert card["intended_use"] in texts(page)


def test_search_history_tab_plots_every_trial_and_lists_the_best(page: AppTest, card: dict[str, Any]) -> None:
    assert _metric(page, "Trials run") == str(card["search"]["trials"])
    history = [h for h in card["search"]["history"] if h["cv_roc_auc"] is not None]
    traces = _chart(page, "search_chart")["data"]
    points = {(x, y) for t in traces if t["mode"] == "markers" for x, y in zip(t["x"], t["y"], strict=True)}
    assert points == {(h["number"], h["cv_roc_auc"]) for h in history}
    best_line = next(t for t in traces if t["name"] == "best so far")
    assert best_line["y"][-1] == max(h["cv_roc_auc"] for h in history if h["state"] == "complete")
    best = _frame(page, "Trial", "CV ROC-AUC")
    assert best["CV ROC-AUC"].iloc[0] == best_line["y"][-1] and best["CV ROC-AUC"].is_monotonic_decreasing
    params = _frame(page, "Setting", "Value")
    assert set(params["Setting"]) == set(card["model"]["best_params"])


def test_mlflow_links_open_the_run_and_the_version(page: AppTest, card: dict[str, Any]) -> None:
    urls = {b.proto.label: b.proto.url for b in page.get("link_button")}
    model = card["model"]
    assert urls["Training run in MLflow"] == (
        f"http://127.0.0.1:5000/#/experiments/{model['experiment_id']}/runs/{model['run_id']}"
    )
    assert urls["Model version in MLflow"].endswith(f"/#/models/{model['name']}/versions/{model['version']}")


def test_without_an_mlflow_address_the_run_id_is_shown_instead(
    ui_world: World, card: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTRITION_UI__MLFLOW_URL", "")
    app = open_app(ui_world.api_url, World.user("viewer"), "model.py")
    assert not app.exception
    assert not app.get("link_button")
    assert f"MLflow run `{card['model']['run_id']}`" in texts(app)


def test_the_versions_tab_appears_only_when_the_api_lists_versions(page: AppTest, ui_world: World) -> None:
    api = _api(ui_world)
    try:
        versions = api.model_versions()["items"]
    except NotFound:  # an API without GET /v1/model/versions: the tab is left out
        versions = []
    finally:
        api.close()
    labels = [t.label for t in page.tabs]
    if not versions:
        assert labels == TABS
    else:
        assert labels == [*TABS, "Versions"]
        assert _frame(page, "Version", "Aliases")["Version"].tolist() == [v["version"] for v in versions]


def test_no_champion_says_how_to_train_and_promote_one(empty_world: World) -> None:
    app = open_app(empty_world.api_url, World.user("viewer"), "model.py")
    assert not app.exception
    shown = texts(app)
    assert "No model is in service yet" in shown and "`attrition train --promote`" in shown
    assert not app.tabs and not app.get("plotly_chart") and not app.metric


def test_an_api_that_does_not_answer_says_how_to_start_it(ui_world: World) -> None:
    api = ApiClient(ui_world.api_url)
    session = api.sign_in(World.user("viewer"), PASSWORD)
    api.close()
    open_app(DOWN_URL)  # points the UI at DOWN_URL
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["session"] = session
    app.run()
    app.switch_page("app_pages/model.py").run()
    assert not app.exception
    shown = texts(app)
    assert f"The prediction API at {DOWN_URL} does not answer" in shown and "attrition serve api" in shown
    assert not app.tabs and not app.metric
