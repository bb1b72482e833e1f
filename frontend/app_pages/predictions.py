"""The prediction log: every score the API or a batch run made, filtered and paged; record outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from frontend import session as state
from frontend import widgets
from frontend.client import ApiError, SessionExpired

_BANDS = ("all", *widgets.RISK_ORDER)
_SOURCES = {"all": "API and batch", "api": "API", "batch": "Batch"}
_PAGE = "pred_page"
_FILTER_KEYS = ("pred_employee", "pred_dates", "pred_risk_band", "pred_source", "pred_model_version")
_COLUMNS = {
    "When": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
    "Employee": st.column_config.NumberColumn("Employee", format="%d"),
    "Probability %": st.column_config.NumberColumn("Probability", format="%.1f%%"),
    "Risk band": st.column_config.TextColumn("Risk band"),
    "Prediction": st.column_config.TextColumn("Prediction"),
    "Source": st.column_config.TextColumn("Source"),
    "Model version": st.column_config.TextColumn("Model version"),
    "Top factors": st.column_config.TextColumn("Top factors", width="large"),
    "Prediction id": st.column_config.TextColumn("Prediction id"),
}


def _first_page() -> None:
    st.session_state[_PAGE] = 1


def _filters() -> dict[str, Any]:
    """The filter row; returns the API's query parameters (unset ones left out)."""
    with st.container(border=True):
        c1, c2, c3, c4, c5 = st.columns([1, 1.4, 1, 1, 1])
        employee = c1.number_input(
            "Employee number", min_value=1, step=1, value=None, key="pred_employee", on_change=_first_page
        )
        dates = c2.date_input(
            "Scored between", value=[], max_value=dt.date.today(), key="pred_dates", on_change=_first_page
        )
        band = c3.selectbox(
            "Risk band",
            _BANDS,
            format_func=lambda b: "All bands" if b == "all" else b.capitalize(),
            key="pred_risk_band",
            on_change=_first_page,
        )
        source = c4.selectbox(
            "Source",
            list(_SOURCES),
            format_func=_SOURCES.__getitem__,
            key="pred_source",
            on_change=_first_page,
        )
        version = c5.text_input(
            "Model version", placeholder="any", max_chars=20, key="pred_model_version", on_change=_first_page
        )
    since, until = _window(dates)
    return {
        "employee_number": int(employee) if employee else None,
        "since": since,
        "until": until,
        "risk_band": None if band == "all" else band,
        "source": None if source == "all" else source,
        "model_version": version.strip() or None,  # sent only when set
    }


def _window(dates: Any) -> tuple[str | None, str | None]:
    """A picked date range as UTC times: from the first day's start to the end of the last day."""
    picked = [d for d in (dates if isinstance(dates, tuple | list) else (dates,)) if isinstance(d, dt.date)]
    if not picked:
        return None, None
    first, last = picked[0], picked[-1]
    return f"{first.isoformat()}T00:00:00Z", f"{(last + dt.timedelta(days=1)).isoformat()}T00:00:00Z"


