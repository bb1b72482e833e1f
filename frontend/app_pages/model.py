"""The champion's model card: what it is, what it saw, how good and how fair it is, what drives it."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from frontend import session as state
from frontend import widgets
from frontend.client import NotFound, Unavailable

LABELS = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "f1": "F1", "f2": "F2", "brier": "Brier score"}
LABELS |= {"recall": "Recall", "precision": "Precision", "accuracy": "Accuracy", "ece": "Calibration error"}
RATES = {"recall", "precision", "accuracy"}
HEADLINE = ("roc_auc", "pr_auc", "recall", "precision")
DASHED = {"dash": "dash", "color": "#9E9E9E"}
CONFUSION_Y = {"title": "actually", "autorange": "reversed"}
GATES = {True: ("gate passed", "green"), False: ("gate failed", "red"), None: ("not audited", "gray")}
TRAIN_FIX = "Train and promote one: `attrition train --promote`"
CHARTS_FIX = "The API computes them from the run's stored holdout and retries in a few minutes: reload later, or check the MLflow artifact store."
# (chart key, card field, title, x axis, y axis, name of the diagonal drawn for reference)
CURVES = (
    ("roc_chart", "roc", "ROC curve", "False positive rate", "True positive rate", "Chance"),
    ("pr_chart", "precision_recall", "Precision-recall curve", "Recall", "Precision", ""),
    ("calibration_chart", "calibration", "Calibration", "Predicted probability", "Observed rate", "Perfect"),
)
PCT = "percent"
VERSION_COLUMNS = {
    "created_at": st.column_config.DatetimeColumn("Registered (UTC)", format="YYYY-MM-DD HH:mm"),
    "roc_auc": st.column_config.NumberColumn("ROC-AUC", format="%.3f"),
    "recall": st.column_config.NumberColumn("Recall", format=PCT),
}
GROUP_COLUMNS: dict[str, Any] = {
    "group": "Group",
    "size": st.column_config.NumberColumn("People in holdout", format="%d"),
    "positives": st.column_config.NumberColumn("Who left", format="%d"),
    "selection_rate": st.column_config.NumberColumn("Flagged", format=PCT),
    "tpr": st.column_config.NumberColumn("Leavers caught (TPR)", format=PCT),
    "fpr": st.column_config.NumberColumn("False alarms (FPR)", format=PCT),
    "gated": st.column_config.CheckboxColumn("Gated"),
}


def fmt(name: str, value: float | None) -> str:
    """A metric as people read it: rates as percentages, scores to three decimals."""
    return "—" if value is None else widgets.pct(value) if name in RATES else f"{value:.3f}"


def interval(name: str, ci: dict[str, Any] | None) -> str:
    return f"{fmt(name, ci['low'])} – {fmt(name, ci['high'])}" if ci else ""


def load() -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """The champion's card and the registered versions (None when the API has no such list)."""
    try:
        state.read("model")  # 503 here means no champion is loaded (the card's 503 may be other trouble)
    except Unavailable as exc:
        widgets.missing("No model is in service yet, so there is no model card to show.", TRAIN_FIX)
        st.caption(f"The API says: {exc.message}")
        st.stop()
    card: dict[str, Any] = state.read("model_card")
    try:
        versions: list[dict[str, Any]] | None = state.read("model_versions")["items"]
    except (NotFound, Unavailable):  # optional: an older API has no list; MLflow may be down
        versions = None
    return card, versions


