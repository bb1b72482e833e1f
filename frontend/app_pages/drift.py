"""Drift: is the workforce still like the one the model learned from, and does the model still hold up?"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from frontend import session as state
from frontend import widgets
from frontend.client import NotFound

FIRST_RUN = "Run the first check: `attrition drift run`; the drift service (`python -m monitoring`) runs it on a schedule."
OUTCOMES_FIX = "Send them with `POST /v1/feedback` or the Prediction log page."
HTML_FIX = "`attrition drift run` writes the HTML report unless it is run with `--no-html`."
SEVERITY_COLORS = {"none": "#54A24B", "moderate": "#F2B701", "severe": "#F58518", "critical": "#8B0000"}
METRIC_NAMES = {"roc_auc": "ROC-AUC", "recall": "Recall", "precision": "Precision"}
P = "%.3g"
FEATURE_COLUMNS: dict[str, Any] = {
    "column": "Feature",
    "kind": "Kind",
    "test": "Test",
    "statistic": st.column_config.NumberColumn("Statistic", format="%.3f"),
    "p_value": st.column_config.NumberColumn("p-value", format=P),
    "p_adjusted": st.column_config.NumberColumn("Adjusted p (BH)", format=P),
    "psi": st.column_config.NumberColumn("PSI", format="%.3f"),
    "wasserstein": st.column_config.NumberColumn("Wasserstein (norm.)", format="%.3f"),
    "jensen_shannon": st.column_config.NumberColumn("Jensen-Shannon", format="%.3f"),
    "change": st.column_config.TextColumn("Change", width="medium"),
    "drifted": "Drifted",
}
NUMBER_FORMATS = {
    "statistic": "{:.3f}",
    "p_value": "{:.3g}",
    "p_adjusted": "{:.3g}",
    "psi": "{:.3f}",
    "wasserstein": "{:.3f}",
    "jensen_shannon": "{:.3f}",
}
GROUP_COLUMNS: dict[str, Any] = {
    "attribute": "Attribute",
    "group": "Group",
    "reference_rate": st.column_config.NumberColumn("Flagged (reference)", format="percent"),
    "current_rate": st.column_config.NumberColumn("Flagged (current)", format="percent"),
    "excess": st.column_config.NumberColumn("Shift beyond the population's", format="percent"),
    "p_adjusted": st.column_config.NumberColumn("Adjusted p", format=P),
    "shifted": "Shifted",
}


def when(value: str | None) -> str:
    return "—" if not value else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC")


def label(run: dict[str, Any]) -> str:
    verdict = run["severity"] if run["status"] == "ok" else run["status"].replace("_", " ")
    return f"{when(run['started_at'])} · {verdict}"


def choose(latest: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run to show: the latest unless another is picked (its details are then read in full)."""
    ids = [r["run_id"] for r in runs] or [latest["run_id"]]
    names = {r["run_id"]: label(r) for r in runs} | {latest["run_id"]: f"{label(latest)} (latest)"}
    picked = st.selectbox(
        "Drift check",
        ids,
        index=ids.index(latest["run_id"]) if latest["run_id"] in ids else 0,
        format_func=lambda i: names.get(i, i),
        key="drift_run",
    )
    return latest if picked == latest["run_id"] else state.read("drift_run", picked)


def verdict(run: dict[str, Any]) -> bool:
    """The verdict and what was compared; False when the run did not reach one."""
    widgets.severity_badge(run.get("severity"), run["status"])
    results = run.get("results") or {}
    if run["status"] != "ok":
        text = run.get("error") or run.get("message") or results.get("message") or "no message recorded"
        st.warning(f"This check reached no verdict ({run['status'].replace('_', ' ')}): {text}")
        return False
    for reason in run.get("reasons") or ["No reason recorded."]:
        st.markdown(f"- {reason}")
    tested = len(results.get("features", []))
    cols = st.columns(4)
    cols[0].metric("Drifted features", f"{len(run['drifted_features'])} of {tested}", border=True)
    cols[1].metric("Reference rows", widgets.count(run["reference_rows"]), border=True)
    cols[2].metric("Current rows", widgets.count(run["current_rows"]), border=True)
    cols[3].metric(
        "Model version", f"v{run['model_version']}" if run.get("model_version") else "—", border=True
    )
    st.caption(
        f"Compared **{run['current_description']}** with **{run['reference_description']}**; "
        f"checked {when(run['started_at'])}. Importance-weighted drifted share "
        f"{widgets.pct(results.get('drifted_share'))}."
    )
    return True


