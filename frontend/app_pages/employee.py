"""Employee risk: one stored employee's score and reasons, a what-if on what HR can change, or a form."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from attrition.schema import ID_COLUMN, SNAPSHOT_DATE, SPECS, TARGET, Col
from frontend import session as state
from frontend import widgets
from frontend.client import NotFound, Unavailable

#: What HR can act on, in the order the what-if shows them.
LEVERS: tuple[str, ...] = (Col.OVERTIME, Col.PERCENT_SALARY_HIKE, Col.STOCK_OPTION_LEVEL, Col.BUSINESS_TRAVEL)
LEVERS += (Col.TRAINING_TIMES_LAST_YEAR, Col.JOB_LEVEL, Col.WORK_LIFE_BALANCE)
PROFILE: tuple[str, ...] = (
    "Department",
    "JobRole",
    "JobLevel",
    "YearsAtCompany",
    "OverTime",
    "MonthlyIncome",
)
PROFILE += ("Age", "BusinessTravel", "WorkLifeBalance", "PercentSalaryHike", "StockOptionLevel")
FORM_COLUMNS = tuple(name for name, spec in SPECS.items() if spec.kind in ("id", "categorical", "integer"))
NO_MODEL = "No model is in service, so no new prediction can be made."
NO_MODEL_FIX = "Train and promote one with `attrition train --promote`; an admin can then press Reload on the Admin page."
ASK = "You can see stored scores; ask an admin for the predictor role to do this."
_NAMES = {"OverTime": "Overtime", "YearsWithCurrManager": "Years with current manager"}
_EFFECT = {"Raises risk": widgets.RISK_COLORS["high"], "Lowers risk": widgets.RISK_COLORS["low"]}


def _label(column: str) -> str:
    """'YearsAtCompany' -> 'Years at company'."""
    return _NAMES.get(column) or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column).capitalize()


def _record(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored record as POST /v1/predict takes it (contract columns, no outcome, no snapshot)."""
    return {k: v for k, v in stored.items() if k in SPECS and k != TARGET}


def _served() -> dict[str, Any] | None:
    try:
        model: dict[str, Any] = state.read("model")
    except Unavailable:
        return None
    return model


def _predict(record: dict[str, Any]) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = state.call("predict", record, explain=True)
    except Unavailable:
        widgets.missing(NO_MODEL, NO_MODEL_FIX)
        return None
    return result


def _widget(name: str, value: Any, key: str, column: Any) -> Any:
    """An input following the contract: categories as a select box, integers within the hard bounds."""
    spec = SPECS[name]
    if spec.kind == "categorical":
        options = list(spec.categories)
        index = options.index(value) if value in options else 0
        return column.selectbox(_label(name), options, index=index, key=key, help=spec.description)
    note = spec.description
    if spec.soft_min is not None:
        note += f" (typical {spec.soft_min}-{spec.soft_max}, allowed {spec.hard_min}-{spec.hard_max})"
    lo, hi = spec.hard_min, spec.hard_max
    return int(column.number_input(_label(name), lo, hi, int(value), 1, key=key, help=note))


def _factors(factors: list[dict[str, Any]] | None, key: str) -> None:
    """The reasons as horizontal bars: red pushes the risk up, blue pulls it down."""
    if not factors:
        st.caption("No reasons were recorded with this score.")
        return
    rows = [
        (f"{_label(f['feature'])} = {f['value']}", f["contribution"], f"{f['direction'].capitalize()} risk")
        for f in factors
    ]
    frame = pd.DataFrame(rows, columns=["Factor", "Contribution", "Effect"])
    fig = px.bar(
        frame, x="Contribution", y="Factor", color="Effect", orientation="h", color_discrete_map=_EFFECT
    )
    fig.update_yaxes(categoryorder="array", categoryarray=list(frame["Factor"])[::-1], title=None)
    fig.update_layout(height=90 + 38 * len(frame), margin={"t": 10, "b": 10}, legend_title=None)
    st.plotly_chart(fig, width="stretch", key=key)
    st.caption("The model's main reasons for this estimate: how much each value pushes the risk up or down.")