def header(card: dict[str, Any]) -> None:
    m, data, t = card["model"], card["data"], card["threshold"]
    cols = st.columns(4)
    cols[0].metric("Version", f"v{m['version']}", m.get("alias"), "off", border=True, delta_arrow="off")
    cols[1].metric("Model family", str(m.get("family") or "—").replace("_", " ").capitalize(), border=True)
    cols[2].metric("Trained", str(m.get("trained_at") or "—")[:10], border=True)
    cols[3].metric("Decision threshold", fmt("", t.get("value")), border=True)
    dates = ", ".join(data.get("snapshot_dates") or []) or str(data.get("source") or "a file")
    st.markdown(
        f"Trained on **{widgets.count(data.get('rows_total'))}** labelled records from snapshot **{dates}**: "
        f"{widgets.count(data.get('rows_train'))} to fit, {widgets.count(data.get('rows_holdout'))} held out "
        f"for evaluation (attrition rate {widgets.pct(data.get('attrition_rate_holdout'))}). "
        f"Employees at or above an estimated probability of **{widgets.pct(t.get('value'))}** are flagged; "
        f"the threshold was chosen to {t.get('description') or t.get('rule')}."
    )
    links(m)


def links(m: dict[str, Any]) -> None:
    """The run and the registered version in the MLflow UI (when its address is configured)."""
    base = (state.ui_settings().mlflow_url or "").rstrip("/")
    if not base:
        st.caption(f"MLflow run `{m.get('run_id')}` (set `ATTRITION_UI__MLFLOW_URL` to link to it).")
        return
    exp = m.get("experiment_id")  # None for a run that is gone: MLflow's /#/runs/<id> page still resolves
    run = f"{base}/#/experiments/{exp}/runs/{m['run_id']}" if exp else f"{base}/#/runs/{m['run_id']}"
    version = f"{base}/#/models/{m['name']}/versions/{m['version']}"
    c1, c2, _ = st.columns([1, 1, 2])
    c1.link_button("Training run in MLflow", run, icon=":material/open_in_new:", key="mlflow_run")
    c2.link_button("Model version in MLflow", version, icon=":material/open_in_new:", key="mlflow_version")


def headline(card: dict[str, Any]) -> None:
    metrics, intervals, cv = card["metrics"], card["intervals"], card["cross_validation"]
    for col, name in zip(st.columns(len(HEADLINE)), HEADLINE, strict=True):
        band = f"95% interval {interval(name, intervals.get(name))}" if name in intervals else "no interval"
        col.metric(LABELS[name], fmt(name, metrics.get(name)), help=f"On the holdout; {band}.", border=True)
        col.caption(band)
    rows = [
        (LABELS[n], fmt(n, v), interval(n, intervals.get(n)), fmt(n, cv.get(n)))
        for n, v in metrics.items()
        if n in LABELS
    ]
    with st.expander("All holdout metrics"):
        table = pd.DataFrame(rows, columns=["Metric", "Holdout", "95% interval", "Cross-validated"])
        st.dataframe(table, hide_index=True, key="metrics_table")


def curve(points: list[dict[str, Any]], title: str, x: str, y: str, diagonal: str) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[p["x"] for p in points], y=[p["y"] for p in points], name=title))
    if diagonal:
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=DASHED, name=diagonal)
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, height=380, legend={"orientation": "h"})
    return fig


def confusion(cm: dict[str, int], threshold: float | None) -> go.Figure:
    z = [[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]]
    x, y = ["predicted: stayed", "predicted: left"], ["stayed", "left"]
    heat = go.Heatmap(z=z, x=x, y=y, text=z, texttemplate="%{text}", colorscale="Blues", showscale=False)
    title = f"Confusion at threshold {fmt('', threshold)}"
    return go.Figure(heat, {"title": title, "height": 380, "yaxis": CONFUSION_Y})


def performance(card: dict[str, Any]) -> None:
    charts = card.get("charts")
    places = list(st.columns(2)) * 2
    if not charts:
        why = card.get("charts_error") or "the API sent the card without them"
        widgets.missing(f"The performance curves are not available: {why}.", CHARTS_FIX)
    else:
        st.caption(f"On the {widgets.count(charts['holdout_rows'])} held-out employees the model never saw.")
        for place, (key, field, title, x, y, diagonal) in zip(places, CURVES, strict=False):
            place.plotly_chart(curve(charts[field], title, x, y, diagonal), width="stretch", key=key)
    cm = charts["confusion"] if charts else card.get("confusion")
    if cm:
        figure = confusion(cm, card["threshold"].get("value"))
        places[3 if charts else 0].plotly_chart(figure, width="stretch", key="confusion_chart")