def features(results: dict[str, Any]) -> None:
    frame = pd.DataFrame(results.get("features", []))
    if frame.empty:
        widgets.missing("This check recorded no per-feature results.")
        return
    frame = frame.sort_values(["drifted", "p_adjusted"], ascending=[False, True], na_position="last")
    frame["drifted"] = frame["drifted"].map({True: "yes", False: "no"})
    frame = frame.reindex(columns=list(FEATURE_COLUMNS))
    text = ["column", "kind", "test", "change"]
    frame[text] = frame[text].astype(object).where(frame[text].notna(), "—")  # not a grey "None"
    config = dict(FEATURE_COLUMNS)
    for name, number in NUMBER_FORMATS.items():  # a statistic the test lacks (Wasserstein of a category)
        if frame[name].isna().any():  # shows as a dash, not a grey "None": such a column becomes text
            frame[name] = frame[name].map(lambda v, f=number: "—" if pd.isna(v) else f.format(v))
            config[name] = st.column_config.TextColumn(FEATURE_COLUMNS[name].get("label"))
    st.dataframe(frame, hide_index=True, key="drift_features", column_config=config)
    p = results.get("parameters", {})
    st.caption(
        f"A feature drifts when its Benjamini-Hochberg adjusted p-value is under {p.get('false_discovery_rate')} "
        f"and its effect size passes a minimum (PSI {p.get('min_psi')}, Wasserstein {p.get('min_wasserstein')}, "
        f"Jensen-Shannon {p.get('min_jensen_shannon')})."
    )
    widgets.csv_download(frame, "drift_features.csv", key="drift_features_csv")


def prediction(results: dict[str, Any]) -> None:
    p = results.get("prediction")
    if not p:
        widgets.missing("Predictions were not compared in this check (no champion was loaded).")
        return
    st.badge(
        "predictions drifted" if p.get("drifted") else "predictions stable",
        color="orange" if p.get("drifted") else "green",
    )
    cols = st.columns(4)
    cols[0].metric(
        "Mean probability",
        widgets.pct(p["current_mean"]),
        f"{(p['current_mean'] - p['reference_mean']) * 100:+.1f} pts",
        delta_color="inverse",
        border=True,
    )
    cols[1].metric("PSI of probabilities", f"{p['psi']:.3f}", border=True)
    cols[2].metric("KS p-value", f"{p['ks_p_value']:.3g}", border=True)
    cols[3].metric("PSI of risk bands", f"{p['band_psi']:.3f}", border=True)
    shares = pd.DataFrame(
        {"Reference": p.get("reference_band_shares", {}), "Current": p.get("current_band_shares", {})}
    )
    shares = shares.reindex([b for b in widgets.RISK_ORDER if b in shares.index])
    fig = go.Figure([go.Bar(name=name, x=shares.index, y=shares[name]) for name in shares.columns])
    fig.update_layout(
        title="Share of employees per risk band", yaxis_tickformat=".0%", height=360, barmode="group"
    )
    st.plotly_chart(fig, width="stretch", key="band_chart")


def perf_table(perf: dict[str, Any], key: str) -> None:
    rows = [
        (
            METRIC_NAMES.get(n, n),
            m["value"],
            f"{m['ci_low']:.3f} – {m['ci_high']:.3f}",
            m.get("reference"),
            m.get("drop"),
        )
        for n, m in perf.get("metrics", {}).items()
    ]
    level = widgets.pct(perf.get("confidence_level"), 0)
    frame = pd.DataFrame(
        rows, columns=["Metric", "Value", f"{level} interval", "Reference (holdout)", "Drop"]
    )
    config = {
        c: st.column_config.NumberColumn(format="%.3f") for c in ("Value", "Reference (holdout)", "Drop")
    }
    st.dataframe(frame, hide_index=True, key=key, column_config=config)