def _result(score: dict[str, Any], key: str) -> None:
    """Probability, band, threshold and label of one prediction (stored or new), and its reasons."""
    cols = st.columns(4)
    cols[0].metric("Probability of leaving", widgets.pct(score["probability"]), border=True, help="Estimated")
    cols[1].metric("Risk band", str(score["risk_band"]).capitalize(), border=True)
    cols[2].metric("Decision threshold", widgets.pct(score["threshold"]), border=True, help="Flag cut-off")
    cols[3].metric("Flagged as likely to leave", "Yes" if score["label"] else "No", border=True)
    widgets.risk_badge(score["risk_band"])
    for issue in score.get("warnings") or []:
        st.caption(f"Unusual but kept: {issue['field']} = {issue['received']!r} ({issue['expected']})")
    _factors(score.get("factors") or score.get("top_factors"), key)


def _profile(record: dict[str, Any], history: list[dict[str, Any]]) -> None:
    left, right = st.columns([2, 3])
    outcome = {"Yes": "Left", "No": "Stayed"}.get(str(record.get(TARGET)), "Not recorded")
    # A viewer's record holds only the overview columns (the API keeps the rest for predictors).
    rows = [(_label(c), str(record[c])) for c in PROFILE if c in record] + [("Outcome recorded", outcome)]
    left.markdown("**Profile**")
    left.dataframe(pd.DataFrame(rows, columns=["Field", "Value"]), hide_index=True, key="employee_profile")
    if any(c not in record for c in PROFILE):
        left.caption("The full profile (age, pay, travel, ...) needs the predictor role. " + ASK)
    right.markdown("**Score history**")
    source = {"batch": "Batch scoring", "api": "Prediction (API, form or what-if)"}
    columns = {"created_at": "Scored at", "snapshot_date": "Snapshot", "probability": "Probability"}
    columns |= {"risk_band": "Risk band", "model_version": "Model version", "source": "Source"}
    frame = pd.DataFrame(history, columns=list(columns)).rename(columns=columns)
    frame["Source"] = frame["Source"].map(lambda v: source.get(v, v))
    frame["Snapshot"] = frame["Snapshot"].fillna("—")
    config: dict[str, Any] = {"Probability": st.column_config.NumberColumn(format="percent")}
    right.dataframe(frame, hide_index=True, column_config=config, key="employee_history")
    if len(frame) > 1:
        fig = px.line(frame, x="Scored at", y="Probability", markers=True, height=220)
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
        right.plotly_chart(fig, width="stretch", key="employee_history_chart")


def _highest_risk() -> int | None:
    """The first employee of the overview's default order (highest risk, latest snapshot), if any is scored."""
    items = state.read("employees", limit=1)["items"]
    return int(items[0]["employee_number"]) if items else None


def _stored(can_predict: bool, served: dict[str, Any] | None) -> None:
    chosen = st.session_state.get("employee_number")
    if chosen is None and "employee_lookup" not in st.session_state:
        chosen = _highest_risk()  # the page opens on someone worth a look, not on an empty box
        if chosen is not None:
            st.caption(
                "Showing the highest-risk employee of the latest snapshot; enter another number to switch."
            )
    number = st.number_input(
        "Employee number", 1, SPECS[ID_COLUMN].hard_max, chosen, 1, key="employee_lookup"
    )
    if number is None:
        st.info("Enter an employee number, or open one from the table on the Workforce overview.")
        return
    number = int(number)
    st.session_state["employee_number"] = number
    try:
        detail = state.read("employee", number)
    except NotFound:
        widgets.missing(f"No employee {number} is stored.", "Pick one from the Workforce overview.")
        return
    record = detail["records"][0]
    st.subheader(f"Employee {number}: {record['JobRole']}, {record['Department']}")
    scores = [s for s in detail["scores"] if str(s.get("snapshot_date")) == str(record[SNAPSHOT_DATE])]
    latest = scores[0] if scores else None
    if latest is None:
        widgets.missing(
            f"Employee {number} has not been scored for the {record[SNAPSHOT_DATE]} snapshot yet.",
            "Run `attrition score`, or upload a CSV on the Batch scoring page.",
        )
    else:
        st.caption(
            f"Latest score for the {record[SNAPSHOT_DATE]} snapshot (model v{latest['model_version']})."
        )
        _result(latest, "employee_stored_factors")
    _profile(record, detail["scores"])
    _what_if(number, record, latest, can_predict, served)


