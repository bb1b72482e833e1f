"""Batch scoring: upload a CSV of employees, follow the job, download every row's risk and the issues."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from attrition.schema import RECORD_COLUMNS, TARGET
from frontend import session as state
from frontend import widgets
from frontend.client import ApiError, SessionExpired, Unavailable

JOB = "batch_job"  # the job's JSON as last polled
FILES = "batch_files"  # {"job_id", "result", "issues"}: the done job's CSVs, downloaded once
POLL_SECONDS = 0.5
MAX_WAIT_SECONDS = 600
PREVIEW_ROWS = 200
_NO_MODEL = (
    "No model is in service, so nothing can be scored.",
    "train and promote one with `attrition train --promote` (or promote a waiting challenger on the Admin page).",
)
_DOWNLOADS = (("result", "Download scored rows (CSV)"), ("issues", "Download issues (CSV)"))
_PREFIX = {"result": "scores", "issues": "issues"}  # the API's own file names
_ISSUE_COLUMNS = {
    "line": st.column_config.NumberColumn("File line", format="%d", help="The header is line 1"),
    "column": st.column_config.TextColumn("Column"),
    "severity": st.column_config.TextColumn("Severity"),
    "reason": st.column_config.TextColumn("Reason", width="large"),
}


def _signed_out() -> None:
    state.sign_out("Your session expired or your account changed. Sign in again.")
    st.rerun()


def _template(sample: dict[str, Any]) -> None:
    with st.expander("What the file needs", icon=":material/table_view:", expanded=False):
        st.markdown(
            "One row per employee, with a header line naming the columns of the record contract "
            f"(**{len(RECORD_COLUMNS)} columns**; `{TARGET}` may be added but is not needed):"
        )
        st.caption(", ".join(RECORD_COLUMNS))
        st.markdown(
            "Rows with a problem are left out and listed with their line and reason; the others are scored."
        )
        row = {column: sample.get(column) for column in RECORD_COLUMNS}
        widgets.csv_download(
            pd.DataFrame([row]), "employees_template.csv", "Download a template", key="batch_template"
        )


def _start(upload: Any, factors: int) -> None:
    """Send the file; keep the new job, or say why the API refused it."""
    try:
        job = state.call("create_score_job", upload.name, upload.getvalue(), factors=factors)
    except SessionExpired:
        _signed_out()
    except Unavailable:
        widgets.missing(*_NO_MODEL)
        return
    except ApiError as exc:
        st.error(f"The file was not accepted: {exc.message}", icon=":material/error:")
        for issue in exc.detail[:10]:
            st.caption(f"{issue.get('field')}: expected {issue.get('expected')}; got {issue.get('received')}")
        return
    st.session_state[JOB] = job
    st.session_state.pop(FILES, None)


def _progress_text(job: dict[str, Any]) -> str:
    total = job.get("rows_total")
    read = f"{job['rows_read']:,} of {total:,} rows read" if total else f"{job['rows_read']:,} rows read"
    return f"{job['status'].capitalize()} · {read} · {job['issue_count']:,} issue(s) so far"


def _follow(job: dict[str, Any]) -> dict[str, Any]:
    """Poll the job until it is done or failed (or MAX_WAIT_SECONDS pass), moving the progress bar."""
    bar = st.progress(float(job["progress"]), text=_progress_text(job))
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    with state.guard("the score job"):
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            job = state.fresh("score_job", job["job_id"])  # a poll changes nothing: keep the cache
            st.session_state[JOB] = job
            bar.progress(float(job["progress"]), text=_progress_text(job))
    bar.empty()
    if job["status"] not in ("queued", "running"):
        state.forget()  # the job logged its scores: the overview and prediction log have changed
    return job


def _files(job: dict[str, Any]) -> dict[str, Any]:
    files: dict[str, Any] | None = st.session_state.get(FILES)
    if files is None or files["job_id"] != job["job_id"]:
        with state.guard("the job's results"):
            result = state.fresh("score_job_file", job["job_id"], "result")
            issues = state.fresh("score_job_file", job["job_id"], "issues")
        files = {"job_id": job["job_id"], "result": result, "issues": issues}
        st.session_state[FILES] = files
    return files


def _band_chart(job: dict[str, Any]) -> None:
    bands = job.get("risk_bands") or {}
    counts = [int(bands.get(band, 0)) for band in widgets.RISK_ORDER]
    fig = go.Figure(
        go.Bar(
            x=[band.capitalize() for band in widgets.RISK_ORDER],
            y=counts,
            marker_color=[widgets.RISK_COLORS[band] for band in widgets.RISK_ORDER],
            text=[f"{n:,}" for n in counts],
            hovertemplate="%{x} risk: %{y:,} rows<extra></extra>",
        )
    )
    fig.update_layout(
        title="Scored rows by risk band", height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        yaxis_title="Rows", xaxis_title=None,
    )  # fmt: skip
    st.plotly_chart(fig, width="stretch", key="batch_bands")


def _issues(job: dict[str, Any]) -> None:
    st.subheader("Rows with problems")
    if not job["issue_count"]:
        st.success("Every row passed the checks.", icon=":material/check_circle:")
        return
    st.caption(
        f"{job['rows_rejected']:,} row(s) were left out (severity error); rows with only a warning and every "
        "other row were scored."
        + (
            f" The first {len(job['issues'])} of {job['issue_count']:,} issues are shown; download them all below."
            if job["issue_count"] > len(job["issues"])
            else ""
        )
    )
    frame = pd.DataFrame(job["issues"], columns=list(_ISSUE_COLUMNS))
    st.dataframe(frame, column_config=_ISSUE_COLUMNS, hide_index=True, width="stretch", key="batch_issues")


def _preview(result: bytes) -> None:
    st.subheader("Scored rows")
    frame = pd.read_csv(io.BytesIO(result), nrows=PREVIEW_ROWS)
    config: dict[str, Any] = {"EmployeeNumber": st.column_config.NumberColumn("Employee", format="%d")}
    if "probability" in frame:
        frame["probability"] = (pd.to_numeric(frame["probability"], errors="coerce") * 100).round(1)
        config["probability"] = st.column_config.NumberColumn("Probability", format="%.1f%%")
    for name in frame.columns:
        config.setdefault(name, st.column_config.Column(name.replace("_", " ").capitalize()))
    st.caption(f"The first {len(frame):,} rows; download the file for all of them.")
    st.dataframe(frame, column_config=config, hide_index=True, width="stretch", key="batch_preview")


def _done(job: dict[str, Any]) -> None:
    seconds = job.get("rows_per_second")
    speed = f" at {seconds:,.0f} rows per second" if seconds else ""
    st.success(f"**{job['filename']}** is scored{speed}.", icon=":material/task_alt:")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Rows scored", f"{job['rows_scored']:,}", border=True)
    m2.metric("Rows rejected", f"{job['rows_rejected']:,}", border=True)
    m3.metric("High or critical risk", f"{job['high_risk']:,}", border=True)
    m4.metric("Model version", str(job.get("model_version") or "—"), border=True)
    _band_chart(job)
    _issues(job)
    files = _files(job)
    _preview(files["result"])
    stem = Path(job["filename"]).stem or "upload"
    for column, (which, label) in zip(st.columns(2), _DOWNLOADS, strict=True):
        column.download_button(
            label, files[which], file_name=f"{_PREFIX[which]}_{stem}.csv", mime="text/csv",
            icon=":material/download:", key=f"batch_download_{which}",
        )  # fmt: skip


def _show(job: dict[str, Any]) -> None:
    if job["status"] in ("queued", "running"):
        job = _follow(job)
    if job["status"] == "done":
        _done(job)
    elif job["status"] == "failed":
        st.error(
            f"Scoring **{job['filename']}** failed: {job.get('error') or 'no reason given'}. Upload the file again.",
            icon=":material/error:",
        )
    else:
        st.info(
            "The job is still running; this page checks it again when you reload it.",
            icon=":material/hourglass_top:",
        )
        st.button("Check again", key="batch_refresh")


state.require("predictor", "Batch scoring")
st.title("Batch scoring")
st.caption("Score a whole CSV of employees at once: upload it, follow the job, download each row's risk.")
try:
    model = state.read("model")
except Unavailable:
    widgets.missing(*_NO_MODEL)
    st.stop()
except SessionExpired:
    _signed_out()
except ApiError as exc:
    state.explain(exc, "batch scoring")
    st.stop()
with state.guard("the record template"):
    sample = state.read("sample_record")
st.caption(f"Scored by **{model['model_name']}** version **{model['model_version']}**, the model in service.")
_template(sample)

with st.container(border=True):
    upload = st.file_uploader("CSV of employees", type="csv", key="batch_file")
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    factors = c1.select_slider(
        "Reasons explained per row", options=list(range(6)), value=3, key="batch_factors"
    )
    start = c2.button(
        "Score this file", type="primary", icon=":material/play_arrow:", disabled=upload is None, key="batch_start"
    )  # fmt: skip
    if start and upload is not None:
        _start(upload, int(factors))

job: dict[str, Any] | None = st.session_state.get(JOB)
if job is None:
    st.caption("No file scored yet in this session.")
else:
    _show(job)
    if st.button("Clear this job", icon=":material/restart_alt:", key="batch_clear"):
        st.session_state.pop(JOB, None)
        st.session_state.pop(FILES, None)
        st.rerun()