def _load(filters: dict[str, Any], size: int) -> tuple[dict[str, Any], int]:
    """The current page of the log (back to the last page when the filters shrank it)."""
    page = max(int(st.session_state.get(_PAGE, 1) or 1), 1)
    body: dict[str, Any] = state.read("predictions", limit=size, offset=(page - 1) * size, **filters)
    last = max(-(-int(body["total"]) // size), 1)
    if page > last:
        page = last
        body = state.read("predictions", limit=size, offset=(page - 1) * size, **filters)
    st.session_state[_PAGE] = page
    return body, last


def _table(items: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            "When": pd.Timestamp(item["created_at"]).tz_convert(None),
            "Employee": item.get("employee_number"),
            "Probability %": round(float(item["probability"]) * 100, 1),
            "Risk band": item["risk_band"],
            "Prediction": "Likely to leave" if item["label"] else "Likely to stay",
            "Source": _SOURCES.get(item["source"], item["source"]),
            "Model version": str(item["model_version"]),
            "Top factors": "; ".join(widgets.factor_text(f) for f in item.get("top_factors") or []),
            "Prediction id": item["prediction_id"],
        }
        for item in items
    ]
    return pd.DataFrame(rows, columns=list(_COLUMNS))


def _band_style(band: object) -> str:
    colour = widgets.RISK_COLORS.get(str(band))
    return f"background-color: {colour}; color: white" if colour else ""


def _choice(item: dict[str, Any]) -> str:
    when = str(item["created_at"])[:16].replace("T", " ")
    # The id's start keeps two predictions of one employee in the same minute apart (the
    # selectbox tells options apart by their label).
    return (
        f"Employee {item.get('employee_number') or '—'} · {when} · {item['risk_band']} "
        f"({widgets.pct(item['probability'])}) · {str(item['prediction_id'])[:8]}"
    )


def _inputs(by_id: dict[str, dict[str, Any]], role: str) -> None:
    with st.expander("What one prediction was based on", icon=":material/list_alt:"):
        if not state.allows(role, "predictor"):
            st.info(
                f"The input record of a prediction needs the predictor role; you are signed in as {role}. "
                "Scores, risk bands and factors are shown above.",
                icon=":material/lock:",
            )
            return
        picked = st.selectbox(
            "Prediction",
            list(by_id),
            index=None,
            format_func=lambda p: _choice(by_id[p]),
            placeholder="Pick a prediction to see its inputs",
            key="pred_inputs_pick",
        )
        if picked is not None:
            record = by_id[picked].get("inputs") or {}
            frame = pd.DataFrame({"Field": list(record), "Value": [str(v) for v in record.values()]})
            st.dataframe(frame, hide_index=True, width="stretch", key="pred_inputs_table")


def _outcome_form(by_id: dict[str, dict[str, Any]], role: str) -> None:
    st.subheader("Record an outcome")
    if not state.allows(role, "predictor"):
        st.info(
            f"Recording an outcome needs the predictor role; you are signed in as {role}. "
            "Ask an admin for access.",
            icon=":material/lock:",
        )
        return
    st.caption("What actually happened to an employee: outcomes let the drift job measure real performance.")
    with st.form("outcome_form", border=True):
        picked = st.selectbox(
            "Prediction", list(by_id), format_func=lambda p: _choice(by_id[p]), key="outcome_prediction"
        )
        left = st.radio("What happened", ("Left", "Stayed"), horizontal=True, key="outcome_left")
        when = st.date_input("Outcome date", value="today", max_value=dt.date.today(), key="outcome_date")
        submitted = st.form_submit_button("Record outcome", type="primary", key="outcome_submit")
    if submitted and picked is not None:
        _record(picked, left == "Left", when if isinstance(when, dt.date) else dt.date.today())


def _record(prediction_id: str, left: bool, when: dt.date) -> None:
    try:
        saved = state.call("feedback", prediction_id, left=left, outcome_date=when)
    except SessionExpired:
        state.sign_out("Your session expired or your account changed. Sign in again.")
        st.rerun()
    except ApiError as exc:
        st.error(f"The outcome was not recorded: {exc.message}", icon=":material/error:")
        for issue in exc.detail[:10]:
            st.caption(f"{issue.get('field')}: expected {issue.get('expected')}")
        return
    what = "left" if saved["left"] else "stayed"
    st.success(
        f"Outcome {saved['outcome_id']} recorded: employee {saved['employee_number']} {what} "
        f"on {saved['outcome_date']}.",
        icon=":material/check_circle:",
    )


session = state.require("viewer", "The prediction log")
st.title("Prediction log")
st.caption("Every risk score the API or a batch run made, which model made it, and what happened next.")
filters = _filters()
size = int(st.session_state.get("pred_page_size", 50))
with state.guard("the prediction log"):
    body, pages = _load(filters, size)
total, items = int(body["total"]), body["items"]

if total == 0:
    if any(v is not None for v in filters.values()):
        widgets.missing("No prediction matches these filters.", "widen the date range or clear a filter.")
    else:
        widgets.missing(
            "No predictions yet. Predictions appear here when the API or `attrition score` scores employees.",
            "score the workforce with `attrition score`, or score an employee on the Employee risk page.",
        )
    st.stop()

page, first = int(st.session_state[_PAGE]), int(body["offset"]) + 1
table = _table(items)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Predictions matching", f"{total:,}", border=True)
m2.metric("Shown", f"{first:,}–{first + len(items) - 1:,}", border=True)
m3.metric(
    "High or critical (this page)", f"{table['Risk band'].isin(('high', 'critical')).sum():,}", border=True
)
m4.metric(
    "Likely to leave (this page)",
    widgets.pct(float((table["Prediction"] == "Likely to leave").mean())),
    border=True,
)

st.dataframe(
    table.style.map(_band_style, subset=["Risk band"]),
    column_config=_COLUMNS,
    hide_index=True,
    width="stretch",
    key="pred_table",
)
p1, p2, p3 = st.columns([1, 1, 2], vertical_alignment="bottom")
p1.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key=_PAGE)
p2.selectbox("Rows per page", (25, 50, 100, 200), index=1, key="pred_page_size", on_change=_first_page)
with p3:
    widgets.csv_download(
        table, f"predictions_page_{page}.csv", "Download this page (CSV)", key="pred_download"
    )

by_id = {item["prediction_id"]: item for item in items}
_inputs(by_id, session.role)
_outcome_form(by_id, session.role)
