"""Workforce overview: headcount, attrition, predicted risk, where it concentrates, who is most at risk."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from attrition.schema import SPECS, Col
from frontend import session as state
from frontend import widgets
from frontend.client import Unavailable

PAGE = 50
BATCH = 500  # the API's largest page
CAP = 10_000
ALL = "All"
SHARE = "Predicted at risk"
RATE = "Historical attrition rate"
GROUPS = dict(department="Department", job_role="Job role", tenure_band="Tenure (years)", overtime="Overtime")
GROUPS["job_level"] = "Job level"
SORTS = {"risk": "Highest risk first", "employee_number": "Employee number"}
_ITEM = ("employee_number", "department", "job_role", "job_level", "tenure_band", "overtime")
HEADERS = {k: k.replace("_", " ").capitalize() for k in _ITEM} | {"probability": "Probability of leaving"}
HEADERS |= {"risk_band": "Risk band", "factors": "Top factors"}
_MEASURES = {"color": "Measure", "color_discrete_map": {SHARE: "#E45756", RATE: "#7F7F7F"}}
_BANDS = {"color_discrete_map": widgets.RISK_COLORS, "category_orders": {"Risk band": widgets.RISK_ORDER}}
_LEVEL = SPECS[Col.JOB_LEVEL]
_PERCENT = st.column_config.NumberColumn(format="percent")


def _choice(column: Any, label: str, key: str, options: tuple[Any, ...]) -> Any:
    with column:
        value = st.selectbox(label, (ALL, *options), key=key)
    return None if value == ALL else value


def _filters() -> tuple[Any, dict[str, Any]]:
    """The filter row; returns the column left for the snapshot and the chosen filters (None: all)."""
    cols = st.columns(6)
    levels = tuple(range(_LEVEL.hard_min or 1, (_LEVEL.hard_max or 5) + 1))
    filters = {
        "department": _choice(cols[1], "Department", "overview_department", SPECS[Col.DEPARTMENT].categories),
        "job_role": _choice(cols[2], "Job role", "overview_job_role", SPECS[Col.JOB_ROLE].categories),
        "overtime": _choice(cols[3], "Overtime", "overview_overtime", SPECS[Col.OVERTIME].categories),
        "job_level": _choice(cols[4], "Job level", "overview_job_level", levels),
        "risk_band": _choice(cols[5], "Risk band", "overview_risk_band", widgets.RISK_ORDER),
    }
    return cols[0], filters


def _summary(column: Any, filters: dict[str, Any]) -> dict[str, Any]:
    """The summary of the chosen snapshot (newest by default) under the filters."""
    summary: dict[str, Any] = state.read("workforce_summary", snapshot=None, **filters)
    snapshots = [str(day) for day in reversed(summary["snapshots"])]
    if snapshots:
        with column:
            chosen = st.selectbox("Snapshot", snapshots, key="overview_snapshot")
        if chosen != str(summary["snapshot"]):
            summary = state.read("workforce_summary", snapshot=chosen, **filters)
    return summary


def _headline(summary: dict[str, Any]) -> None:
    bands, headcount = summary["risk_bands"], summary["headcount"]
    earlier = [p for p in summary["trend"] if str(p["snapshot"]) < str(summary["snapshot"])]
    before, now = (earlier[-1]["at_risk_share"] if earlier else None), summary["at_risk_share"]
    delta = (
        None
        if before is None or now is None
        else f"{(now - before) * 100:+.1f} pp since {earlier[-1]['snapshot']}"
    )
    at_risk = bands["high"] + bands["critical"]
    outcome = f"{summary['leavers']:,} of {summary['with_outcome']:,} employees with a recorded outcome left"
    cards = [
        ("Headcount", widgets.count(headcount), None, "Employees matching the filters"),
        (RATE, widgets.pct(summary["attrition_rate"]), None, outcome),
        (SHARE, widgets.pct(summary["at_risk_share"]), delta, "Estimated: scored, at high/critical risk"),
        ("At-risk employees", widgets.count(at_risk), None, "Latest score high or critical"),
        ("Scored employees", widgets.count(summary["scored"]), None, f"Of {headcount:,} employees"),
    ]
    for column, (label, value, change, note) in zip(st.columns(5), cards, strict=True):
        column.metric(label, value, delta=change, delta_color="inverse", border=True, help=note)


def _unscored() -> None:
    fix = "Run `attrition score`, or upload a CSV on the Batch scoring page."
    try:
        state.read("model")
    except Unavailable:
        fix += " New scores need a model in service first: `attrition train --promote`."
    widgets.missing("No employee has been scored for this snapshot yet, so there is no predicted risk.", fix)


def _risk_chart(summary: dict[str, Any]) -> None:
    st.subheader("Risk distribution")
    order = list(widgets.RISK_ORDER)
    frame = pd.DataFrame({"Risk band": order, "Employees": [summary["risk_bands"].get(b, 0) for b in order]})
    fig = px.bar(frame, x="Risk band", y="Employees", color="Risk band", text="Employees", **_BANDS)
    fig.update_layout(showlegend=False, height=330, margin={"t": 10, "b": 10})
    st.plotly_chart(fig, width="stretch", key="overview_risk_chart")
    st.caption("Scored employees per band of their latest estimated probability of leaving.")


def _trend(summary: dict[str, Any]) -> None:
    st.subheader("Trend over snapshots")
    points = summary["trend"]
    if len(points) < 2:
        note = f"Only one snapshot ({summary['snapshot']}) is stored, so there is no trend yet."
        st.info(note + " Ingest the next one with `attrition ingest FILE`.", icon=":material/timeline:")
        return
    rows = [(str(p["snapshot"]), p["at_risk_share"], p["attrition_rate"]) for p in points]
    frame = pd.DataFrame(rows, columns=["Snapshot", SHARE, RATE])
    long = frame.melt("Snapshot", var_name="Measure", value_name="Share")
    fig = px.line(long, x="Snapshot", y="Share", markers=True, **_MEASURES)
    fig.update_layout(height=330, margin={"t": 10, "b": 10}, legend_title=None)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    st.plotly_chart(fig, width="stretch", key="overview_trend_chart")


def _breakdown(summary: dict[str, Any]) -> None:
    st.subheader("Where risk concentrates")
    name = st.selectbox(
        "Break down by", list(GROUPS), format_func=GROUPS.__getitem__, key="overview_breakdown"
    )
    columns = {"value": "Group", "headcount": "Employees", "at_risk": "At risk"}
    columns |= {"at_risk_share": SHARE, "attrition_rate": RATE}
    frame = pd.DataFrame(summary["breakdowns"][name], columns=list(columns)).rename(columns=columns)
    frame["Group"] = frame["Group"].astype(str)
    if name in ("department", "job_role"):
        frame = frame.sort_values(SHARE, ascending=False, na_position="last")
    left, right = st.columns([3, 2])
    long = frame.melt("Group", [SHARE, RATE], var_name="Measure", value_name="Share")
    fig = px.bar(long, x="Share", y="Group", barmode="group", orientation="h", **_MEASURES)
    fig.update_xaxes(tickformat=".0%", title=None)
    fig.update_yaxes(categoryorder="array", categoryarray=list(frame["Group"])[::-1], title=None)
    fig.update_layout(height=80 + 45 * len(frame), margin={"t": 10, "b": 10}, legend_title=None)
    left.plotly_chart(fig, width="stretch", key="overview_breakdown_chart")
    config: dict[str, Any] = {"Group": GROUPS[name], SHARE: _PERCENT, RATE: _PERCENT}
    right.dataframe(frame, hide_index=True, column_config=config, key="overview_breakdown_table")


def _frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """The employees table, one row per employee, columns as in HEADERS."""
    rows = []
    for item in items:
        score = item["score"] or {}
        factors = "; ".join(widgets.factor_text(f) for f in score.get("top_factors") or [])
        band = score.get("risk_band", "not scored")
        rows.append([item.get(k) for k in _ITEM] + [score.get("probability"), band, factors])
    return pd.DataFrame(rows, columns=list(HEADERS))


def _ask_more() -> None:
    st.session_state["overview_more_wanted"] = True


def _table(query: tuple[Any, ...], snapshot: str, filters: dict[str, Any], sort: str) -> dict[str, Any]:
    """The loaded rows of the employees table: a first page, plus one more per "Show more"."""
    table: dict[str, Any] | None = st.session_state.get("overview_table")
    wanted = st.session_state.pop("overview_more_wanted", False)
    if table is None or table["query"] != query:
        page = state.read("employees", snapshot, limit=PAGE, sort=sort, **filters)
        table = {"query": query, "items": page["items"], "cursor": page["next_cursor"]}
    elif wanted and table["cursor"]:
        page = state.read("employees", snapshot, limit=PAGE, cursor=table["cursor"], sort=sort, **filters)
        table = {**table, "items": table["items"] + page["items"], "cursor": page["next_cursor"]}
    st.session_state["overview_table"] = table
    return table


def _band_colour(band: Any) -> str:
    colour = widgets.RISK_COLORS.get(str(band))
    return f"color: {colour}; font-weight: 600" if colour else ""


def _employees(summary: dict[str, Any], filters: dict[str, Any]) -> None:
    st.subheader("Employees and their risk")
    sort = st.selectbox("Sort by", list(SORTS), format_func=SORTS.__getitem__, key="overview_sort")
    snapshot = str(summary["snapshot"])
    query = (snapshot, sort, tuple(filters.items()))
    table = _table(query, snapshot, filters, sort)
    frame = _frame(table["items"])
    config: dict[str, Any] = {k: v for k, v in HEADERS.items() if k not in ("employee_number", "probability")}
    config["employee_number"] = st.column_config.NumberColumn(HEADERS["employee_number"], format="%d")
    config["probability"] = st.column_config.ProgressColumn(HEADERS["probability"], format="percent")
    styled = frame.style.map(_band_colour, subset=["risk_band"])
    st.dataframe(styled, hide_index=True, column_config=config, key="overview_employees")
    st.caption(f"Showing {len(frame):,} of {summary['headcount']:,} employees; probabilities are estimates.")
    left, mid, right = st.columns([1, 2, 1], vertical_alignment="bottom")
    left.button("Show more", key="overview_more", on_click=_ask_more, disabled=table["cursor"] is None)
    number = mid.selectbox("Employee to look at", frame["employee_number"].tolist(), key="overview_pick")
    if right.button("Open in Employee risk", key="overview_open", icon=":material/person_search:"):
        st.session_state["employee_number"] = int(number)
        st.switch_page("app_pages/employee.py")
    _export(query, snapshot, filters, sort, summary["headcount"])


def _export(query: tuple[Any, ...], snapshot: str, filters: dict[str, Any], sort: str, total: int) -> None:
    """A CSV of every employee matching the filters (at most CAP rows), fetched when asked for."""
    export: dict[str, Any] | None = st.session_state.get("overview_export")
    if export is None or export["query"] != query:
        label = f"Prepare a CSV of all {min(total, CAP):,} matching employees"
        if not st.button(label, key="overview_prepare", icon=":material/table_view:"):
            return
        items: list[dict[str, Any]] = []
        cursor = None
        while len(items) < CAP:
            page = state.read("employees", snapshot, limit=BATCH, cursor=cursor, sort=sort, **filters)
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        frame = _frame(items[:CAP]).rename(columns=HEADERS)
        export = {"query": query, "frame": frame, "capped": cursor is not None or len(items) > CAP}
        st.session_state["overview_export"] = export
    widgets.csv_download(export["frame"], f"employees-{snapshot}.csv", key="overview_download")
    if export["capped"]:
        st.caption(f"The file holds the first {CAP:,} employees in this order: narrow the filters for more.")


state.require("viewer", "The workforce overview")
st.title("Workforce overview")
st.caption("Headcount, past attrition and the model's estimated risk of leaving, by group and by person.")
with state.guard("the workforce overview"):
    snapshot_column, chosen = _filters()
    result = _summary(snapshot_column, chosen)
    if result["snapshot"] is None:
        widgets.missing(
            "No employees are stored yet, so there is no workforce to show.",
            "Ingest a snapshot: `attrition ingest FILE` (an HRIS export with the record contract's columns).",
        )
        st.stop()
    if result["headcount"] == 0:
        widgets.missing("No employee of this snapshot matches these filters.", "Set a filter back to All.")
        st.stop()
    _headline(result)
    if result["scored"] == 0:
        _unscored()
        st.stop()
    left_half, right_half = st.columns(2)
    with left_half:
        _risk_chart(result)
    with right_half:
        _trend(result)
    _breakdown(result)
    _employees(result, chosen)