def _what_if(
    number: int, record: dict[str, Any], latest: dict[str, Any] | None, can_predict: bool, served: Any
) -> None:
    st.subheader("What if?")
    if not can_predict:
        st.info("What-if needs the predictor role (it makes new predictions). " + ASK, icon=":material/lock:")
        return
    if served is None:
        widgets.missing(NO_MODEL, NO_MODEL_FIX)
        return
    with st.form("employee_what_if"):
        cols = st.columns(4)
        changed = {
            n: _widget(n, record[n], f"whatif_{number}_{n}", cols[i % 4]) for i, n in enumerate(LEVERS)
        }
        compare = st.form_submit_button("Compare", type="primary", key="employee_compare")
    st.caption("Each what-if is a real prediction: the API logs it in the Prediction log like any other.")
    if compare:
        base = _record(record)
        same = latest is not None and latest["model_version"] == served["model_version"]
        before = latest if same else _predict(base)
        after = _predict(base | changed)
        if before is None or after is None:
            return
        st.session_state["employee_what_if_result"] = {"number": number, "before": before, "after": after}
    _comparison(number)


def _comparison(number: int) -> None:
    shown = st.session_state.get("employee_what_if_result")
    if not shown or shown["number"] != number:
        return
    before, after = shown["before"], shown["after"]
    change = (after["probability"] - before["probability"]) * 100
    cols = st.columns(3)
    cols[0].metric("Risk now", widgets.pct(before["probability"]), border=True, help="Current model")
    cols[1].metric(
        "Risk with the changes",
        widgets.pct(after["probability"]),
        delta=f"{change:+.1f} pp",
        delta_color="inverse",
        border=True,
    )
    band = str(after["risk_band"]).capitalize()
    cols[2].metric("New risk band", band, border=True, help=f"Was {before['risk_band']}")
    _factors(after.get("factors"), "employee_what_if_factors")


def _form(can_predict: bool, served: dict[str, Any] | None) -> None:
    if not can_predict:
        st.info("Predicting from a form needs the predictor role. " + ASK, icon=":material/lock:")
        return
    sample = state.read("sample_record")
    st.caption("Every field of the record contract, starting from an example record.")
    with st.form("employee_form"):
        cols = st.columns(3)
        record = {n: _widget(n, sample[n], f"form_{n}", cols[i % 3]) for i, n in enumerate(FORM_COLUMNS)}
        predict = st.form_submit_button(
            "Predict", type="primary", key="employee_predict", disabled=not served
        )
    if predict:
        st.session_state["employee_form_result"] = _predict(record)
    result = st.session_state.get("employee_form_result")
    if result:
        _result(result, "employee_form_factors")
        st.caption("This prediction is logged by the API like any other (see the Prediction log).")


session = state.require("viewer", "Employee risk")
st.title("Employee risk")
st.caption("One employee's estimated risk of leaving, the reasons behind it, and what could change it.")
with state.guard("employee risk"):
    model = _served()
    if model is None:
        widgets.missing(NO_MODEL + " Stored scores still show.", NO_MODEL_FIX)
    allowed = state.allows(session.role, "predictor")
    stored_tab, form_tab = st.tabs(["Stored employee", "Fill in a form"])
    with stored_tab:
        _stored(allowed, model)
    with form_tab:
        _form(allowed, model)