def gate_badge(passed: bool | None, gated: bool = True) -> None:
    label, color = GATES[passed] if gated else ("reported, not gated", "gray")
    st.badge(label, color=color, icon=":material/verified:")  # type: ignore[arg-type]


def attribute(name: str, a: dict[str, Any], limits: dict[str, Any]) -> None:
    """One protected attribute: its gate result, both gaps with their lower bounds, the groups."""
    st.subheader(name)
    gate_badge(a.get("passed"), a.get("gated", True))
    gaps = (("Selection-rate gap", "demographic_parity"), ("True-positive-rate gap", "equal_opportunity"))
    for col, (label, key) in zip(st.columns(2), gaps, strict=True):
        col.metric(label, widgets.pct(a.get(f"{key}_difference")), border=True)
        bound, limit = a.get(f"{key}_lower_bound"), limits.get(f"max_{key}_difference")
        col.caption(f"Lower confidence bound {widgets.pct(bound)} · limit {widgets.pct(limit)}")
    groups = pd.DataFrame(a.get("groups", []))
    if not groups.empty:
        groups = groups.reindex(columns=list(GROUP_COLUMNS))
        st.dataframe(groups, hide_index=True, key=f"fairness_{name}", column_config=GROUP_COLUMNS)
    if a.get("note"):
        st.caption(a["note"])


def fairness(card: dict[str, Any]) -> None:
    f = card["fairness"]
    limits = f.get("limits", {})
    gate_badge(f.get("passed"))
    st.markdown(
        f"A gap fails the gate only when its one-sided {widgets.pct(limits.get('confidence'), 0)} lower "
        "confidence bound is above its limit, so holdout noise alone does not refuse a model. Groups under "
        f"{limits.get('min_group_size', '?')} people are reported but not gated."
    )
    for failure in f.get("failures", []):
        st.error(failure, icon=":material/gpp_bad:")
    for name, a in f.get("attributes", {}).items():
        with st.container(border=True):
            attribute(name, a, limits)
    if not f.get("attributes"):
        widgets.missing("The card has no fairness audit.", TRAIN_FIX)
    st.caption(card["protected_attributes"].get("statement") or "")
    proxies(card.get("proxies") or {})


def proxies(report: dict[str, Any]) -> None:
    """How much of each protected attribute the inputs carry (excluded is not the same as no effect)."""
    measured = [a for a in report.get("attributes", []) if "value" in a]
    if not measured:
        return
    st.subheader("Proxies of the protected attributes")
    st.markdown(
        "How well the model's inputs predict each protected attribute: a model that never reads it can "
        "still act on it through inputs that carry it. ROC-AUC 0.5 (or R² 0) means the inputs say nothing."
    )
    rows = [
        {
            "Attribute": a["attribute"],
            "Predicted from the inputs": f"{'ROC-AUC' if a['metric'] == 'roc_auc' else 'R²'} {a['value']:.2f}",
            "Inputs carrying it most": ", ".join(
                f"{t['column']} ({t['share']:.0%})" for t in a.get("top_inputs", [])[:3]
            ),
        }
        for a in measured
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="fairness_proxies")
    st.caption(report.get("method", ""))


def explanations(card: dict[str, Any]) -> None:
    top = pd.DataFrame(card.get("top_factors", [])).head(15)
    if top.empty:
        widgets.missing("The card has no global feature importance.", TRAIN_FIX)
    else:
        top = top.iloc[::-1]
        fig = go.Figure(go.Bar(x=top["importance"].abs(), y=top["feature"], orientation="h"))
        title, units = f"Top {len(top)} factors (mean |SHAP|)", card["contribution_units"]
        fig.update_layout(title=title, xaxis_title=units, height=460)
        st.plotly_chart(fig, width="stretch", key="importance_chart")
    st.markdown(f"**Intended use.** {card['intended_use']}")
    st.markdown("**Limitations**\n" + "\n".join(f"- {item}" for item in card["limitations"]))
    with st.expander(f"The {len(card['inputs'])} input columns"):
        st.write(", ".join(map(str, card["inputs"])))


