"""The HR analysts' UI: sign-in, then the pages the user's role may use.

Run with ``attrition serve ui``. Everything comes from the prediction API
(``ATTRITION_UI__API_URL``); nothing about employees is shown before sign-in.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run frontend/streamlit_app.py` puts frontend/ on the path, not the checkout.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from frontend import session as state  # noqa: E402

_HERE = Path(__file__).resolve().parent
# (file, title, icon, minimum role, section)
PAGES = (
    ("overview.py", "Workforce overview", ":material/groups:", "viewer", "Workforce"),
    ("employee.py", "Employee risk", ":material/person_search:", "viewer", "Workforce"),
    ("batch.py", "Batch scoring", ":material/upload_file:", "predictor", "Workforce"),
    ("predictions.py", "Prediction log", ":material/receipt_long:", "viewer", "Workforce"),
    ("model.py", "Model", ":material/model_training:", "viewer", "Model"),
    ("drift.py", "Drift", ":material/monitoring:", "viewer", "Model"),
    ("admin.py", "Admin", ":material/admin_panel_settings:", "admin", "Administration"),
)


def _page(file: str, title: str, icon: str, default: bool = False) -> st.Page:
    return st.Page(_HERE / "app_pages" / file, title=title, icon=icon, default=default)


def _sidebar(session: state.Session) -> None:
    with st.sidebar:
        st.markdown(f"Signed in as **{session.user}** · {session.role}")
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            state.sign_out("You are signed out.")
            st.rerun()


def main() -> None:
    st.set_page_config(page_title="Attrition risk", page_icon=":material/groups:", layout="wide")
    session = state.current()
    if session is None:
        page = st.navigation(
            [_page("sign_in.py", "Sign in", ":material/login:", default=True)], position="hidden"
        )
    else:
        sections: dict[str, list[st.Page]] = {}
        for i, (file, title, icon, role, section) in enumerate(PAGES):
            if state.allows(session.role, role):
                sections.setdefault(section, []).append(_page(file, title, icon, default=i == 0))
        page = st.navigation(sections)
        _sidebar(session)
    page.run()


main()