def performance(results: dict[str, Any]) -> None:
    st.subheader("Realised performance")
    realised = results.get("performance")
    if realised:
        st.caption(
            f"From {widgets.count(realised['positives'])} recorded leavers among {widgets.count(realised['rows'])} employees."
        )
        perf_table(realised, "realised_performance")
    else:
        widgets.missing("No outcomes recorded yet for this window.", OUTCOMES_FIX)
    st.subheader("Estimated performance")
    estimated = results.get("estimated_performance")
    if not estimated:
        widgets.missing("No estimate in this check (it needs the champion's probabilities).")
        return
    st.caption(
        "Estimated from the model's own probabilities, without outcomes (confidence-based estimation). "
        f"It expects {estimated['positives']:,.0f} leavers; it sees shifts in who is employed, not a changed "
        "relation between features and leaving."
    )
    cols = st.columns(len(estimated["metrics"]))
    for col, (name, m) in zip(cols, estimated["metrics"].items(), strict=True):
        col.metric(f"Estimated {METRIC_NAMES.get(name, name)}", f"{m['value']:.3f}", border=True)
        col.caption(f"Interval {m['ci_low']:.3f} – {m['ci_high']:.3f}")
    perf_table(estimated, "estimated_performance")


def fairness(results: dict[str, Any]) -> None:
    f = results.get("fairness")
    if not f:
        widgets.missing("Fairness was not compared in this check (no protected attributes in the window).")
        return
    st.badge(
        "selection rates shifted" if f.get("shifted") else "no group's selection rate shifted",
        color="orange" if f.get("shifted") else "green",
    )
    groups = pd.DataFrame(f.get("groups", [])).reindex(columns=list(GROUP_COLUMNS))
    groups["shifted"] = groups["shifted"].map({True: "yes", False: "no"})
    st.dataframe(groups, hide_index=True, key="drift_fairness", column_config=GROUP_COLUMNS)
    for e in f.get("equal_opportunity", []):
        flag = "above" if e.get("above_limit") else "within"
        st.markdown(
            f"**{e['attribute']}**: gap in leavers caught (equal opportunity) {widgets.pct(e['difference'])}, "
            f"at training {widgets.pct(e.get('reference_difference'))}: {flag} the {widgets.pct(e.get('limit'))} limit."
        )


def history(runs: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(runs)
    frame["verdict"] = frame["severity"].where(frame["status"] == "ok", frame["status"])
    frame["drifted"] = frame["drifted_features"].map(len)
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    colors = SEVERITY_COLORS | {"insufficient_data": "#9E9E9E", "error": "#5A5A5A", "running": "#BDBDBD"}
    fig = px.scatter(
        frame,
        x="started_at",
        y="drifted",
        color="verdict",
        color_discrete_map=colors,
        labels={"started_at": "Checked", "drifted": "Drifted features", "verdict": "Verdict"},
    )
    fig.update_traces(marker_size=12)
    fig.update_layout(title=f"The last {len(frame)} drift checks", height=360)
    st.plotly_chart(fig, width="stretch", key="history_chart")


def report(run: dict[str, Any]) -> None:
    try:
        html = state.read("drift_report_html", run["run_id"])
    except NotFound as exc:
        widgets.missing(f"This check has no HTML report: {exc.message}.", HTML_FIX)
        return
    st.iframe(html, height=900)  # the report is our own drift job's output, never user-supplied HTML


state.require("viewer", "Drift reports")
st.title("Drift")
st.caption(
    "Is today's workforce still like the one the model learned from, and does the model still hold up?"
)
with state.guard("the drift checks"):
    try:
        latest = state.read("drift_latest")
    except NotFound:
        widgets.missing("No drift check has run yet.", FIRST_RUN)
        st.stop()
    runs = state.read("drift_runs", limit=100)["items"]
    run = choose(latest, runs)
    concluded = verdict(run)
    results = run.get("results") or {}
    sections = {
        "Features": features,
        "Predictions": prediction,
        "Performance": performance,
        "Fairness": fairness,
    }
    shown = sections if concluded else {}  # a run without a verdict has no results to tab through
    tabs = st.tabs([*shown, "History", "Full report"])
    for tab, show in zip(tabs, shown.values(), strict=False):
        with tab:
            show(results)
    with tabs[-2]:
        history(runs)
    with tabs[-1]:
        report(run)
