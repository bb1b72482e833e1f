"""Sign in with a user name and password (accounts: ``attrition users create``)."""

from __future__ import annotations

import streamlit as st

from frontend import session as state
from frontend.client import ApiClient, ApiError, ApiUnreachable

st.title("Employee attrition risk")
st.caption("Sign in to see the workforce, employees' risk and the model behind it.")
note = state.take_flash()
if note:
    st.info(note, icon=":material/info:")

with st.form("sign_in", border=True, width=420):
    user = st.text_input("User name", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")

if submitted:
    settings = state.ui_settings()
    if not user or not password:
        st.error("Enter your user name and password.")
        st.stop()
    api = ApiClient(settings.api_url, timeout=settings.request_timeout_seconds)
    try:
        state.sign_in(api.sign_in(user.strip(), password, state.browser_address()))
    except ApiUnreachable:
        st.error(
            f"The prediction API at {settings.api_url} does not answer. Start it with `attrition serve api` "
            "(or `make demo`) and try again.",
            icon=":material/cloud_off:",
        )
        st.stop()
    except ApiError as exc:
        st.error(exc.message.capitalize() + ".", icon=":material/error:")
        st.stop()
    finally:
        api.close()
    st.rerun()
