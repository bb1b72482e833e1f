"""Small display pieces every page shares: risk and severity badges, numbers, safe CSV downloads.

One place for the colours and wording, so a risk band or a drift severity looks
the same on every page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from attrition.data.csv_safety import neutralise_frame

RISK_ORDER = ("low", "medium", "high", "critical")
#: Plotly colours per risk band (colour-blind friendly: blue -> orange -> red -> dark red).
RISK_COLORS = {"low": "#4C78A8", "medium": "#F2B701", "high": "#E45756", "critical": "#8B0000"}
_RISK_BADGE = {"low": "blue", "medium": "yellow", "high": "orange", "critical": "red"}
_SEVERITY_BADGE = {"none": "green", "moderate": "yellow", "severe": "orange", "critical": "red"}
_SEVERITY_ICON = {
    "none": ":material/check_circle:",
    "moderate": ":material/info:",
    "severe": ":material/warning:",
    "critical": ":material/error:",
}


def risk_badge(band: str | None) -> None:
    if band is None:
        st.badge("not scored", color="gray")
    else:
        st.badge(f"{band} risk", color=_RISK_BADGE.get(band, "gray"))  # type: ignore[arg-type]


def severity_badge(severity: str | None, status: str = "ok") -> None:
    """A drift verdict: severity when the run concluded, else what happened to it."""
    if status != "ok" or severity is None:
        label = {"insufficient_data": "not enough data", "error": "check failed", "running": "running"}
        st.badge(label.get(status, status), color="gray", icon=":material/help:")
        return
    st.badge(
        f"drift: {severity}",
        color=_SEVERITY_BADGE.get(severity, "gray"),  # type: ignore[arg-type]
        icon=_SEVERITY_ICON.get(severity),
    )


def pct(value: float | None, digits: int = 1) -> str:
    """0.1234 -> '12.3%'; None -> '—' (not known, e.g. no outcomes recorded)."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def factor_text(factor: dict[str, Any]) -> str:
    """One reason as a person reads it: 'OverTime = Yes (raises risk)'."""
    return f"{factor.get('feature')} = {factor.get('value')} ({factor.get('direction', 'raises')} risk)"


def csv_download(
    frame: pd.DataFrame, filename: str, label: str = "Download CSV", key: str | None = None
) -> None:
    """A download button for ``frame`` as CSV, with formula-like cells neutralised for spreadsheets."""
    data = neutralise_frame(frame).to_csv(index=False).encode("utf-8")
    st.download_button(label, data, file_name=filename, mime="text/csv", icon=":material/download:", key=key)


def missing(message: str, fix: str | None = None) -> None:
    """Say what is missing and which command or button fixes it."""
    st.info(message + (f"\n\n**To fix:** {fix}" if fix else ""), icon=":material/inventory_2:")