def search(card: dict[str, Any]) -> None:
    s, m = card["search"], card["model"]
    c1, c2, c3 = st.columns(3)
    c1.metric("Trials run", widgets.count(s.get("trials")), border=True)
    c2.metric("Trials completed", widgets.count(s.get("complete_trials")), border=True)
    c3.metric("Cross-validated ROC-AUC", fmt("roc_auc", card["cross_validation"].get("roc_auc")), border=True)
    history = pd.DataFrame(s.get("history") or [])
    if history.empty:
        widgets.missing(
            "This model was trained before the search history was recorded with it.",
            f"Open the training run in MLflow (button above) to see study `{s.get('study_name', '?')}`, "
            "or retrain (`attrition train --promote`).",
        )
    else:
        search_chart(history)
    st.markdown(f"**Chosen settings** ({m.get('family')}, calibration: {m.get('calibration') or 'none'})")
    params = pd.DataFrame([(k, str(v)) for k, v in m["best_params"].items()], columns=["Setting", "Value"])
    st.dataframe(params, hide_index=True, key="best_params")
    st.caption(m.get("calibration_reason") or "")


def search_chart(history: pd.DataFrame) -> None:
    """Each trial's cross-validated ROC-AUC by family, the best so far, and the best trials."""
    scored = history.dropna(subset=["cv_roc_auc"])
    fig = go.Figure()
    for family, trials in scored.groupby("family"):
        fig.add_scatter(
            x=trials["number"],
            y=trials["cv_roc_auc"],
            mode="markers",
            name=str(family),
            text=trials["state"],
            hovertemplate="trial %{x}: %{y:.3f} (%{text})",
        )
    completed = scored[scored["state"] == "complete"]
    fig.add_scatter(
        x=completed["number"],
        y=completed["cv_roc_auc"].cummax(),
        mode="lines",
        name="best so far",
        line={"color": "#444", "dash": "dot"},
    )
    fig.update_layout(
        title="Search history", xaxis_title="Trial", yaxis_title="Cross-validated ROC-AUC", height=380
    )
    st.plotly_chart(fig, width="stretch", key="search_chart")
    best = completed.nlargest(10, "cv_roc_auc")[["number", "family", "cv_roc_auc", "cv_pr_auc", "seconds"]]
    best.columns = ["Trial", "Family", "CV ROC-AUC", "CV PR-AUC", "Seconds"]
    st.markdown("**Best trials**")
    st.dataframe(best, hide_index=True, key="best_trials")
    if len(history) < int(history["number"].max()) + 1:
        st.caption(f"The first {len(history):,} trials are shown.")


def versions_table(items: list[dict[str, Any]]) -> None:
    """Every registered version (GET /v1/model/versions): what an ML reviewer compares."""
    frame = pd.DataFrame(items).reindex(columns=["version", "aliases", "created_at", "fairness_passed"])
    frame.columns = ["Version", "Aliases", "created_at", "Fairness gate"]
    frame["Aliases"] = frame["Aliases"].map(lambda a: ", ".join(a or []))
    frame["Fairness gate"] = frame["Fairness gate"].map({True: "passed", False: "failed"})
    for name in ("roc_auc", "recall"):
        frame[name] = [(v.get("metrics") or {}).get(name) for v in items]
    st.dataframe(frame, hide_index=True, key="versions_table", column_config=VERSION_COLUMNS)


state.require("viewer", "The model card")
st.title("Model")
st.caption("The model that scores employees: what it learned from, how good and how fair it is, and why.")
with state.guard("the model card"):
    card, versions = load()
header(card)
headline(card)
names = ["Performance", "Fairness", "Explanations", "Search history"] + (["Versions"] if versions else [])
for tab, show in zip(
    st.tabs(names), (performance, fairness, explanations, search, versions_table), strict=False
):
    with tab:
        show(versions if show is versions_table else card)  # type: ignore[operator]
